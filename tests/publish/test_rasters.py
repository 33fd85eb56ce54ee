"""COG writers: block-wise equals in-memory, dask equals numpy, overlays."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from sarolangun_geo.errors import GridMismatchError
from sarolangun_geo.publish.cog import write_cog, write_cog_blocks
from sarolangun_geo.publish.rasters import scopes_geometries, write_overlays, write_truecolour_cog


def test_write_cog_blocks__equals_in_memory(tmp_path, small_geobox):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, (2, *small_geobox.shape.yx), dtype="uint8")
    a = write_cog(tmp_path / "a.tif", arr, small_geobox.affine, "EPSG:32748", nodata=0)
    b = write_cog_blocks(tmp_path / "b.tif", lambda r0, r1: arr[:, r0:r1], shape=small_geobox.shape.yx, count=2,
                         dtype="uint8", transform=small_geobox.affine, crs="EPSG:32748", nodata=0, block_rows=37)
    assert a.read_bytes() == b.read_bytes()
    with rasterio.open(b) as src:
        np.testing.assert_array_equal(src.read(), arr)


def test_write_truecolour_cog__dask_equals_numpy(tmp_path, composite):
    a = write_truecolour_cog(tmp_path / "np.tif", composite)
    b = write_truecolour_cog(tmp_path / "dask.tif", composite.chunk({"y": 128, "x": 256}))
    assert a.read_bytes() == b.read_bytes()
    with rasterio.open(a) as src:
        assert src.overviews(1)  # COG with overviews
        assert src.read(1).min() >= 1  # no nodata inside the scene


def test_write_truecolour_cog__off_grid(tmp_path, composite):
    shifted = composite.assign_coords(x=composite.x + 3.0)
    with pytest.raises(GridMismatchError):
        write_truecolour_cog(tmp_path / "x.tif", shifted)


def test_write_overlays(tmp_path, composite):
    scopes = scopes_geometries()
    out = write_overlays(tmp_path, composite, {k: scopes[k] for k in ("regency", "limun", "pauh")}, max_px=300)
    assert out["pauh"] is None  # the synthetic composite does not reach Pauh
    (s, w), (n, e) = out["limun"]["bounds"]
    assert s < n and w < e and 102 < w < 103
    assert (tmp_path / "reports" / out["limun"]["href"]).is_file()


def test_rgb__row_pieces_equal_the_whole_block_stretch():
    import xarray as xr

    from sarolangun_geo.publish.imaging import TRUE_COLOUR, rgb_from_bands
    from sarolangun_geo.publish.rasters import _rgb

    rng = np.random.default_rng(0)
    bands = {b: rng.uniform(-0.05, 0.3, (53, 41)).astype("float32") for b in ("red", "green", "blue")}
    bands["green"][5:9, 3:30] = np.nan
    ds = xr.Dataset({b: (("y", "x"), v) for b, v in bands.items()}).chunk({"y": 20, "x": 20})
    want = np.moveaxis(rgb_from_bands(bands, TRUE_COLOUR), -1, 0)
    for rows in (1, 7, 128):
        got = _rgb(ds, rows=rows)
        assert got.dtype == np.uint8 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, want)
