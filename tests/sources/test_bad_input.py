"""Each bad input raises a specific error that names the problem and the fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
import scene

from sarolangun_geo.errors import (
    AOIError,
    BandError,
    CorruptAssetError,
    MissingAssetError,
    NoItemsError,
    SourceError,
    TileFailureWarning,
)
from sarolangun_geo.sources import load_cube

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
FULL = (176_000.0, 9_739_000.0, 186_000.0, 9_747_000.0)


def _one_item_catalog(root: Path, **kw) -> Path:  # type: ignore[no-untyped-def]
    specs = [scene.ItemSpec("S2A_48MTD_20230301_0_L2A", scene.when("2023-03-01"), 32748, FULL, -0.1, "05.09"),
             scene.ItemSpec("S2A_48MTD_20230306_0_L2A", scene.when("2023-03-06"), 32748, FULL, -0.1, "05.09")]
    return scene.write_catalog(root, specs)


def test_load_cube__unknown_band(catalog, aoi) -> None:
    with pytest.raises(BandError, match=r"B08.*common names|common names"):
        load_cube(aoi, "2022-01-01", "2022-02-28", str(catalog), bands=["B08"])


def test_load_cube__no_items_in_period(catalog, aoi) -> None:
    with pytest.raises(NoItemsError, match="widen the period"):
        load_cube(aoi, "2023-06-01", "2023-06-07", str(catalog))


def test_load_cube__aoi_outside_catalog_coverage(catalog) -> None:
    far = (295_000.0, 9_700_000.0, 296_000.0, 9_701_000.0)  # in the regency grid, outside the scene
    from odc.geo.geom import box

    with pytest.raises(AOIError, match="outside the coverage"):
        load_cube(box(*far, "EPSG:32748"), "2022-01-01", "2022-02-28", str(catalog))


def test_load_cube__aoi_outside_regency(catalog) -> None:
    with pytest.raises(AOIError, match="outside"):
        load_cube((110.0, -7.0, 110.1, -6.9), "2022-01-01", "2022-02-28", str(catalog))


def test_load_cube__missing_asset(tmp_path, aoi) -> None:
    cat = _one_item_catalog(tmp_path)
    c = pystac.Catalog.from_file(str(cat))
    it = next(iter(c.get_items(recursive=True)))
    del it.assets["swir16"]
    c.save()
    with pytest.raises(MissingAssetError, match=r"no asset 'swir16'.*bands="):
        load_cube(aoi, "2023-03-01", "2023-03-10", str(cat))


def test_load_cube__wrong_dtype(tmp_path, aoi) -> None:
    cat = _one_item_catalog(tmp_path)
    path = tmp_path / "S2A_48MTD_20230301_0_L2A" / "red.tif"
    with rasterio.open(path) as src:
        prof, data = src.profile, src.read(1)
    prof.update(dtype="float32", nodata=None)
    with rasterio.open(path, "w", **prof) as dst:
        dst.write((data * 1e-4).astype("float32"), 1)
    with pytest.raises(BandError, match=r"float32, expected uint16.*re-export"):
        load_cube(aoi, "2023-03-01", "2023-03-10", str(cat))


def test_load_cube__truncated_cog(tmp_path, aoi) -> None:
    cat = _one_item_catalog(tmp_path)
    path = tmp_path / "S2A_48MTD_20230301_0_L2A" / "nir.tif"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) * 2 // 3])
    with pytest.raises(CorruptAssetError, match=rf"{path.name}.*(truncated|corrupt).*regenerate"):
        load_cube(aoi, "2023-03-01", "2023-03-10", str(cat))


def test_load_cube__corrupt_cog(tmp_path, aoi) -> None:
    cat = _one_item_catalog(tmp_path)
    path = tmp_path / "S2A_48MTD_20230301_0_L2A" / "green.tif"
    path.write_bytes(b"this is not a tiff at all" * 10)
    with pytest.raises(CorruptAssetError, match="corrupt or not a GeoTIFF"):
        load_cube(aoi, "2023-03-01", "2023-03-10", str(cat))


def test_load_cube__corrupt_cog_skipped_with_warning(tmp_path, aoi) -> None:
    cat = _one_item_catalog(tmp_path)
    path = tmp_path / "S2A_48MTD_20230301_0_L2A" / "green.tif"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.warns(TileFailureWarning, match="S2A_48MTD_20230301_0_L2A"):
        ds = load_cube(aoi, "2023-03-01", "2023-03-10", str(cat), on_error="skip")
    assert ds.sizes["time"] == 1 and str(ds.time.values[0])[:10] == "2023-03-06"
    assert len(ds.attrs["failures"]) == 1
    assert not np.isnan(ds["green"].values).any()


def test_load_cube__missing_file(tmp_path, aoi) -> None:
    cat = _one_item_catalog(tmp_path)
    (tmp_path / "S2A_48MTD_20230301_0_L2A" / "blue.tif").unlink()
    with pytest.raises(CorruptAssetError, match="does not exist"):
        load_cube(aoi, "2023-03-01", "2023-03-10", str(cat))


def test_load_cube__unknown_source(aoi) -> None:
    with pytest.raises(SourceError, match="unknown imagery source"):
        load_cube(aoi, "2022-01-01", "2022-01-02", "no-such-thing")


def test_load_cube__missing_catalog(tmp_path, aoi) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        load_cube(aoi, "2022-01-01", "2022-01-02", str(tmp_path / "nope" / "catalog.json"))


def test_load_cube__inverted_period(catalog, aoi) -> None:
    with pytest.raises(AOIError, match="swap"):
        load_cube(aoi, "2022-02-01", "2022-01-01", str(catalog))


def test_load_cube__folder_with_catalog_resolves(tmp_path, aoi) -> None:
    cat = _one_item_catalog(tmp_path / "c")
    shutil.copytree(cat.parent, tmp_path / "copy")
    ds = load_cube(aoi, "2023-03-01", "2023-03-10", tmp_path / "copy", bands=["red"])
    assert ds.sizes["time"] == 2
