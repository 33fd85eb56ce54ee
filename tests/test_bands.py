from __future__ import annotations

import datetime as dt

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from sarolangun_geo import bands
from sarolangun_geo.errors import BandError


def test_band_table__names_and_resolutions():
    assert bands.REFLECTANCE_BANDS == ("blue", "green", "red", "nir", "swir16", "swir22")
    assert {b: bands.BANDS[b].resolution for b in bands.ALL_BANDS} == {
        "blue": 10, "green": 10, "red": 10, "nir": 10, "swir16": 20, "swir22": 20, "scl": 20}
    assert bands.BANDS["swir16"].s2_band == "B11"


def test_offset__changes_on_2022_01_25():
    assert bands.offset_for(dt.date(2022, 1, 24)) == 0.0
    assert bands.offset_for(dt.date(2022, 1, 25)) == -0.1
    assert bands.baseline_for_date(dt.date(2021, 6, 1)) == "03.01"
    assert bands.offset_for_baseline("04.00") == -0.1
    assert bands.offset_for_baseline("05.11") == -0.1
    assert bands.offset_for_baseline("02.14") == 0.0
    assert bands.offset_for_baseline("05.11", boa_offset_applied=True) == 0.0
    with pytest.raises(BandError, match="processing_baseline"):
        bands.offset_for_baseline("new")


@pytest.mark.parametrize("offset", [0.0, -0.1])
def test_dn_round_trip(offset):
    refl = np.array([[0.0312, 0.3], [np.nan, 0.9]])
    dn = bands.reflectance_to_dn(refl, offset)
    assert dn.dtype == np.uint16
    assert dn[1, 0] == bands.NODATA
    if offset == -0.1:
        assert dn[0, 1] == 4000  # (0.3 + 0.1) * 10000
    back = bands.dn_to_reflectance(dn, offset)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, refl, atol=6e-5)


def test_dn_to_reflectance__negative_reflectance_stays_valid_dn():
    # dark water can be below 0 after the offset; DN must not become nodata
    dn = bands.reflectance_to_dn(np.array([-0.2]), -0.1)
    assert dn[0] == 1


def test_dn_to_reflectance__numpy_dask_xarray_agree():
    rng = np.random.default_rng(0)
    dn = rng.integers(0, 6000, size=(30, 30)).astype("uint16")
    ref = bands.dn_to_reflectance(dn, -0.1)
    lazy = bands.dn_to_reflectance(da.from_array(dn, chunks=10), -0.1)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(np.asarray(lazy.compute()), ref)
    xa = bands.dn_to_reflectance(xr.DataArray(dn, dims=("y", "x")), -0.1)
    np.testing.assert_array_equal(xa.values, ref)
