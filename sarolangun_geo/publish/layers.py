"""Vector layers (RFC 7946 GeoJSON) of one published week.

Layers are written for the whole regency and again for each kecamatan, with
properties in :mod:`.schema` order, coordinates in EPSG:4326 rounded to
:data:`~.schema.COORD_DECIMALS`, exterior rings counter-clockwise and one
feature per line.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import aoi
from ..errors import LayerSchemaError
from ._io import atomic_write_text
from .schema import COORD_DECIMALS, LAYERS, Field, validate_layer

__all__ = [
    "dumps_feature_collection",
    "feature_collection",
    "geometry_json",
    "prepare_roads",
    "prepare_sites",
    "write_layer",
    "write_layers",
]

_SITE_COMPUTED = {"kecamatan_slug", "week"}
_ROAD_COMPUTED = {"kecamatan", "kecamatan_slug", "length_m", "week"}


def _require(gdf: gpd.GeoDataFrame, layer: str, computed: set[str]) -> None:
    missing = [f.name for f in LAYERS[layer] if f.name not in computed and f.name not in gdf.columns]
    if missing:
        raise LayerSchemaError(f"{layer}: input GeoDataFrame lacks column(s) {missing}; "
                               "see docs/architecture.md §3-4 for the contract")
    if gdf.crs is None:
        raise LayerSchemaError(f"{layer}: input GeoDataFrame has no CRS; set EPSG:32748 (the grid CRS)")


def prepare_sites(sites: gpd.GeoDataFrame, week: str, drop_suppressed: bool = True) -> gpd.GeoDataFrame:
    """Published view of the registry's sites for ``week`` (docs §4 columns in).

    Drops suppressed sites (unless ``drop_suppressed=False``), adds
    ``kecamatan_slug`` and ``week``, and sorts by ``priority_rank`` then
    ``site_id``.  Returns a new frame in the input CRS.
    """
    _require(sites, "peti_sites", _SITE_COMPUTED)
    out = sites.copy()
    if drop_suppressed and "suppressed" in out.columns:
        out = out[~out["suppressed"].fillna(False).astype(bool)]
    out["kecamatan_slug"] = out["kecamatan"].astype(str).map(aoi.slugify)
    out["week"] = week
    return out.sort_values(["priority_rank", "site_id"], kind="mergesort").reset_index(drop=True)


def prepare_roads(roads: gpd.GeoDataFrame, week: str) -> gpd.GeoDataFrame:
    """Published view of scored road segments (docs §3): adds kecamatan, length, week."""
    _require(roads, "road_damage", _ROAD_COMPUTED)
    out = roads.copy()
    out["length_m"] = out.geometry.to_crs(32748).length
    kec = aoi.load_kecamatan()[["nama", "slug", "geometry"]]
    mid = gpd.GeoDataFrame(geometry=out.geometry.interpolate(0.5, normalized=True), crs=out.crs).to_crs(kec.crs)
    hit = gpd.sjoin(mid, kec, how="left", predicate="within")
    hit = hit[~hit.index.duplicated(keep="first")]
    out["kecamatan"] = hit["nama"].where(hit["nama"].notna(), None)
    out["kecamatan_slug"] = hit["slug"].where(hit["slug"].notna(), None)
    out["week"] = week
    return out.sort_values("segment_id", kind="mergesort").reset_index(drop=True)


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT or (
        not isinstance(v, (str, bytes, list, tuple, dict)) and bool(pd.isna(v)))


def _value(f: Field, v: Any) -> Any:
    if _is_missing(v):
        return None
    if f.type == "integer":
        return int(v)
    if f.type == "number":
        x = float(v)
        return round(x, f.decimals) if f.decimals is not None else x
    if f.type == "boolean":
        return bool(v)
    if f.type == "date":
        if isinstance(v, (dt.date, pd.Timestamp)):
            return v.isoformat()[:10]
        return str(v)[:10]
    return str(v)


def _lists(obj: Any) -> Any:
    return [_lists(o) for o in obj] if isinstance(obj, (list, tuple)) else float(obj)


def geometry_json(geom: shapely.Geometry) -> dict[str, Any]:
    """RFC 7946 geometry dict: exterior rings CCW, holes CW, coordinates rounded."""
    if geom is None or geom.is_empty:
        raise LayerSchemaError("a feature has an empty geometry; drop it before publishing")
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        geom = shapely.orient_polygons(geom, exterior_cw=False)
    geom = shapely.transform(geom, lambda c: np.round(c, COORD_DECIMALS) + 0.0)
    gj = shapely.geometry.mapping(geom)
    return {"type": gj["type"], "coordinates": _lists(gj["coordinates"])}


def feature_collection(gdf: gpd.GeoDataFrame, layer: str) -> dict[str, Any]:
    """A prepared frame as a GeoJSON FeatureCollection dict (EPSG:4326, schema order)."""
    fields = LAYERS[layer]
    g = gdf.to_crs(4326)
    cols = {f.name: g[f.name].tolist() for f in fields}
    feats = []
    for i, geom in enumerate(g.geometry):
        props = {f.name: _value(f, cols[f.name][i]) for f in fields}
        feats.append({"type": "Feature", "properties": props, "geometry": geometry_json(geom)})
    return {"type": "FeatureCollection", "name": layer, "features": feats}


def dumps_feature_collection(fc: Mapping[str, Any]) -> str:
    """Serialise with one feature per line (small diffs, streamable, deterministic)."""
    head = json.dumps({k: v for k, v in fc.items() if k != "features"}, ensure_ascii=False)[:-1]
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":"), allow_nan=False) for f in fc["features"]]
    body = ",\n".join(lines)
    return f'{head}, "features": [\n{body}\n]}}\n'


def write_layer(path: str | Path, gdf: gpd.GeoDataFrame, layer: str) -> Path:
    """Validate and atomically write one layer; return its path."""
    fc = feature_collection(gdf, layer)
    validate_layer(fc, layer)
    return atomic_write_text(path, dumps_feature_collection(fc))


def write_layers(week_dir: str | Path, sites: gpd.GeoDataFrame, roads: gpd.GeoDataFrame | None,
                 slugs: Iterable[str]) -> dict[str, Path]:
    """Write ``layers/{peti_sites,road_damage}.geojson`` and ``layers/kecamatan/<slug>/`` copies.

    Every kecamatan in ``slugs`` gets both files, empty when it has no feature,
    so that links and QGIS projects never break.  Returns ``{key: path}`` with
    keys ``peti_sites``, ``road_damage``, ``<slug>/peti_sites`` ...
    """
    base = Path(week_dir) / "layers"
    out: dict[str, Path] = {}
    frames = {"peti_sites": sites, "road_damage": roads}
    for layer, gdf in frames.items():
        if gdf is None:  # no road scores this week: no road layer
            continue
        out[layer] = write_layer(base / f"{layer}.geojson", gdf, layer)
        for slug in slugs:
            part = gdf[gdf["kecamatan_slug"] == slug]
            out[f"{slug}/{layer}"] = write_layer(base / "kecamatan" / slug / f"{layer}.geojson", part, layer)
    return out
