"""A folder of per-date COGs gives the same cube as the catalog it came from."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import scene

from sarolangun_geo.errors import AOIError, BandError, NoItemsError
from sarolangun_geo.sources import LocalFolderSource, load_cube
from sarolangun_geo.sources.local import scan_folder

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
FULL = (176_000.0, 9_739_000.0, 186_000.0, 9_747_000.0)


@pytest.fixture
def folder(tmp_path):  # type: ignore[no-untyped-def]
    """Two dates: one as <dir>/<date>/<band>.tif (zone 47, pre-2022), one as <date>_<S2 band>.tif."""
    specs = [scene.ItemSpec("a", scene.when("2022-01-20"), 32747, FULL, 0.0, "03.01"),
             scene.ItemSpec("b", scene.when("2023-03-01"), 32748, FULL, -0.1, "05.09")]
    src = tmp_path / "items"
    for s in specs:
        scene.write_item(src, s)
    root = tmp_path / "cogs"
    shutil.copytree(src / "a", root / "2022-01-20")
    for band, s2 in [("blue", "B02"), ("green", "B03"), ("red", "B04"), ("nir", "B08"), ("swir16", "B11"),
                     ("swir22", "B12"), ("scl", "SCL")]:
        shutil.copy(src / "b" / f"{band}.tif", root / f"2023-03-01_{s2}.tif")
    scene.write_meta(root / "2023-03-01.json", {"platform": "sentinel-2b", "cloud_cover": 12.5})
    return root


def test_scan_folder__both_layouts(folder) -> None:
    found = scan_folder(folder)
    assert sorted(str(d) for d in found) == ["2022-01-20", "2023-03-01"]
    assert set(found[max(found)]) == {"blue", "green", "red", "nir", "swir16", "swir22", "scl"}


def test_load_cube__folder_of_cogs(folder, aoi) -> None:
    ds = load_cube(aoi, "2022-01-01", "2023-12-31", folder)
    assert list(ds["processing_baseline"].values) == ["03.01", "04.00"]  # inferred from the date
    assert list(ds["platform"].values) == ["sentinel-2", "sentinel-2b"]
    assert ds["cloud_cover"].values[1] == 12.5
    ds = ds.compute()
    x, y = np.meshgrid(ds.x.values, ds.y.values)
    inner = (np.mod(x, 500) > 30) & (np.mod(x, 500) < 470) & (np.mod(y, 500) > 30) & (np.mod(y, 500) < 470)
    for t in range(2):
        np.testing.assert_allclose(ds["red"].values[t][inner], scene.reflectance("red", x, y)[inner],
                                   atol=1.01e-4)


def test_load_cube__folder_no_dates_in_period(folder, aoi) -> None:
    with pytest.raises(NoItemsError, match="dates present"):
        load_cube(aoi, "2024-01-01", "2024-01-31", folder)


def test_load_cube__folder_outside_coverage(folder) -> None:
    from odc.geo.geom import box

    with pytest.raises(AOIError, match="outside the coverage"):
        load_cube(box(295_000, 9_700_000, 296_000, 9_701_000, "EPSG:32748"), "2022-01-01", "2023-12-31", folder)


def test_load_cube__folder_wrong_dtype(folder, aoi) -> None:
    import rasterio

    p = folder / "2022-01-20" / "nir.tif"
    with rasterio.open(p) as src:
        prof, data = src.profile, src.read(1)
    prof.update(dtype="float32")
    with rasterio.open(p, "w", **prof) as dst:
        dst.write(data.astype("float32"), 1)
    with pytest.raises(BandError, match="float32"):
        LocalFolderSource(folder).load_dn(__import__("sarolangun_geo").grid.subgrid(aoi),
                                          __import__("datetime").date(2022, 1, 1),
                                          __import__("datetime").date(2022, 12, 31), ("nir",))
