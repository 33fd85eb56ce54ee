"""Spectral indices: formulas, NaN/zero handling, numpy == dask == xarray, no mutation."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sarolangun_geo import indices
from sarolangun_geo.errors import BandError

FOREST = dict(blue=0.02, green=0.045, red=0.025, nir=0.30, swir16=0.15, swir22=0.06)
POND = dict(blue=0.06, green=0.105, red=0.125, nir=0.075, swir16=0.03, swir22=0.02)

CASES = [
    ("ndvi", indices.ndvi, ("nir", "red")),
    ("mndwi", indices.mndwi, ("green", "swir16")),
    ("ndwi", indices.ndwi, ("green", "nir")),
    ("bsi", indices.bsi, ("blue", "red", "nir", "swir16")),
    ("ndti", indices.ndti, ("red", "green")),
    ("nbr", indices.nbr, ("nir", "swir22")),
    ("hot", indices.hot, ("blue", "red")),
    ("whiteness", indices.whiteness, ("blue", "green", "red")),
]


def _bands(kind: str = "random", shape=(6, 7), seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {b: rng.uniform(0.0, 0.5, shape).astype("float32") for b in FOREST}


def test_ndvi__formula():
    assert indices.ndvi(nir=0.3, red=0.1) == pytest.approx(0.5)


def test_ndvi__forest_high_pond_negative():
    assert indices.ndvi(nir=FOREST["nir"], red=FOREST["red"]) > 0.8
    assert indices.ndvi(nir=POND["nir"], red=POND["red"]) < 0


def test_mndwi__water_positive_land_negative():
    assert indices.mndwi(green=POND["green"], swir16=POND["swir16"]) > 0.3
    assert indices.mndwi(green=FOREST["green"], swir16=FOREST["swir16"]) < 0


def test_ndti__ochre_pond_turbid():
    assert indices.ndti(red=POND["red"], green=POND["green"]) > 0


def test_bsi__formula():
    b = indices.bsi(blue=0.1, red=0.2, nir=0.3, swir16=0.4)
    assert b == pytest.approx(((0.4 + 0.2) - (0.3 + 0.1)) / 1.0)


def test_normalized_difference__zero_denominator_is_nan_without_warning():
    a = np.zeros(3, "float32")
    with np.errstate(all="raise"):
        out = indices.normalized_difference(a, a)
    assert np.isnan(out).all()


def test_normalized_difference__nan_propagates():
    out = indices.ndvi(nir=np.array([np.nan, 0.3]), red=np.array([0.1, np.nan]))
    assert np.isnan(out).all()


def test_whiteness__cloud_flat_soil_coloured():
    assert indices.whiteness(blue=0.5, green=0.51, red=0.52) < 0.05
    assert indices.whiteness(blue=0.07, green=0.10, red=0.14) > 0.15


@pytest.mark.parametrize("name,func,needs", CASES)
def test_index__numpy_dask_xarray_equal_and_lazy(name, func, needs):
    b = _bands()
    ref = func(**{k: b[k] for k in needs})
    d = func(**{k: da.from_array(b[k], chunks=3) for k in needs})
    assert isinstance(d, da.Array)  # lazy, not computed
    np.testing.assert_allclose(d.compute(), ref, rtol=1e-6)
    x = func(**{k: xr.DataArray(da.from_array(b[k], chunks=3), dims=("y", "x")) for k in needs})
    assert isinstance(x, xr.DataArray) and x.chunks is not None
    np.testing.assert_allclose(x.values, ref, rtol=1e-6)


@pytest.mark.parametrize("name,func,needs", CASES)
def test_index__does_not_mutate_inputs(name, func, needs):
    b = _bands()
    before = {k: v.copy() for k, v in b.items()}
    func(**{k: b[k] for k in needs})
    for k in needs:
        np.testing.assert_array_equal(b[k], before[k])


def test_compute_indices__dataset_float32():
    b = _bands()
    ds = xr.Dataset({k: (("y", "x"), v) for k, v in b.items()})
    out = indices.compute_indices(ds, ("ndvi", "bsi", "mndwi", "ndti", "nbr"))
    assert set(out.data_vars) == {"ndvi", "bsi", "mndwi", "ndti", "nbr"}
    assert all(v.dtype == np.float32 for v in out.data_vars.values())


def test_compute_indices__missing_band_raises_bandError():
    ds = xr.Dataset({"red": (("y", "x"), np.ones((2, 2)))})
    with pytest.raises(BandError, match="nir"):
        indices.compute_indices(ds, ("ndvi",))


refl = arrays(np.float32, (4, 5), elements=st.one_of(st.floats(0.0, 1.0, width=32), st.just(np.float32("nan"))))


@settings(max_examples=25, deadline=None)
@given(a=refl, b=refl, c=refl, d=refl)
def test_hypothesis__dask_equals_numpy(a, b, c, d):
    for func, args in ((indices.ndvi, dict(nir=a, red=b)), (indices.bsi, dict(blue=a, red=b, nir=c, swir16=d)),
                       (indices.whiteness, dict(blue=a, green=b, red=c))):
        ref = func(**args)
        lazy = func(**{k: da.from_array(v, chunks=2) for k, v in args.items()}).compute()
        np.testing.assert_allclose(lazy, ref, rtol=1e-6, equal_nan=True)
