"""A tiny Sentinel-2 L2A scene written as an Earth-Search-v1-form static catalog.

Reflectance is a known function of the EPSG:32748 position (500 m blocks, so
nearest-neighbour reprojection from EPSG:32747 keeps block interiors exact).
Items can be written in either UTM zone, with or without the -1000 DN offset.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pystac
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

from sarolangun_geo.bands import BANDS, SCALE, reflectance_to_dn

BASE = {"blue": 0.03, "green": 0.05, "red": 0.04, "nir": 0.30, "swir16": 0.15, "swir22": 0.08}
#: AOI of the tests, EPSG:32748 metres (inside the canonical grid, spans tile edge x=180 000).
AOI_32748 = (178_000.0, 9_741_500.0, 183_000.0, 9_745_000.0)


def reflectance(band: str, x48: np.ndarray, y48: np.ndarray) -> np.ndarray:
    """True surface reflectance of the scene at EPSG:32748 positions."""
    k = ((np.floor(x48 / 500) + 2 * np.floor(y48 / 500)) % 7).astype("float64")
    return BASE[band] + 0.01 * k


def scl_truth(x48: np.ndarray, y48: np.ndarray) -> np.ndarray:
    k = ((np.floor(x48 / 500) + np.floor(y48 / 500)) % 3).astype("int64")
    return np.array([4, 5, 6], dtype="uint8")[k]


@dataclass(frozen=True)
class ItemSpec:
    id: str
    when: dt.datetime
    epsg: int
    bounds48: tuple[float, float, float, float]  # footprint in EPSG:32748 metres
    offset: float = 0.0  # DN offset present in the pixels (-0.1 for baseline >= 04.00)
    baseline: str = "03.01"
    boa_offset_applied: bool = False
    platform: str = "sentinel-2a"
    cloud_cover: float = 10.0
    write_raster_offset: bool = True


def _grid(spec: ItemSpec, res: int) -> tuple[rasterio.Affine, int, int]:
    minx, miny, maxx, maxy = spec.bounds48
    if spec.epsg != 32748:
        t = Transformer.from_crs(32748, spec.epsg, always_xy=True)
        xs, ys = t.transform([minx, maxx, minx, maxx], [miny, miny, maxy, maxy])
        minx, maxx, miny, maxy = min(xs), max(xs), min(ys), max(ys)
    x0, y1 = np.floor(minx / res) * res, np.ceil(maxy / res) * res
    w, h = int(np.ceil((maxx - x0) / res)), int(np.ceil((y1 - miny) / res))
    return from_origin(x0, y1, res, res), w, h


def write_item(root: Path, spec: ItemSpec, bands: tuple[str, ...] = tuple(BANDS)) -> pystac.Item:
    """Write the COGs of one item and return the (unsaved) pystac Item."""
    d = root / spec.id
    d.mkdir(parents=True, exist_ok=True)
    to48 = Transformer.from_crs(spec.epsg, 32748, always_xy=True)
    to4326 = Transformer.from_crs(32748, 4326, always_xy=True)
    minx, miny, maxx, maxy = spec.bounds48
    lon, lat = to4326.transform([minx, maxx, maxx, minx, minx], [miny, miny, maxy, maxy, miny])
    geom = {"type": "Polygon", "coordinates": [list(zip(lon, lat, strict=True))]}
    item = pystac.Item(spec.id, geom, [min(lon), min(lat), max(lon), max(lat)], spec.when, {
        "platform": spec.platform, "constellation": "sentinel-2", "eo:cloud_cover": spec.cloud_cover,
        "proj:epsg": spec.epsg, "s2:processing_baseline": spec.baseline,
        "earthsearch:boa_offset_applied": spec.boa_offset_applied})
    for band in bands:
        res = BANDS[band].resolution
        tr, w, h = _grid(spec, res)
        cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
        xs, ys = tr.c + cols * res, tr.f - rows * res
        x48, y48 = to48.transform(xs, ys)
        inside = (x48 >= minx) & (x48 < maxx) & (y48 >= miny) & (y48 < maxy)
        if band == "scl":
            data = np.where(inside, scl_truth(x48, y48), 0).astype("uint8")
            dtype = "uint8"
        else:
            r = np.where(inside, reflectance(band, x48, y48), np.nan)
            pixel_offset = 0.0 if spec.boa_offset_applied else spec.offset
            data = reflectance_to_dn(r, pixel_offset)
            dtype = "uint16"
        path = d / f"{band}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype=dtype,
                           crs=f"EPSG:{spec.epsg}", transform=tr, nodata=0, tiled=True,
                           blockxsize=256, blockysize=256, compress="deflate") as dst:
            dst.write(data, 1)
        rb = {"nodata": 0, "data_type": dtype, "spatial_resolution": res}
        if band != "scl" and spec.write_raster_offset:
            rb.update(scale=SCALE, offset=spec.offset)
        item.add_asset(band, pystac.Asset(str(path), media_type=pystac.MediaType.COG, roles=["data"],
                                          extra_fields={"raster:bands": [rb], "proj:shape": [h, w],
                                                        "proj:transform": list(tr)[:6]}))
    return item


def write_catalog(root: Path, specs: list[ItemSpec]) -> Path:
    """Write the items and a self-contained static catalog; return catalog.json."""
    root.mkdir(parents=True, exist_ok=True)
    cat = pystac.Catalog("test-scene", "tiny Sentinel-2 L2A test scene")
    for s in specs:
        cat.add_item(write_item(root, s))
    cat.normalize_hrefs(str(root))
    cat.make_all_asset_hrefs_relative()
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


def when(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day + "T03:31:00+00:00")


def default_specs() -> list[ItemSpec]:
    """Both UTM zones, both sides of 2022-01-25, a same-day pair and a mixed-offset day."""
    full = (176_000.0, 9_739_000.0, 186_000.0, 9_747_000.0)
    west = (176_000.0, 9_739_000.0, 181_000.0, 9_747_000.0)
    east = (180_000.0, 9_739_000.0, 186_000.0, 9_747_000.0)
    return [
        ItemSpec("S2A_47MRU_20220120_0_L2A", when("2022-01-20"), 32747, full, 0.0, "03.01"),
        ItemSpec("S2B_48MTD_20220130_0_L2A", when("2022-01-30"), 32748, east, -0.1, "04.00",
                 platform="sentinel-2b", cloud_cover=20.0),
        ItemSpec("S2B_47MRU_20220130_0_L2A", when("2022-01-30"), 32747, west, -0.1, "04.00",
                 platform="sentinel-2b", cloud_cover=30.0),
        ItemSpec("S2A_47MRU_20220204_0_L2A", when("2022-02-04"), 32747, west, -0.1, "04.00"),
        ItemSpec("S2A_48MTD_20220204_0_L2A", when("2022-02-04"), 32748, east, -0.1, "04.00",
                 boa_offset_applied=True),
    ]


def write_meta(path: Path, meta: dict) -> None:
    path.write_text(json.dumps(meta))
