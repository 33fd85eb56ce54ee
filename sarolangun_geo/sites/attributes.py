"""Attributes of this week's site polygons: where, how big, how far, what evidence.

:func:`attribute_sites` adds to the polygons of :func:`.polygonize.vectorize`:

* administrative units from the real boundaries of :mod:`sarolangun_geo.aoi`:
  ``kecamatan``, ``kode_kemendagri_kec``, ``kode_bps_kec`` (BPS code, "" for
  Mandiangin Timur which has none), ``desa``, ``kode_desa`` (Kemendagri), by the
  site's point (outside every polygon -> the nearest one);
* the site point ``lat``/``lon`` (WGS 84, 6 decimals) and ``lat_dms``/``lon_dms``
  for printing (``2°24'13.2"S``).  The point is the centroid, or a point on the
  surface when the centroid falls outside the polygon;
* ``dist_water_m`` to permanent water polygons, ``dist_road_m`` to roads,
  ``dist_settlement_m`` to settlements (a settlement layer, else the desa
  representative points as village-centre proxies); NaN when the layer is missing;
* ``legality`` / ``legality_detail`` (:mod:`.legality`);
* ``obs_dates`` (comma-separated ISO dates of first/last confirming observation)
  and ``evidence``, a short text naming the indices that moved by at least
  ``evidence_min_delta``, e.g. ``"dNDVI -0.42, dBSI +0.18; veg_loss+bare_soil; 3 obs"``.

Priority is computed by the registry (it needs the site's history); see
:mod:`.priority`.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import aoi, grid
from .legality import classify_legality
from .params import PolygonizeConfig
from .polygonize import INDEX_VARS, KIND_BITS

__all__ = ["admin_units", "attribute_sites", "evidence_text", "nearest_distance", "site_points", "to_dms"]

_CRS = f"EPSG:{grid.CRS_EPSG}"


def to_dms(value: float, positive: str, negative: str) -> str:
    """Decimal degrees -> ``D°MM'SS.S"H`` (``to_dms(-2.4037, "N", "S") == "2°24'13.3\\"S"``)."""
    if value is None or not np.isfinite(value):
        return ""
    hemi = positive if value >= 0 else negative
    tenths = round(abs(value) * 36000)
    deg, rem = divmod(tenths, 36000)
    minutes, sec10 = divmod(rem, 600)
    return f"{deg}°{minutes:02d}'{sec10 // 10:02d}.{sec10 % 10}\"{hemi}"


def site_points(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """Centroid of each polygon, or a point on its surface when the centroid is outside."""
    cen = geoms.centroid
    inside = cen.within(geoms) | geoms.is_empty
    return cen.where(inside, geoms.representative_point())


def admin_units(points: gpd.GeoSeries, units: gpd.GeoDataFrame) -> np.ndarray:
    """Row position in ``units`` of the polygon holding each point (nearest if none); both EPSG:32748."""
    geoms = np.asarray(units.geometry.values, dtype=object)
    tree = shapely.STRtree(geoms)
    pts = np.asarray(points.values, dtype=object)
    out = np.full(len(pts), -1)
    pi, ui = tree.query(pts, predicate="within")
    for p, u in sorted(zip(pi, ui, strict=True), reverse=True):  # lowest unit row wins on (slight) overlaps
        out[p] = u
    missing = np.flatnonzero(out < 0)
    if missing.size:
        _, near = tree.query_nearest(pts[missing], all_matches=False)
        out[missing] = near
    return out


def nearest_distance(geoms: gpd.GeoSeries, layer: gpd.GeoDataFrame | gpd.GeoSeries | None) -> np.ndarray:
    """Distance (m) from each geometry to the nearest feature of ``layer``; NaN without a layer."""
    if layer is None or len(layer) == 0:
        return np.full(len(geoms), np.nan)
    lyr = layer.to_crs(_CRS) if layer.crs is not None else layer
    tree = shapely.STRtree(np.asarray(lyr.geometry.values, dtype=object))
    idx, dist = tree.query_nearest(np.asarray(geoms.values, dtype=object), return_distance=True,
                                   all_matches=False)
    out = np.full(len(geoms), np.nan)
    out[idx[0]] = dist
    return np.round(out, 1)


def evidence_text(row: pd.Series, min_delta: float = 0.05) -> str:
    """Short human-readable evidence summary of one site row."""
    parts = []
    for v in INDEX_VARS:
        val = row.get(v, np.nan)
        if val is not None and np.isfinite(val) and abs(val) >= min_delta:
            parts.append(f"d{v[2:].upper()} {val:+.2f}")
    kinds = int(row.get("kinds", 0) or 0)
    names = [name for bit, name in KIND_BITS.items() if kinds & bit]
    out = [", ".join(parts) or "no index moved"]
    if names:
        out.append("+".join(names))
    out.append(f"{int(row.get('n_confirm', 0) or 0)} obs")
    return "; ".join(out)


def _obs_dates(df: pd.DataFrame) -> list[str]:
    out = []
    blank = [""] * len(df)
    for first, last in zip(df.get("first_detected", blank), df.get("last_detected", blank), strict=True):
        out.append(",".join(sorted({d for d in (first, last) if isinstance(d, str) and d})))
    return out


def attribute_sites(polygons: gpd.GeoDataFrame, *, water: gpd.GeoDataFrame | None = None,
                    roads: gpd.GeoDataFrame | None = None, settlements: gpd.GeoDataFrame | None = None,
                    permits: gpd.GeoDataFrame | None = None, forest: gpd.GeoDataFrame | None = None,
                    kecamatan: gpd.GeoDataFrame | None = None, desa: gpd.GeoDataFrame | None = None,
                    config: PolygonizeConfig | None = None) -> gpd.GeoDataFrame:
    """Add location, distance, legality and evidence attributes to site polygons.

    Parameters
    ----------
    polygons
        ``EvidenceVectors.sites`` (EPSG:32748); any CRS is reprojected.
    water, roads, settlements, permits, forest
        Optional layers (any CRS).  ``water`` is usually ``EvidenceVectors.water``.
    kecamatan, desa
        Administrative polygons; default :func:`aoi.load_kecamatan` / :func:`aoi.load_desa`.
    config
        For ``evidence_min_delta``.

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame (the input is not modified), EPSG:32748, same row order.
    """
    cfg = config or PolygonizeConfig()
    gdf = polygons.to_crs(_CRS) if polygons.crs is not None else polygons.set_crs(_CRS)
    gdf = gdf.copy()
    pts = site_points(gdf.geometry)
    kec = (kecamatan if kecamatan is not None else aoi.load_kecamatan()).to_crs(_CRS).reset_index(drop=True)
    des = (desa if desa is not None else aoi.load_desa()).to_crs(_CRS).reset_index(drop=True)
    if len(gdf):
        k = kec.iloc[admin_units(pts, kec)].reset_index(drop=True)
        d = des.iloc[admin_units(pts, des)].reset_index(drop=True)
        gdf["kecamatan"] = k["nama"].values
        gdf["kode_kemendagri_kec"] = k["kode_kemendagri"].astype(str).values
        gdf["kode_bps_kec"] = k["kode_bps"].fillna("").astype(str).values
        gdf["desa"] = d["nama"].values
        gdf["kode_desa"] = d["kode_kemendagri"].astype(str).values
    else:
        for c in ("kecamatan", "kode_kemendagri_kec", "kode_bps_kec", "desa", "kode_desa"):
            gdf[c] = pd.Series(dtype=object)
    ll = pts.to_crs("EPSG:4326")
    gdf["lat"] = np.round(ll.y.values, 6) if len(gdf) else []
    gdf["lon"] = np.round(ll.x.values, 6) if len(gdf) else []
    gdf["lat_dms"] = [to_dms(v, "N", "S") for v in gdf["lat"]]
    gdf["lon_dms"] = [to_dms(v, "E", "W") for v in gdf["lon"]]
    gdf["dist_water_m"] = nearest_distance(gdf.geometry, water)
    gdf["dist_road_m"] = nearest_distance(gdf.geometry, roads)
    village_pts = gpd.GeoDataFrame(geometry=des.representative_point(), crs=_CRS)
    gdf["dist_settlement_m"] = nearest_distance(gdf.geometry, settlements if settlements is not None
                                                else village_pts)
    leg = classify_legality(gdf, permits=permits, forest=forest)
    gdf["legality"] = leg["legality"].values
    gdf["legality_detail"] = leg["legality_detail"].values
    gdf["obs_dates"] = _obs_dates(gdf)
    gdf["evidence"] = [evidence_text(r, cfg.evidence_min_delta) for _, r in gdf.iterrows()]
    return gdf
