"""finalize() and the Source protocol with a fake in-memory source (numpy and dask backends)."""

from __future__ import annotations

import datetime as dt

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from odc.geo.xr import xr_coords

from sarolangun_geo import grid
from sarolangun_geo.errors import SourceError
from sarolangun_geo.sources import Source, load_cube
from sarolangun_geo.sources.base import finalize, tile_snapped

BANDS = ("red", "scl")


class FakeSource:
    """Two steps on the same day with different offsets, from numpy or dask arrays."""

    name = "fake"

    def __init__(self, lazy: bool) -> None:
        self.lazy = lazy

    def load_dn(self, geobox, start, end, bands):  # type: ignore[no-untyped-def]
        snapped = tile_snapped(geobox)
        ny, nx = snapped.shape
        red = np.zeros((2, ny, nx), dtype="uint16")
        red[0, :, : nx // 2] = 1500  # west half, raw DN with the -1000 offset: 0.05
        red[1, :, nx // 3:] = 500    # east part, already harmonised: 0.05
        scl = np.where(red > 0, 4, 0).astype("uint16")
        arrs = {"red": red, "scl": scl}
        if self.lazy:
            arrs = {k: da.from_array(v, chunks=(1, 1000, 1000)) for k, v in arrs.items()}
        ds = xr.Dataset({b: (("time", "y", "x"), arrs[b]) for b in bands},
                        coords=xr_coords(snapped, crs_coord_name="spatial_ref"))
        t = np.array(["2023-03-01T03:30", "2023-03-01T03:31"], dtype="datetime64[ns]")
        return ds.assign_coords(time=("time", t), day=("time", ["2023-03-01"] * 2),
                                offset=("time", np.array([-0.1, 0.0], dtype="float32")),
                                platform=("time", ["sentinel-2a", "sentinel-2b"]),
                                cloud_cover=("time", [10.0, 30.0]),
                                processing_baseline=("time", ["05.09", "05.09"]), source=("time", ["fake"] * 2))


@pytest.mark.parametrize("lazy", [False, True])
def test_finalize__merges_offsets_and_backends_agree(lazy: bool, aoi) -> None:
    src = FakeSource(lazy)
    assert isinstance(src, Source)
    ds = load_cube(aoi, dt.date(2023, 3, 1), dt.date(2023, 3, 1), src, bands=BANDS)
    assert ds.sizes["time"] == 1
    assert ds["platform"].values[0] == "sentinel-2a,sentinel-2b" and ds["cloud_cover"].values[0] == 20.0
    red = np.asarray(ds["red"].values)
    np.testing.assert_allclose(red[~np.isnan(red)], 0.05, atol=1e-6)
    # the snapped grid is wider than the AOI: only where neither step had data is NaN
    assert ds["scl"].dtype == np.uint8 and ds["red"].dtype == np.float32
    grid.check_grid(ds, expected=grid.subgrid(aoi))


def test_finalize__numpy_equals_dask(aoi) -> None:
    gb = grid.subgrid(aoi)
    a = finalize(FakeSource(False).load_dn(gb, None, None, BANDS), gb, BANDS)
    b = finalize(FakeSource(True).load_dn(gb, None, None, BANDS), gb, BANDS).compute()
    xr.testing.assert_identical(a, b)


def test_load_cube__rejects_other_chunking(aoi) -> None:
    with pytest.raises(SourceError, match="canonical"):
        load_cube(aoi, "2023-03-01", "2023-03-01", FakeSource(True), chunks=512)
