"""Baseline state: ring buffers, exact robust stats, seasons, idempotent incremental updates, tile I/O."""

from __future__ import annotations

import filecmp
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from odc.geo.xr import xr_zeros

from sarolangun_geo import baseline, grid
from sarolangun_geo.baseline import BaselineParams, stats
from sarolangun_geo.errors import BaselineError

BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
FOREST = (0.021, 0.045, 0.024, 0.300, 0.150, 0.063)
RIVER = (0.048, 0.075, 0.068, 0.038, 0.014, 0.009)
P = BaselineParams(buffer_size=8, min_obs=3, min_obs_season=3)


def history(n=12, size=10, start="2025-01-05", seed=0, row0=3000, col0=3000) -> xr.Dataset:
    """Forest with a 2-px river on columns 0-1 and noise, ``n`` acquisitions 10 days apart."""
    gb = grid.regency_geobox()[row0:row0 + size, col0:col0 + size]
    t = xr_zeros(gb, dtype="float32")
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=n, freq="10D")
    data = {}
    for b, f, r in zip(BANDS, FOREST, RIVER, strict=False):
        a = np.full((n, size, size), f, "float32")
        a[:, :, :2] = r
        data[b] = (("time", "y", "x"), a + rng.normal(0, 0.004, a.shape).astype("float32"))
    return xr.Dataset(data, coords={"time": times, "y": t.y, "x": t.x, "spatial_ref": t.spatial_ref})


def all_clear(ds):
    return xr.ones_like(ds.red, dtype=bool)


def test_season_of__dry_months():
    assert list(baseline.season_of(pd.to_datetime(["2025-01-10", "2025-07-10"]), P)) == [0, 1]


def test_empty_state__shape_and_attrs():
    st0 = baseline.empty_state(history(n=1), P)
    assert st0["buf_ndvi"].shape == (2, 8, 10, 10) and st0["buf_ndvi"].dtype == np.int16
    assert baseline.state_acquisitions(st0) == [] and int(st0["count"].sum()) == 0


def test_update_state__counts_and_records_acquisitions():
    ds = history(n=5)
    st1 = baseline.update_state(baseline.empty_state(ds, P), ds, all_clear(ds), P)
    assert int(st1["count"].sel(season=0)[0, 0]) == 5
    assert baseline.state_acquisitions(st1) == [str(d.date()) for d in pd.DatetimeIndex(ds.time.values)]


def test_update_state__idempotent_rerun():
    ds = history(n=5)
    st1 = baseline.update_state(baseline.empty_state(ds, P), ds, all_clear(ds), P)
    st2 = baseline.update_state(st1, ds, all_clear(ds), P)
    xr.testing.assert_identical(st1, st2)


def test_update_state__incremental_equals_batch():
    ds = history(n=11)
    clear = xr.DataArray(np.random.default_rng(3).random(ds.red.shape) > 0.3, dims=ds.red.dims,
                         coords=ds.red.coords)
    batch = baseline.update_state(baseline.empty_state(ds, P), ds, clear, P)
    inc = baseline.empty_state(ds, P)
    for sl in (slice(0, 4), slice(4, 7), slice(7, 11)):
        inc = baseline.update_state(inc, ds.isel(time=sl), clear.isel(time=sl), P)
    xr.testing.assert_identical(batch, inc)


def test_update_state__ring_buffer_keeps_last_n():
    ds = history(n=12)
    ds["nir"] = ds.nir + xr.DataArray(np.arange(12, dtype="float32") * 0.01, dims="time")
    st1 = baseline.update_state(baseline.empty_state(ds, P), ds, all_clear(ds), P)
    kept = np.sort(st1["buf_nir"].sel(season=0)[:, 5, 5].values * 1e-4)
    np.testing.assert_allclose(kept, np.sort(ds.nir[4:, 5, 5].values), atol=2e-3)


def test_update_state__cloudy_and_excluded_not_folded():
    ds = history(n=4)
    clear = all_clear(ds).copy()
    clear[:, 0, 0] = False
    exclude = xr.zeros_like(ds.red[0], dtype=bool).drop_vars("time")
    exclude[1, 1] = True
    st1 = baseline.update_state(baseline.empty_state(ds, P), ds, clear, P, exclude=exclude)
    assert int(st1["count"].sum("season")[0, 0]) == 0 and int(st1["count"].sum("season")[1, 1]) == 0
    assert int(st1["count"].sum("season")[2, 2]) == 4


def test_update_state__wrong_buffer_size_raises():
    ds = history(n=2)
    st0 = baseline.empty_state(ds, P)
    with pytest.raises(BaselineError, match="buffer_size"):
        baseline.update_state(st0, ds, all_clear(ds), BaselineParams(buffer_size=4))


def test_baseline_stats__exact_median_mad_and_flags():
    ds = history(n=8)
    st1 = baseline.update_state(baseline.empty_state(ds, P), ds, all_clear(ds), P)
    s = baseline.baseline_stats(st1, P)
    ndvi = (np.rint(((ds.nir - ds.red) / (ds.nir + ds.red)).values / 1e-4) * 1e-4).astype("float32")
    np.testing.assert_allclose(s.ndvi_median.values, np.median(ndvi, axis=0), atol=1e-6)
    mad = np.median(np.abs(ndvi - np.median(ndvi, axis=0)), axis=0) * 1.4826
    np.testing.assert_allclose(s.ndvi_mad.values, np.maximum(mad, P.mad_floor), atol=1e-6)
    mndwi = (np.rint(((ds.green - ds.swir16) / (ds.green + ds.swir16)).values / 1e-4) * 1e-4).astype("float32")
    np.testing.assert_allclose(s.mndwi_p90.values, np.quantile(mndwi, 0.9, axis=0), atol=1e-5)
    assert bool(s.permanent_water[:, :2].all()) and not bool(s.permanent_water[:, 2:].any())
    assert bool(s.vegetated[:, 2:].all()) and not bool(s.vegetated[:, :2].any())


def test_baseline_stats__season_specific_when_enough_else_pooled():
    wet = history(n=4, start="2025-01-05")
    dry = history(n=4, start="2025-07-01")
    dry["nir"] = dry.nir * 0.5  # a dry-season NDVI dip (rubber wintering)
    both = xr.concat([wet, dry], "time")
    st1 = baseline.update_state(baseline.empty_state(both, P), both, all_clear(both), P)
    s_wet = baseline.baseline_stats(st1, P, when="2026-02-01")
    s_dry = baseline.baseline_stats(st1, P, when="2026-08-01")
    assert float(s_dry.ndvi_median[5, 5]) < float(s_wet.ndvi_median[5, 5]) - 0.05
    few = baseline.update_state(baseline.empty_state(wet, P), wet, all_clear(wet), P)
    pooled = baseline.baseline_stats(few, P)
    xr.testing.assert_allclose(baseline.baseline_stats(few, P, when="2026-08-01").ndvi_median, pooled.ndvi_median)


def test_baseline_stats__no_obs_gives_nan_and_flags_false():
    s = baseline.baseline_stats(baseline.empty_state(history(n=1), P), P)
    assert bool(s.ndvi_median.isnull().all()) and not bool(s.vegetated.any())


def test_baseline__dask_lazy_equals_numpy():
    ds = history(n=6)
    ref_state = baseline.update_state(baseline.empty_state(ds, P), ds, all_clear(ds), P)
    lazy_state = baseline.update_state(baseline.empty_state(ds, P).chunk({"y": 5, "x": 5}),
                                       ds.chunk({"time": 1, "y": 5, "x": 5}), all_clear(ds).chunk({"y": 5}), P)
    assert lazy_state["buf_ndvi"].chunks is not None
    xr.testing.assert_identical(lazy_state.compute(), ref_state)
    lazy_stats = baseline.baseline_stats(lazy_state, P, when="2025-02-01")
    assert lazy_stats.ndvi_median.chunks is not None
    xr.testing.assert_allclose(lazy_stats.compute(), baseline.baseline_stats(ref_state, P, when="2025-02-01"))


def test_write_read_state__roundtrip_per_tile(tmp_path):
    # straddles tiles x02y02 / x03y02: written as two stores, read back as one
    ds = history(n=3, size=10, row0=2495, col0=2995)
    st1 = baseline.update_state(baseline.empty_state(ds, P), ds, all_clear(ds), P)
    paths = baseline.write_state(st1, tmp_path)
    assert sorted(p.name for p in paths) == ["x02y02.zarr", "x03y02.zarr"]
    back = baseline.read_state(tmp_path, st1.odc.geobox)
    xr.testing.assert_identical(back.drop_vars("spatial_ref"), st1.drop_vars("spatial_ref"))
    assert json.loads(back.attrs["acquisitions"]) == baseline.state_acquisitions(st1)
    baseline.write_state(st1, tmp_path)  # overwrite in place
    assert baseline.read_state(tmp_path, st1.odc.geobox) is not None


def test_write_state__a_write_killed_between_its_renames_loses_nothing(tmp_path):
    # a kill after the old store was moved aside and before the new one was moved in leaves no
    # store but a complete ``.old`` one (and maybe a ``.tmp``): the next write puts it back first
    ds = history(n=3, size=10, row0=2495, col0=2995)
    st1 = baseline.update_state(baseline.empty_state(ds, P), ds, all_clear(ds), P)
    stores = baseline.write_state(st1, tmp_path)
    for dest in stores:
        dest.rename(dest.with_name(f".{dest.name}.dead.old"))
        (dest.parent / f".{dest.name}.dead.tmp").mkdir()
    assert baseline.read_state(tmp_path, st1.odc.geobox) is None
    for dest in stores:
        baseline.store._recover_killed_write(dest)
    back = baseline.read_state(tmp_path, st1.odc.geobox)
    xr.testing.assert_identical(back.drop_vars("spatial_ref"), st1.drop_vars("spatial_ref"))
    assert sorted(p.name for p in (tmp_path / "baseline").iterdir()) == ["x02y02.zarr", "x03y02.zarr"]


def test_read_state__missing_returns_none_and_other_extent_raises(tmp_path):
    ds = history(n=2)
    assert baseline.read_state(tmp_path, ds.odc.geobox) is None
    baseline.write_state(baseline.empty_state(ds, P), tmp_path)
    other = grid.regency_geobox()[3000:3020, 3000:3020]
    with pytest.raises(BaselineError, match="another extent"):
        baseline.read_state(tmp_path, other)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 1000), n=st.integers(1, 12))
def test_hypothesis__stats_dask_equals_numpy(seed, n):
    ds = history(n=n, seed=seed)
    clear = xr.DataArray(np.random.default_rng(seed).random(ds.red.shape) > 0.3, dims=ds.red.dims,
                         coords=ds.red.coords)
    st1 = baseline.update_state(baseline.empty_state(ds, P), ds, clear, P)
    ref = baseline.baseline_stats(st1, P, when="2025-03-01")
    lazy = baseline.baseline_stats(st1.chunk({"y": 4, "x": 3}), P, when="2025-03-01").compute()
    xr.testing.assert_allclose(lazy, ref)


@pytest.mark.parametrize("m", [1, 2, 3, 5, 8, 13, 16, 17, 32])
def test_sorted_stats__network_sort_matches_nanquantile_and_leaves_input(m):
    rng = np.random.default_rng(m)
    a = rng.integers(-9000, 9000, (40, 30, m)).astype("int16")
    a[rng.random(a.shape) < 0.35] = baseline.BUF_NODATA
    before = a.copy()
    res = baseline.stats._sorted_stats(a, (0.9,), with_mad=True)
    assert np.array_equal(a, before)  # the kernel sorts a copy, never the caller's ring buffer
    vals = np.where(a == baseline.BUF_NODATA, np.nan, a.astype("float64") * 1e-4)
    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(vals, axis=-1)
        mad = np.nanmedian(np.abs(vals - med[..., None]), axis=-1)
        p90 = np.nanquantile(vals, 0.9, axis=-1)
    np.testing.assert_allclose(res[..., 0], med, atol=2e-5)
    np.testing.assert_allclose(res[..., 1], mad, atol=2e-5)
    np.testing.assert_allclose(res[..., 2], p90, atol=2e-5)


def test_update_state__numpy_fold_equals_lazy_path_with_exclude():
    ds = history(n=9, seed=3)
    rng = np.random.default_rng(3)
    clear = xr.DataArray(rng.random(ds.red.shape) > 0.4, dims=ds.red.dims, coords=ds.red.coords)
    exclude = xr.DataArray(rng.random(ds.red.shape[1:]) > 0.8, dims=("y", "x"),
                           coords={"y": ds.y, "x": ds.x})
    ref = baseline.update_state(baseline.empty_state(ds, P), ds, clear, P, exclude=exclude)
    lazy = baseline.update_state(baseline.empty_state(ds, P), ds.chunk({"y": 5}), clear.chunk({"y": 5}), P,
                                 exclude=exclude.chunk({"y": 5}))
    assert lazy["buf_ndvi"].chunks is not None and ref["buf_ndvi"].chunks is None
    xr.testing.assert_identical(lazy.compute(), ref)


def test_state_reference_bands__equal_to_reference_from_stats():
    ds = history(n=7)
    st1 = baseline.update_state(baseline.empty_state(ds, P), ds, all_clear(ds), P)
    for when in (None, "2025-02-01"):
        xr.testing.assert_identical(baseline.state_reference_bands(st1, P, when),
                                    baseline.reference_bands(baseline.baseline_stats(st1, P, when)))


def test_write_state__links_unchanged_season_and_months_from_previous(tmp_path):
    wet = history(n=4, start="2025-01-05")
    st1 = baseline.update_state(baseline.empty_state(wet, P), wet, all_clear(wet), P)
    baseline.write_state(st1, tmp_path, "baseline/w1")
    dry = history(n=1, start="2025-07-02", seed=5)
    st2 = baseline.update_state(st1, dry, all_clear(dry), P)
    (path,) = baseline.write_state(st2, tmp_path, "baseline/w2", link_from="baseline/w1")
    back = baseline.read_state(tmp_path / "baseline", st2.odc.geobox, "w2")
    xr.testing.assert_identical(back.drop_vars("spatial_ref"), st2.drop_vars("spatial_ref"))
    wet_chunk = path / "buf_ndvi" / "c" / "0" / "0" / "0" / "0"
    dry_chunk = path / "buf_ndvi" / "c" / "1" / "0" / "0" / "0"
    jan, jul = path / "month_obs" / "c" / "0" / "0" / "0", path / "month_obs" / "c" / "6" / "0" / "0"
    assert wet_chunk.stat().st_nlink == 2 and jan.stat().st_nlink == 2  # shared with w1
    assert dry_chunk.stat().st_nlink == 1 and jul.stat().st_nlink == 1  # written anew
    # a previous store that folded something else is never linked from
    other = baseline.update_state(baseline.empty_state(dry, P), dry, all_clear(dry), P)
    (p3,) = baseline.write_state(st2, tmp_path, "baseline/w3", link_from="baseline/none")
    (p4,) = baseline.write_state(other, tmp_path, "baseline/w4", link_from="baseline/w2")
    assert (p3 / "buf_ndvi" / "c" / "0" / "0" / "0" / "0").stat().st_nlink == 1
    assert (p4 / "buf_ndvi" / "c" / "0" / "0" / "0" / "0").stat().st_nlink == 1
    xr.testing.assert_identical(baseline.read_state(tmp_path / "baseline", st2.odc.geobox, "w4")
                                .drop_vars("spatial_ref"), other.drop_vars("spatial_ref"))


def test_update_state__in_place_fold_equals_copying_fold():
    ds = history(n=6, seed=9)
    ref = baseline.update_state(baseline.empty_state(ds, P), ds, all_clear(ds), P)
    st0 = baseline.empty_state(ds, P)
    before = st0["buf_ndvi"].values.copy()
    kept = baseline.update_state(baseline.empty_state(ds, P), ds, all_clear(ds), P)
    assert np.array_equal(st0["buf_ndvi"].values, before)  # copy=True (default) leaves its input alone
    inplace = baseline.update_state(st0, ds, all_clear(ds), P, copy=False)
    xr.testing.assert_identical(inplace, ref)
    xr.testing.assert_identical(kept, ref)


def test_reference_bands__blank_where_cover_changed():
    ds = history(n=6)
    s = baseline.baseline_stats(baseline.update_state(baseline.empty_state(ds, P), ds, all_clear(ds), P), P)
    changed = xr.zeros_like(s.ndvi_median, dtype=bool)
    changed[3, 4] = True
    ref = baseline.reference_bands(s, changed)
    assert bool(ref.nir.isnull()[3, 4]) and int(ref.nir.isnull().sum()) == 1
    xr.testing.assert_identical(baseline.reference_bands(s).nir.where(~changed), ref.nir)


@pytest.mark.parametrize("when", ["2025-03-01", "2025-08-01"])
def test_refresh_stats__recomputing_folded_pixels_equals_full_stats(when):
    # a history with both seasons, some pixels short of min_obs_season (the pooled path)
    hist = xr.concat([history(n=5, start="2025-01-05", seed=1), history(n=2, start="2025-07-01", seed=2)], "time")
    st0 = baseline.update_state(baseline.empty_state(hist, P), hist, all_clear(hist), P)
    old = baseline.baseline_stats(st0, P, when=when)
    week = history(n=2, start="2025-03-10" if when.startswith("2025-03") else "2025-08-04", seed=3)
    clear = all_clear(week).copy()
    clear[:, :6, :] = False  # a cloud over the top rows: only the bottom rows get looks
    clear[1, 8, 8] = True
    before = st0["count"].sum("season").values.copy()
    st1 = baseline.update_state(st0, week, clear, P, copy=False)
    touched = baseline.folded_pixels(before, st1)
    assert touched[6:].all() and not touched[:6].any() and touched.sum() == 40  # [8, 8] already in the bottom
    fresh = baseline.refresh_stats(old, st1, P, when, touched)
    xr.testing.assert_identical(fresh, baseline.baseline_stats(st1, P, when=when))
    assert not fresh.ndvi_median.equals(old.ndvi_median)  # the folded pixels did change
    xr.testing.assert_identical(fresh.isel(y=slice(0, 6)), old.isel(y=slice(0, 6)))


def test_refresh_stats__nothing_changed_is_a_copy_and_bad_mask_raises():
    ds = history(n=6)
    st1 = baseline.update_state(baseline.empty_state(ds, P), ds, all_clear(ds), P)
    s = baseline.baseline_stats(st1, P)
    same = baseline.refresh_stats(s, st1, P, None, np.zeros((10, 10), bool))
    xr.testing.assert_identical(same, s)
    assert same.ndvi_median.values is not s.ndvi_median.values
    with pytest.raises(ValueError, match="shape"):
        baseline.refresh_stats(s, st1, P, None, np.zeros((3, 3), bool))



def _two_seasons(tmp_path):
    hist = xr.concat([history(n=5, start="2025-01-05", seed=1), history(n=2, start="2025-07-01", seed=2)], "time")
    st0 = baseline.update_state(baseline.empty_state(hist, P), hist, all_clear(hist), P)
    baseline.write_state(st0, tmp_path, "baseline/w1")
    return st0


def _chunk(store, var, i):
    return store / var / "c" / str(i) / "0" / "0" / ("0" if var.startswith("buf_") else "")


def test_update_state__lazily_read_state_reads_and_rewrites_only_the_weeks_season(tmp_path):
    st0 = _two_seasons(tmp_path)
    week = history(n=2, start="2025-03-10", seed=3)  # wet season
    clear = all_clear(week).copy()
    clear[:, :6, :] = False
    ref = baseline.update_state(st0, week, clear, P)
    lazy = baseline.read_state(tmp_path, st0.odc.geobox, "baseline/w1", load=False)
    before = lazy["count"].sum("season").values
    st1 = baseline.update_state(lazy, week, clear, P, copy=False)
    assert st1["buf_ndvi"].chunks is not None  # the dry season stays on disk until needed
    xr.testing.assert_identical(st1.compute().drop_vars("spatial_ref"), ref.drop_vars("spatial_ref"))
    (path,) = baseline.write_state(st1, tmp_path, "baseline/w2", link_from="baseline/w1")
    assert _chunk(path, "buf_ndvi", 1).stat().st_nlink == 2 and _chunk(path, "buf_ndvi", 0).stat().st_nlink == 1
    back = baseline.read_state(tmp_path, st0.odc.geobox, "baseline/w2")
    xr.testing.assert_identical(back.drop_vars("spatial_ref"), ref.drop_vars("spatial_ref"))
    # the statistics refreshed from the lazy state equal those of the full state (for the dry
    # season, with too few dry looks, from both seasons pooled)
    touched = baseline.folded_pixels(before, st1)
    for when in ("2025-03-20", "2025-08-20"):
        old = baseline.baseline_stats(st0, P, when=when)
        fresh = baseline.refresh_stats(old, st1, P, when, touched)
        xr.testing.assert_identical(fresh, baseline.baseline_stats(ref, P, when=when))


def test_write_state__same_vars_are_linked_with_the_bytes_of_a_write(tmp_path):
    st0 = _two_seasons(tmp_path)
    stats = baseline.baseline_stats(st0, P, when="2025-03-20").compute()
    baseline.write_state(stats, tmp_path, "stats/w1")
    week = xr.Dataset({"red": stats["ndvi_median"] * 0 + np.float32(0.03)}).assign(
        {k: stats[k] for k in ("ndvi_median", "water_freq", "permanent_water")})
    names = ("ndvi_median", "water_freq", "permanent_water")
    (linked,) = baseline.write_state(week, tmp_path, "weekly/a", same_as="stats/w1", same_vars=names)
    (written,) = baseline.write_state(week, tmp_path, "weekly/b")
    assert (linked / "ndvi_median" / "zarr.json").stat().st_nlink == 2
    assert (linked / "red" / "zarr.json").stat().st_nlink == 1
    cmp = filecmp.dircmp(linked, written)
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only
    for sub in names:
        sc = filecmp.dircmp(linked / sub, written / sub)
        assert not sc.diff_files and not sc.left_only and not sc.right_only
    # a snapshot without them: written
    (alone,) = baseline.write_state(week, tmp_path, "weekly/c", same_as="stats/none", same_vars=names)
    assert (alone / "ndvi_median" / "zarr.json").stat().st_nlink == 1
    xr.testing.assert_identical(baseline.read_state(tmp_path, st0.odc.geobox, "weekly/a"),
                                baseline.read_state(tmp_path, st0.odc.geobox, "weekly/b"))


def _patchy_state():
    """Both seasons, some pixels short of ``min_obs_season``, one never clear, NaN nir looks."""
    hist = xr.concat([history(n=9, start="2025-01-05", seed=4), history(n=3, start="2025-07-01", seed=5)], "time")
    hist["nir"] = hist.nir.where(~((hist.y == hist.y[2]) & (hist.x == hist.x[5])))  # folded as empty nir slots
    clear = xr.DataArray(np.random.default_rng(6).random(hist.red.shape) > 0.35, dims=hist.red.dims,
                         coords=hist.red.coords)
    clear[:, 0, 0] = False  # empty ring buffers: NaN statistics
    return baseline.update_state(baseline.empty_state(hist, P), hist, clear, P)


@pytest.mark.parametrize("when", [None, "2025-03-20", "2025-08-20"])
@pytest.mark.parametrize("backend", ["numpy", "dask", "store", "transposed"])
def test_stats_by_season__equals_baseline_stats(tmp_path, when, backend):
    st1 = _patchy_state()
    ref = baseline.baseline_stats(st1, P, when=when).compute()
    assert bool(ref.ndvi_median.isnull()[0, 0]) and not bool(ref.ndvi_median.isnull()[1, 1])
    if backend == "dask":
        st1 = st1.chunk({"y": 4, "x": 3})
    elif backend == "store":  # lazily read, as a weekly run reads its baseline
        baseline.write_state(st1, tmp_path, "baseline/w1")
        st1 = baseline.read_state(tmp_path, st1.odc.geobox, "baseline/w1", load=False)
    elif backend == "transposed":
        st1 = st1.transpose("y", "slot", "x", "month", "season")
    out = baseline.stats_by_season(st1, P, when=when)
    assert all(v.chunks is None for v in out.data_vars.values())
    if backend == "store":
        ref = ref.drop_vars("spatial_ref")
        out = out.drop_vars("spatial_ref")
    xr.testing.assert_identical(out, ref)


def test_stats_by_season__empty_state_and_gathered_pixels():
    empty = baseline.empty_state(history(n=1), P)
    xr.testing.assert_identical(baseline.stats_by_season(empty, P, "2025-03-20"),
                                baseline.baseline_stats(empty, P, "2025-03-20"))
    # no (y, x) dims: the pixels refresh_stats gathers
    st1 = _patchy_state()
    sub = {str(k): stats._pixels(v, np.arange(0, 100, 7)) for k, v in st1.data_vars.items()}
    sub_state = xr.Dataset(sub, attrs=st1.attrs)
    xr.testing.assert_identical(baseline.stats_by_season(sub_state, P, "2025-08-20"),
                                baseline.baseline_stats(sub_state, P, "2025-08-20"))


def test_stats_by_season__reads_the_other_season_only_where_needed(monkeypatch):
    mature = history(n=8, start="2025-01-05", seed=7)  # every pixel has 8 wet looks, none dry
    st1 = baseline.update_state(baseline.empty_state(mature, P), mature, all_clear(mature), P)
    reads = []
    real = stats._index_values
    monkeypatch.setattr(stats, "_index_values", lambda var, i: reads.append((var.name, i)) or real(var, i))
    out = baseline.stats_by_season(st1, P, when="2025-03-20")
    xr.testing.assert_identical(out, baseline.baseline_stats(st1, P, when="2025-03-20"))
    # the dry season only for the pooled mndwi p90 and the water / vegetation frequencies
    assert sorted(v for v, i in reads if i == 1) == ["buf_mndwi", "buf_ndvi"]
    assert len(reads) == len(set(reads)) == len(baseline.BASELINE_VARS) + 2  # each chunk read once


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 1000), n=st.integers(1, 14), month=st.integers(1, 12))
def test_hypothesis__stats_by_season_equals_baseline_stats(seed, n, month):
    ds = history(n=n, seed=seed, start=f"2025-{month:02d}-03")
    clear = xr.DataArray(np.random.default_rng(seed).random(ds.red.shape) > 0.4, dims=ds.red.dims,
                         coords=ds.red.coords)
    st1 = baseline.update_state(baseline.empty_state(ds, P), ds, clear, P)
    when = f"2025-{(month + seed) % 12 + 1:02d}-15"
    ref = baseline.baseline_stats(st1, P, when=when).compute()
    xr.testing.assert_identical(baseline.stats_by_season(st1, P, when=when), ref)
    xr.testing.assert_identical(baseline.stats_by_season(st1.chunk({"y": 3}), P, when=when), ref)


@pytest.mark.parametrize("m", [3, 16, 32])
def test_sorted_stats__slots_empty_in_a_whole_block_are_skipped_bit_identically(m):
    rng = np.random.default_rng(m)
    a = np.full((1200, m), baseline.BUF_NODATA, "int16")
    n = rng.integers(0, 3, 1200)  # a young ring buffer: slots fill from 0, the rest are empty in every pixel
    for k in range(2):
        a[n > k, k] = rng.integers(-9000, 9000, int((n > k).sum()))
    witness = rng.integers(-9000, 9000, (1, m)).astype("int16")  # every slot filled: nothing is skipped
    trimmed = baseline.stats._sorted_stats(a, (0.9,), with_mad=True)
    full = baseline.stats._sorted_stats(np.concatenate([a, witness]), (0.9,), with_mad=True)[:-1]
    assert np.array_equal(trimmed, full, equal_nan=True)
    empty = baseline.stats._sorted_stats(np.full((5, m), baseline.BUF_NODATA, "int16"), (0.9,), with_mad=True)
    assert np.isnan(empty).all()


@pytest.mark.parametrize("when", ["2025-03-20", "2025-08-20"])
def test_stats_by_season__young_baseline_sorts_only_the_pooled_buffers(monkeypatch, when):
    young = history(n=2, start="2025-01-05", seed=3)  # every pixel lacks min_obs_season looks: pooled statistics
    st1 = baseline.update_state(baseline.empty_state(young, P), young, all_clear(young), P)
    parts = []
    real = stats._column_stats
    monkeypatch.setattr(stats, "_column_stats", lambda p, *a, **k: parts.append(len(p)) or real(p, *a, **k))
    out = baseline.stats_by_season(st1, P, when=when)
    xr.testing.assert_identical(out, baseline.baseline_stats(st1, P, when=when).compute())
    assert parts and set(parts) == {2}  # no season-only sort whose result would be replaced
