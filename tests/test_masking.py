"""Clear-sky masking: SCL + buffer, bright-ground rescue, missed cloud, haze, unflagged shadow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from odc.geo.xr import xr_zeros

from sarolangun_geo import grid, masking
from sarolangun_geo.bands import SCL
from sarolangun_geo.masking import MaskParams

BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
# Typical humid-tropical L2A reflectances (blue, green, red, nir, swir16, swir22).
FOREST = (0.021, 0.045, 0.024, 0.300, 0.150, 0.063)
TAILINGS = (0.20, 0.24, 0.28, 0.32, 0.39, 0.32)
CLOUD = (0.50, 0.50, 0.51, 0.55, 0.40, 0.28)
POND = (0.060, 0.105, 0.125, 0.075, 0.028, 0.018)
HAZE = (0.095, 0.080, 0.050, 0.300, 0.150, 0.063)  # forest + blue-heavy haze path
SHADOW = (0.008, 0.015, 0.009, 0.090, 0.045, 0.020)  # forest in cloud shadow
P = MaskParams()


def scene(n_time: int = 2, size: int = 40, chunks: dict | None = None) -> xr.Dataset:
    """Forest everywhere, SCL vegetation; on the canonical grid."""
    gb = grid.regency_geobox()[3000:3000 + size, 3000:3000 + size]
    tmpl = xr_zeros(gb, dtype="float32")
    times = pd.date_range("2025-03-03", periods=n_time, freq="5D")
    coords = {"time": times, "y": tmpl.y, "x": tmpl.x, "spatial_ref": tmpl.spatial_ref}
    data = {b: (("time", "y", "x"), np.full((n_time, size, size), v, "float32")) for b, v in zip(BANDS, FOREST, strict=False)}
    data["scl"] = (("time", "y", "x"), np.full((n_time, size, size), SCL.VEGETATION, "uint8"))
    ds = xr.Dataset(data, coords=coords)
    return ds.chunk(chunks) if chunks else ds


def paint(ds: xr.Dataset, t: int, ys: slice, xs: slice, spectrum, scl: int | None = None) -> xr.Dataset:
    ds = ds.copy(deep=True)
    for b, v in zip(BANDS, spectrum, strict=False):
        ds[b][t, ys, xs] = v
    if scl is not None:
        ds["scl"][t, ys, xs] = scl
    return ds


def test_clear_mask__all_clear_forest():
    clear = masking.clear_mask(scene(), P)
    assert clear.dtype == bool and bool(clear.all())


def test_clear_mask__scl_cloud_buffered():
    ds = paint(scene(), 0, slice(18, 22), slice(18, 22), CLOUD, SCL.CLOUD_HIGH)
    clear = masking.clear_mask(ds, P).values
    assert not clear[0, 18:22, 18:22].any()
    assert not clear[0, 20, 22 + P.buffer_px - 1]  # inside the buffer
    assert clear[0, 20, 22 + P.buffer_px + 2]  # beyond it
    assert clear[1].all()  # other acquisition untouched


def test_clear_mask__nodata_and_nan_rejected():
    ds = scene()
    ds["scl"][0, 0, 0] = SCL.NO_DATA
    ds["red"][1, 5, 5] = np.nan
    clear = masking.clear_mask(ds, P).values
    assert not clear[0, 0, 0] and not clear[1, 5, 5]


def test_clear_mask__bright_tailings_flagged_cloud_are_rescued():
    ds = paint(scene(), 0, slice(10, 20), slice(10, 20), TAILINGS, SCL.CLOUD_MEDIUM)
    clear = masking.clear_mask(ds, P).values
    assert clear[0, 10:20, 10:20].all()


def test_clear_mask__rescue_can_be_disabled():
    ds = paint(scene(), 0, slice(10, 20), slice(10, 20), TAILINGS, SCL.CLOUD_MEDIUM)
    p = MaskParams(rescue_bright_ground=False)
    assert not masking.clear_mask(ds, p).values[0, 10:20, 10:20].any()


def test_clear_mask__real_cloud_is_not_rescued():
    ds = paint(scene(), 0, slice(10, 20), slice(10, 20), CLOUD, SCL.CLOUD_MEDIUM)
    assert not masking.clear_mask(ds, P).values[0, 10:20, 10:20].any()


def test_clear_mask__cloud_missed_by_scl_is_caught():
    ds = paint(scene(), 0, slice(10, 14), slice(10, 14), CLOUD, SCL.VEGETATION)
    clear = masking.clear_mask(ds, P).values
    assert not clear[0, 10:14, 10:14].any()
    assert not clear[0, 12, 14 + P.buffer_px - 1]  # buffered like SCL cloud


def test_clear_mask__haze_caught_tailings_are_not_haze():
    ds = paint(scene(), 0, slice(0, 10), slice(0, 10), HAZE)
    ds = paint(ds, 0, slice(25, 35), slice(25, 35), TAILINGS, SCL.NOT_VEGETATED)
    clear = masking.clear_mask(ds, P).values
    assert not clear[0, 0:10, 0:10].any()
    assert clear[0, 25:35, 25:35].all()


def test_clear_mask__unflagged_shadow_needs_reference():
    ds = paint(scene(), 0, slice(5, 15), slice(5, 15), SHADOW)
    assert masking.clear_mask(ds, P).values[0, 5:15, 5:15].all()  # no reference: not detectable
    ref = xr.Dataset({"nir": ds.nir[1], "swir16": ds.swir16[1]}).drop_vars("time")
    clear = masking.clear_mask(ds, P, reference=ref).values
    assert not clear[0, 5:15, 5:15].any()


def test_clear_mask__new_pond_is_not_taken_for_shadow():
    ds = paint(scene(), 0, slice(5, 15), slice(5, 15), POND)
    ref = xr.Dataset({"nir": ds.nir[1], "swir16": ds.swir16[1]}).drop_vars("time")
    assert masking.clear_mask(ds, P, reference=ref).values[0, 6:14, 6:14].all()


def test_clear_mask__turbid_pond_flagged_shadow_is_kept():
    ds = paint(scene(), 0, slice(5, 15), slice(5, 15), POND, SCL.CLOUD_SHADOW)
    assert masking.clear_mask(ds, P).values[0, 5:15, 5:15].all()


def test_clear_mask__dask_lazy_and_equal():
    ds = paint(scene(), 0, slice(18, 22), slice(18, 22), CLOUD, SCL.CLOUD_HIGH)
    ref = masking.clear_mask(ds, P)
    lazy = masking.clear_mask(ds.chunk({"time": 1, "y": 16, "x": 16}), P)
    assert lazy.chunks is not None
    np.testing.assert_array_equal(lazy.values, ref.values)


def test_clear_mask__does_not_mutate():
    ds = paint(scene(), 0, slice(18, 22), slice(18, 22), CLOUD, SCL.CLOUD_HIGH)
    before = ds.copy(deep=True)
    masking.clear_mask(ds, P)
    xr.testing.assert_identical(ds, before)


def test_clear_count__counts_clear_obs():
    ds = paint(scene(n_time=3), 0, slice(0, 40), slice(0, 20), CLOUD, SCL.CLOUD_HIGH)
    n = masking.clear_count(masking.clear_mask(ds, P))
    assert n.dtype == np.uint16 and int(n[0, 0]) == 2 and int(n[0, 39]) == 3


def test_dilate__radius_zero_is_identity():
    m = xr.DataArray(np.eye(5, dtype=bool), dims=("y", "x"))
    xr.testing.assert_equal(masking.dilate(m, 0), m)


def test_focal_mean__fraction_and_nan_skipped():
    a = xr.DataArray(np.array([[1.0, np.nan, 0.0]] * 3), dims=("y", "x"))
    out = masking.focal_mean(a, 1)
    assert float(out[1, 1]) == pytest.approx(0.5)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), radius=st.integers(0, 3), chunk=st.integers(3, 9))
def test_hypothesis__dilate_and_focal_mean_dask_equals_numpy(seed, radius, chunk):
    rng = np.random.default_rng(seed)
    m = xr.DataArray(rng.random((2, 17, 13)) > 0.9, dims=("time", "y", "x"))
    v = xr.DataArray(np.where(rng.random((2, 17, 13)) > 0.2, rng.random((2, 17, 13)), np.nan), dims=("time", "y", "x"))
    np.testing.assert_array_equal(masking.dilate(m.chunk({"y": chunk, "x": chunk}), radius).values,
                                  masking.dilate(m, radius).values)
    r = max(radius, 1)
    np.testing.assert_allclose(masking.focal_mean(v.chunk({"y": chunk, "x": chunk}), r).values,
                               masking.focal_mean(v, r).values, rtol=1e-5, equal_nan=True)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_hypothesis__clear_mask_dask_equals_numpy(seed):
    rng = np.random.default_rng(seed)
    ds = scene(n_time=2, size=24)
    for b in BANDS:
        ds[b].values[:] = rng.uniform(0, 0.6, ds[b].shape).astype("float32")
    ds["scl"].values[:] = rng.choice([0, 3, 4, 5, 6, 8, 9, 10], ds.scl.shape).astype("uint8")
    ref = xr.Dataset({"nir": ds.nir[1], "swir16": ds.swir16[1]}).drop_vars("time")
    np.testing.assert_array_equal(masking.clear_mask(ds.chunk({"y": 10, "x": 10}), P, ref).values,
                                  masking.clear_mask(ds, P, ref).values)


def test_within_distance__euclidean_radius():
    m = np.zeros((1, 60), bool)
    m[0, 0] = True
    out = masking.within_distance(xr.DataArray(m, dims=("y", "x")), 50).values[0]
    assert out[50] and not out[51]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), radius=st.floats(1, 6))
def test_hypothesis__within_distance_dask_equals_numpy(seed, radius):
    m = xr.DataArray(np.random.default_rng(seed).random((2, 21, 17)) > 0.95, dims=("time", "y", "x"))
    np.testing.assert_array_equal(masking.within_distance(m.chunk({"y": 8, "x": 8}), radius).values,
                                  masking.within_distance(m, radius).values)
