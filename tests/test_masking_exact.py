"""The fast spatial helpers of masking give exactly (bit for bit) what scipy's filters give."""

from __future__ import annotations

import numpy as np
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from sarolangun_geo import masking


def _mask(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random(shape) > rng.uniform(0.0, 1.0)


def _scipy_focal_fraction(b: np.ndarray, radius: int) -> np.ndarray:
    """The float path of focal_mean on a 0/1 mask, written with ndimage.correlate."""
    foot = masking.disk(radius).astype("float32").reshape((1,) * (b.ndim - 2) + (2 * radius + 1,) * 2)
    s = ndimage.correlate(b.astype("float32"), foot, mode="constant", cval=0.0)
    n = ndimage.correlate(np.ones(b.shape, "float32"), foot, mode="constant", cval=0.0)
    return (s / np.maximum(n, 1e-12)).astype("float32")


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), radius=st.integers(1, 7), ny=st.integers(1, 30), nx=st.integers(1, 30),
       n_time=st.integers(0, 2))
def test_dilate__equals_scipy_binary_dilation(seed, radius, ny, nx, n_time):
    shape = ((n_time,) if n_time else ()) + (ny, nx)
    dims = (("time",) if n_time else ()) + ("y", "x")
    b = _mask(seed, shape)
    foot = masking.disk(radius).reshape((1,) * (b.ndim - 2) + (2 * radius + 1,) * 2)
    out = masking.dilate(xr.DataArray(b, dims=dims), radius)
    np.testing.assert_array_equal(out.values, ndimage.binary_dilation(b, structure=foot))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), radius=st.integers(0, 7), ny=st.integers(1, 30), nx=st.integers(1, 30))
def test_focal_mean__bool_is_bitwise_the_float_path(seed, radius, ny, nx):
    b = xr.DataArray(_mask(seed, (2, ny, nx)), dims=("time", "y", "x"))
    fast = masking.focal_mean(b, radius).values
    assert fast.dtype == np.float32
    assert fast.tobytes() == masking.focal_mean(b.astype("float32"), radius).values.tobytes()
    assert fast.tobytes() == _scipy_focal_fraction(b.values, radius).tobytes()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), radius=st.integers(1, 4), chunk=st.integers(5, 9))
def test_focal_mean__bool_dask_is_bitwise_numpy(seed, radius, chunk):
    b = xr.DataArray(_mask(seed, (23, 19)), dims=("y", "x"))
    lazy = masking.focal_mean(b.chunk({"y": chunk, "x": chunk}), radius)
    assert lazy.chunks is not None
    assert lazy.values.tobytes() == masking.focal_mean(b, radius).values.tobytes()


def test_focal_mean__transposed_dims():
    b = _mask(3, (17, 11))
    ref = masking.focal_mean(xr.DataArray(b, dims=("y", "x")), 3).values
    np.testing.assert_array_equal(masking.focal_mean(xr.DataArray(b.T, dims=("x", "y")), 3).values, ref.T)


def test_scl_flag__numpy_equals_isin():
    scl = np.random.default_rng(0).integers(0, 12, (5, 7)).astype("uint8")
    np.testing.assert_array_equal(masking.scl_flag(scl, (8, 9, 10)), np.isin(scl, [8, 9, 10]))
    da = xr.DataArray(scl, dims=("y", "x"))
    np.testing.assert_array_equal(masking.scl_flag(da, (0, 3)).values, np.isin(scl, [0, 3]))
