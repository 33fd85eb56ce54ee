"""Weekly composites: ISO week labels, per-week median of clear obs, counts; numpy == dask."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from sarolangun_geo import composites


def cube(times, size=6, seed=0):
    rng = np.random.default_rng(seed)
    shape = (len(times), size, size)
    return xr.Dataset({b: (("time", "y", "x"), rng.uniform(0, 0.5, shape).astype("float32"))
                       for b in ("red", "nir")} | {"scl": (("time", "y", "x"), np.full(shape, 4, "uint8"))},
                      coords={"time": pd.DatetimeIndex(times), "y": np.arange(size), "x": np.arange(size)})


def test_iso_week__year_boundary():
    assert composites.iso_week(dt.date(2025, 1, 1)) == "2025-W01"
    assert composites.iso_week("2024-12-30") == "2025-W01"
    assert composites.iso_week(np.datetime64("2026-11-22")) == "2026-W47"


def test_week_bounds__monday_to_sunday():
    assert composites.week_bounds("2026-W47") == (dt.date(2026, 11, 16), dt.date(2026, 11, 22))


def test_weekly_composite__median_of_clear_only():
    times = ["2025-03-03", "2025-03-05", "2025-03-08", "2025-03-12"]  # W10 x3, W11 x1
    ds = cube(times)
    clear = xr.DataArray(np.ones((4, 6, 6), bool), dims=("time", "y", "x"), coords={"time": ds.time})
    clear[1] = False
    out = composites.weekly_composite(ds, clear)
    assert list(out.week.values) == ["2025-W10", "2025-W11"]
    expect = np.median(ds.red.values[[0, 2]], axis=0)
    np.testing.assert_allclose(out.red.sel(week="2025-W10").values, expect, rtol=1e-6)
    assert int(out.n_clear.sel(week="2025-W10")[0, 0]) == 2 and int(out.n_obs.sel(week="2025-W10")[0, 0]) == 3
    assert "scl" not in out and out.red.dtype == np.float32


def test_weekly_composite__no_clear_obs_gives_nan_and_zero_count():
    ds = cube(["2025-03-03"])
    clear = xr.zeros_like(ds.red, dtype=bool)
    out = composites.weekly_composite(ds, clear)
    assert bool(out.red.isnull().all()) and int(out.n_clear.max()) == 0


@pytest.mark.parametrize("reducer", ["mean", "min", "max"])
def test_weekly_composite__other_reducers(reducer):
    ds = cube(["2025-03-03", "2025-03-04"])
    clear = xr.ones_like(ds.red, dtype=bool)
    out = composites.weekly_composite(ds, clear, reducer=reducer)
    np.testing.assert_allclose(out.nir[0].values, getattr(np, reducer)(ds.nir.values, axis=0), rtol=1e-6)


def test_weekly_composite__empty_cube_raises():
    ds = cube(["2025-03-03"]).isel(time=slice(0, 0))
    with pytest.raises(ValueError, match="no time steps"):
        composites.weekly_composite(ds, xr.zeros_like(ds.red, dtype=bool))


def test_weekly_composite__dask_lazy_no_mutation():
    ds = cube(["2025-03-03", "2025-03-05", "2025-03-12"])
    clear = xr.DataArray(np.random.default_rng(1).random((3, 6, 6)) > 0.3, dims=("time", "y", "x"),
                         coords={"time": ds.time})
    before = ds.copy(deep=True)
    lazy = composites.weekly_composite(ds.chunk({"time": 1, "y": 3, "x": 3}), clear.chunk({"time": 1}))
    assert lazy.red.chunks is not None
    xr.testing.assert_allclose(lazy.compute(), composites.weekly_composite(ds, clear))
    xr.testing.assert_identical(ds, before)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 6))
def test_hypothesis__dask_equals_numpy(seed, n):
    rng = np.random.default_rng(seed)
    times = pd.Timestamp("2025-05-01") + pd.to_timedelta(np.sort(rng.choice(40, n, replace=False)), "D")
    ds = cube(times, seed=seed)
    clear = xr.DataArray(rng.random((n, 6, 6)) > 0.4, dims=("time", "y", "x"), coords={"time": ds.time})
    ref = composites.weekly_composite(ds, clear)
    lazy = composites.weekly_composite(ds.chunk({"time": 1, "y": 4, "x": 4}), clear.chunk({"time": 1}))
    xr.testing.assert_allclose(lazy.compute(), ref)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 4))
def test_weekly_composite__mean_is_bitwise_the_masked_nanmean(seed, n):
    """The in-memory mean (and the median of <= 2 looks) is exactly xarray's NaN-skipping mean of the clear looks."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2025-03-03", periods=n, freq="D")  # one ISO week
    ds = cube(times, seed=seed)
    ds["red"].values[rng.random(ds.red.shape) < 0.2] = np.nan  # nodata under a "clear" flag too
    ds["red"].values[rng.random(ds.red.shape) < 0.1] = -0.0
    clear = xr.DataArray(rng.random((n, 6, 6)) > 0.5, dims=("time", "y", "x"), coords={"time": ds.time})
    clear[:, 0, 0] = False  # a pixel with no clear look: NaN
    ref = composites.mask_clear(ds, clear).mean("time", skipna=True).astype("float32")
    for reducer in ("mean", "median") if n <= 2 else ("mean",):
        out = composites.weekly_composite(ds, clear, reducer=reducer).isel(week=0, drop=True)
        for b in ("red", "nir"):
            assert out[b].values.tobytes() == ref[b].values.tobytes()
        xr.testing.assert_identical(out[["red", "nir"]], ref)
