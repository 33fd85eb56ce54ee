"""load_cube over static STAC catalogs: contract, harmonisation, laziness, chunks."""

from __future__ import annotations

import datetime as dt

import dask
import numpy as np
import pystac
import pytest
import scene

from sarolangun_geo import grid
from sarolangun_geo.errors import BandError
from sarolangun_geo.sources import StacSource, load_cube
from sarolangun_geo.sources.stac import PLANETARY_COMPUTER_ASSETS, item_offset

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


def _interior(x: np.ndarray, y: np.ndarray, margin: float = 30.0) -> np.ndarray:
    """Pixels at least ``margin`` m from a 500 m block edge (robust to nearest reprojection)."""
    fx, fy = np.mod(x, 500), np.mod(y, 500)
    return (fx > margin) & (fx < 500 - margin) & (fy > margin) & (fy < 500 - margin)


@pytest.fixture
def cube(catalog, aoi):  # type: ignore[no-untyped-def]
    return load_cube(aoi, "2022-01-01", "2022-02-28", str(catalog))


def test_load_cube__contract(cube, aoi) -> None:
    assert cube["red"].dims == ("time", "y", "x")
    assert set(cube.data_vars) == {"blue", "green", "red", "nir", "swir16", "swir22", "scl"}
    for b in ("blue", "green", "red", "nir", "swir16", "swir22"):
        assert cube[b].dtype == np.float32
    assert cube["scl"].dtype == np.uint8
    assert cube["time"].dtype == np.dtype("datetime64[ns]")
    for c in ("platform", "cloud_cover", "processing_baseline", "source"):
        assert cube[c].dims == ("time",)
    assert cube["cloud_cover"].dtype == np.float64
    assert grid.check_grid(cube, expected=grid.subgrid(aoi)) == cube.odc.geobox
    assert cube.odc.geobox.crs.epsg == 32748


def test_load_cube__one_step_per_day_with_metadata(cube) -> None:
    days = [str(t)[:10] for t in cube["time"].values]
    assert days == ["2022-01-20", "2022-01-30", "2022-02-04"]
    assert list(cube["processing_baseline"].values) == ["03.01", "04.00", "04.00"]
    assert list(cube["platform"].values) == ["sentinel-2a", "sentinel-2b", "sentinel-2a"]
    assert cube["cloud_cover"].values[1] == pytest.approx(25.0)  # mean of the same-day pair
    assert set(cube["source"].values) == {"local-catalog"}


def test_load_cube__both_utm_zones_and_offsets_give_true_reflectance(cube) -> None:
    ds = cube.compute()
    x, y = np.meshgrid(ds.x.values, ds.y.values)
    inner = _interior(x, y)
    for b in ("blue", "red", "nir", "swir16", "swir22"):
        truth = scene.reflectance(b, x, y)
        for t in range(ds.sizes["time"]):
            v = ds[b].values[t]
            assert not np.isnan(v).any(), (b, t)
            np.testing.assert_allclose(v[inner], truth[inner], atol=1.01e-4, err_msg=f"{b} t={t}")
    scl = ds["scl"].values
    assert (scl[:, inner] == scene.scl_truth(x, y)[inner]).all()


def test_load_cube__mixed_offsets_same_day_merge(cube) -> None:
    """2022-02-04: zone-47 item with the -1000 DN offset + zone-48 item with it already removed."""
    ds = cube.isel(time=2).compute()
    x, y = np.meshgrid(ds.x.values, ds.y.values)
    inner = _interior(x, y)
    west, east = inner & (x < 180_000), inner & (x > 181_000)
    truth = scene.reflectance("nir", x, y)
    np.testing.assert_allclose(ds["nir"].values[west], truth[west], atol=1.01e-4)
    np.testing.assert_allclose(ds["nir"].values[east], truth[east], atol=1.01e-4)


def test_load_cube__lazy(catalog, aoi) -> None:
    def refuse(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("load_cube computed something")

    with dask.config.set(scheduler=refuse):
        ds = load_cube(aoi, "2022-01-01", "2022-02-28", str(catalog))
    assert all(hasattr(ds[b].data, "dask") for b in ds.data_vars)


def test_load_cube__chunks_on_canonical_tiles(cube) -> None:
    gb = cube.odc.geobox
    col0 = round((gb.affine.c - grid.GRID_X0) / grid.RESOLUTION)
    row0 = round((grid.GRID_Y0 - gb.affine.f) / grid.RESOLUTION)
    tchunks, ychunks, xchunks = cube["red"].chunks
    assert set(tchunks) == {1}
    for start, sizes in ((row0, ychunks), (col0, xchunks)):
        edges = start + np.cumsum(sizes)[:-1]
        assert (edges % grid.TILE_PX == 0).all(), edges
        assert max(sizes) <= grid.TILE_PX
    assert len(xchunks) == 2  # the AOI straddles x = 180 000 m


def test_load_cube__kecamatan_name_and_bbox(catalog) -> None:
    bbox = grid.subgrid(scene.AOI_32748, crs="EPSG:32748")
    ds = load_cube(bbox, dt.date(2022, 1, 20), dt.date(2022, 1, 20), str(catalog), bands=["red", "scl"])
    assert list(ds.data_vars) == ["red", "scl"]
    assert ds.sizes["time"] == 1


def test_item_offset__rules(items) -> None:
    by_id = {i.id: i for i in items}
    assert item_offset(by_id["S2A_47MRU_20220120_0_L2A"]) == 0.0
    assert item_offset(by_id["S2B_48MTD_20220130_0_L2A"]) == pytest.approx(-0.1)
    assert item_offset(by_id["S2A_48MTD_20220204_0_L2A"]) == 0.0  # boa_offset_applied wins


def test_item_offset__planetary_computer_style_uses_baseline() -> None:
    it = pystac.Item("pc", None, None, dt.datetime(2023, 5, 1, tzinfo=dt.UTC),
                     {"s2:processing_baseline": "05.09"})
    it.add_asset("B04", pystac.Asset("x.tif"))
    assert item_offset(it, PLANETARY_COMPUTER_ASSETS["red"]) == pytest.approx(-0.1)
    old = pystac.Item("pc0", None, None, dt.datetime(2021, 5, 1, tzinfo=dt.UTC), {})
    assert item_offset(old, "B04") == 0.0  # no metadata: date rule


def test_item_offset__wrong_scale_is_band_error() -> None:
    it = pystac.Item("odd", None, None, dt.datetime(2023, 5, 1, tzinfo=dt.UTC), {})
    it.add_asset("red", pystac.Asset("x.tif", extra_fields={"raster:bands": [{"scale": 1.0}]}))
    with pytest.raises(BandError, match="scale"):
        item_offset(it, "red")


def test_stac_source__constructors() -> None:
    es = StacSource.earth_search()
    pc = StacSource.planetary_computer()
    assert es.url.startswith("https://earth-search.aws.element84.com/v1")
    assert pc.asset_keys["nir"] == "B08" and pc.sign == "planetary-computer"


def test_static_search__threads_share_one_parse_and_get_private_items(catalog, aoi) -> None:
    """Tile threads search one static catalog at once: each gets equal, private items (pystac is not thread-safe)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from sarolangun_geo.sources import stac

    src = StacSource.from_catalog(catalog)
    start = threading.Barrier(4)

    def search(_):  # type: ignore[no-untyped-def]
        start.wait()
        return src.search(grid.subgrid(aoi), dt.date(2022, 1, 1), dt.date(2022, 2, 28))

    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(search, range(4)))
    ids = [sorted(i.id for i in items) for items in found]
    assert ids[0] and all(x == ids[0] for x in ids)
    first = {i.id: i for i in found[0]}
    assert all(i is not first[i.id] for i in found[1])  # clones, not the cached objects
    assert len(stac._STATIC_ITEMS) == 1


def test_static_search__a_rewritten_catalog_is_read_again(tmp_path, catalog, aoi) -> None:
    import os
    import shutil

    copy = tmp_path / "cat"
    shutil.copytree(catalog.parent, copy)
    src = StacSource.from_catalog(copy / catalog.name)
    gbox = grid.subgrid(aoi)
    victim = src.search(gbox, dt.date(2022, 1, 1), dt.date(2022, 2, 28))[0].id
    cat = pystac.Catalog.from_file(str(copy / catalog.name))
    links = [ln for ln in cat.links if ln.rel == "item" and ln.get_href().endswith(f"{victim}.json")]
    assert len(links) == 1
    cat.links.remove(links[0])  # drop the item from the catalog and rewrite the root
    cat.save_object(include_self_link=False, dest_href=str(copy / catalog.name))
    st = (copy / catalog.name).stat()
    os.utime(copy / catalog.name, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert victim not in {i.id for i in src.search(gbox, dt.date(2022, 1, 1), dt.date(2022, 2, 28))}
