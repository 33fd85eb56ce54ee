"""STAC in the form of Earth Search v1 ``sentinel-2-l2a``: MGRS items, assets, JSON.

Items are per MGRS tile and acquisition, as on Earth Search: the Sentinel-2 tile
``{zone}{band}{square}`` is the 100 km MGRS square grown to 109.8 km to the east and
south, so tiles overlap by 9.8 km and a place in an overlap appears in two items of the
same day.  Assets cover only the simulated part of each tile.  JSON is written with
sorted keys and fixed timestamps derived from the sensing time, so reruns are
byte-identical.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely
from affine import Affine

from .. import bands
from ..bands import SCL_NAMES
from .config import Acquisition
from .world import reproject_geom

__all__ = [
    "EXTENSIONS",
    "STAC_VERSION",
    "ItemPlan",
    "MgrsTile",
    "catalog_json",
    "collection_json",
    "item_json",
    "mgrs_tiles",
    "write_json",
]

STAC_VERSION = "1.0.0"
EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/grid/v1.0.0/schema.json",
    "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
    "https://stac-extensions.github.io/processing/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/view/v1.0.0/schema.json",
]
_BAND_META = {
    "blue": ("Blue (band 2)", 0.49, 0.098), "green": ("Green (band 3)", 0.56, 0.045),
    "red": ("Red (band 4)", 0.665, 0.038), "nir": ("NIR 1 (band 8)", 0.842, 0.145),
    "swir16": ("SWIR 1 (band 11)", 1.61, 0.143), "swir22": ("SWIR 2 (band 12)", 2.19, 0.242),
}
_ROWS = "ABCDEFGHJKLMNPQRSTUV"
_COLS = ("ABCDEFGH", "JKLMNPQR", "STUVWXYZ")


@dataclass(frozen=True)
class MgrsTile:
    zone: int
    e0: int  # west edge (m)
    n0: int  # south edge of the 100 km square (m, with the 10 000 km false northing)

    @property
    def name(self) -> str:
        col = _COLS[(self.zone - 1) % 3][self.e0 // 100_000 - 1]
        row = _ROWS[(self.n0 // 100_000 + (0 if self.zone % 2 else 5)) % 20]
        return f"{self.zone}M{col}{row}"

    @property
    def epsg(self) -> int:
        return 32700 + self.zone

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the 109.8 km Sentinel-2 tile in its own UTM zone."""
        return self.e0, self.n0 + 100_000 - 109_800, self.e0 + 109_800, self.n0 + 100_000


@dataclass
class ItemPlan:
    """One item (MGRS tile x acquisition): where its assets sit and which canonical tiles feed it."""

    item_id: str
    tile: MgrsTile
    acq: Acquisition
    transform: Affine  # 10 m asset grid in the tile's CRS
    shape: tuple[int, int]
    sources: tuple[str, ...]  # canonical tile ids

    @property
    def transform20(self) -> Affine:
        return self.transform * Affine.scale(2)

    @property
    def shape20(self) -> tuple[int, int]:
        return self.shape[0] // 2, self.shape[1] // 2


def mgrs_tiles(window_4326: shapely.Geometry, zones: tuple[int, ...] = (48,)) -> list[MgrsTile]:
    """Sentinel-2 tiles (of the given UTM zones) that intersect a lon/lat polygon."""
    out = []
    for zone in zones:
        tr = pyproj.Transformer.from_crs(4326, 32700 + zone, always_xy=True)
        g = reproject_geom(tr, window_4326.segmentize(0.01))
        _, y0, _, y1 = g.bounds
        for e0 in range(100_000, 900_000, 100_000):
            for n0 in range(int(y0 // 100_000 - 1) * 100_000, int(y1 // 100_000 + 1) * 100_000, 100_000):
                t = MgrsTile(zone, e0, n0)
                if shapely.geometry.box(*t.bounds).intersects(g):
                    out.append(t)
    return out


def _pct(counts: np.ndarray, codes: tuple[int, ...], valid: int) -> float:
    return round(100.0 * float(sum(counts[c] for c in codes)) / max(valid, 1), 6)


def item_json(plan: ItemPlan, counts: np.ndarray, footprint: shapely.Geometry, seed: int) -> dict[str, Any]:
    """The Item dict for a plan, with SCL-derived percentages from ``counts`` (bincount of SCL)."""
    acq, t = plan.acq, plan.tile
    offset = bands.offset_for(acq.date)
    valid = int(counts[1:].sum())
    total = int(counts.sum())
    when = acq.datetime.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    made = (acq.datetime + dt.timedelta(hours=5, minutes=17)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    sq = t.name[3:]
    pl = acq.platform[-1].upper()
    doy = acq.date.timetuple().tm_yday
    rcf = 1 / (1 - 0.01672 * math.cos(math.radians(0.9856 * (doy - 4)))) ** 2
    stamp = acq.date.strftime("%Y%m%d")
    gen = (acq.datetime + dt.timedelta(hours=2, minutes=41)).strftime("%Y%m%dT%H%M%S")
    props: dict[str, Any] = {
        "datetime": when, "created": made, "updated": made,
        "platform": acq.platform, "constellation": "sentinel-2", "instruments": ["msi"],
        "eo:cloud_cover": _pct(counts, (8, 9, 10), valid),
        "proj:epsg": t.epsg, "proj:code": f"EPSG:{t.epsg}",
        "mgrs:utm_zone": t.zone, "mgrs:latitude_band": "M", "mgrs:grid_square": sq,
        "grid:code": f"MGRS-{t.name}",
        "view:sun_azimuth": round(acq.sun_azimuth, 6), "view:sun_elevation": round(90 - acq.sun_zenith, 6),
        "s2:degraded_msi_data_percentage": 0, "s2:saturated_defective_pixel_percentage": 0,
        "s2:nodata_pixel_percentage": round(100.0 * (total - valid) / max(total, 1), 6),
        "s2:snow_ice_percentage": 0,
        "s2:product_type": "S2MSI2A", "s2:processing_baseline": acq.processing_baseline,
        "s2:product_uri": f"S2{pl}_MSIL2A_{stamp}T033800_N{acq.processing_baseline.replace('.', '')}"
                          f"_R075_T{t.name}_{gen}.SAFE",
        "s2:generation_time": made, "s2:datatake_id": f"GS2{pl}_{stamp}T033800_{40000 + acq.index:06d}_N"
                                                       f"{acq.processing_baseline}",
        "s2:datatake_type": "INS-NOBS", "s2:sequence": "0",
        "s2:reflectance_conversion_factor": round(rcf, 9),
        "s2:mean_solar_zenith": round(acq.sun_zenith, 6), "s2:mean_solar_azimuth": round(acq.sun_azimuth, 6),
        "earthsearch:boa_offset_applied": False,
        "processing:software": {"sarolangun-geo-simulate": "0.1.0"},
        "sarolangun:simulated": True, "sarolangun:seed": seed,
    }
    for code, name in SCL_NAMES.items():
        key = {"dark": "dark_features", "not_vegetated": "not_vegetated", "cloud_medium": "medium_proba_clouds",
               "cloud_high": "high_proba_clouds", "cloud_shadow": "cloud_shadow"}.get(name, name)
        if code in (2, 3, 4, 5, 6, 7, 8, 9, 10):
            props[f"s2:{key}_percentage"] = _pct(counts, (code,), valid)
    assets: dict[str, Any] = {}
    for name in bands.ALL_BANDS:
        res = bands.BANDS[name].resolution
        tr = plan.transform if res == 10 else plan.transform20
        shp = plan.shape if res == 10 else plan.shape20
        bbox = [tr.c, tr.f + tr.e * shp[0], tr.c + tr.a * shp[1], tr.f]
        a: dict[str, Any] = {
            "href": f"./{name}.tif", "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "gsd": res, "proj:shape": list(shp), "proj:transform": [tr.a, tr.b, tr.c, tr.d, tr.e, tr.f],
            "proj:bbox": bbox, "proj:epsg": t.epsg, "proj:code": f"EPSG:{t.epsg}",
            "roles": ["data", "reflectance"],
        }
        if name == "scl":
            a.update(title="Scene classification map (SCL)",
                     **{"raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}]})
        else:
            desc, cw, fwhm = _BAND_META[name]
            a.update(title=f"{desc} - {res}m",
                     **{"eo:bands": [{"name": name, "common_name": name, "description": desc,
                                      "center_wavelength": cw, "full_width_half_max": fwhm}],
                        "raster:bands": [{"nodata": 0, "data_type": "uint16", "bits_per_sample": 15,
                                          "spatial_resolution": res, "scale": bands.SCALE, "offset": offset}]})
        assets[name] = a
    geom = shapely.geometry.mapping(shapely.set_precision(footprint, 1e-7))
    return {
        "type": "Feature", "stac_version": STAC_VERSION, "stac_extensions": EXTENSIONS, "id": plan.item_id,
        "geometry": geom, "bbox": [round(v, 7) for v in footprint.bounds], "properties": props,
        "links": [{"rel": "root", "href": "../../catalog.json", "type": "application/json"},
                  {"rel": "parent", "href": "../collection.json", "type": "application/json"},
                  {"rel": "collection", "href": "../collection.json", "type": "application/json"}],
        "assets": assets, "collection": "sentinel-2-l2a",
    }


def collection_json(item_ids: list[str], bbox: list[float], start: str, end: str) -> dict[str, Any]:
    """The ``sentinel-2-l2a`` Collection with relative item links."""
    return {
        "type": "Collection", "stac_version": STAC_VERSION, "stac_extensions": [],
        "id": "sentinel-2-l2a", "title": "Sentinel-2 Level-2A (SIMULATED for Kabupaten Sarolangun)",
        "description": "SIMULATED Sentinel-2 L2A surface reflectance in the form of Earth Search v1 "
                       "sentinel-2-l2a, written by sarolangun_geo.simulate. Not real data.",
        "license": "proprietary", "keywords": ["sentinel", "earth observation", "esa", "simulated"],
        "providers": [{"name": "sarolangun-geo simulator", "roles": ["producer", "processor"]}],
        "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [[start, end]]}},
        "links": [{"rel": "root", "href": "../catalog.json", "type": "application/json"},
                  {"rel": "parent", "href": "../catalog.json", "type": "application/json"}]
        + [{"rel": "item", "href": f"./{i}/{i}.json", "type": "application/geo+json"} for i in item_ids],
    }


def catalog_json(name: str) -> dict[str, Any]:
    """The root Catalog."""
    return {
        "type": "Catalog", "stac_version": STAC_VERSION, "id": f"sarolangun-sim-{name}",
        "description": f"SIMULATED Sentinel-2 L2A catalog for Kabupaten Sarolangun (scenario {name}); "
                       "truth in ./truth/",
        "links": [{"rel": "root", "href": "./catalog.json", "type": "application/json"},
                  {"rel": "child", "href": "./sentinel-2-l2a/collection.json", "type": "application/json"}],
    }


def write_json(path: Path, obj: Any) -> None:
    """Deterministic JSON (sorted keys, 2-space indent, trailing newline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")
