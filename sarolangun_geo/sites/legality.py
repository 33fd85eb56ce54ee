"""Legality triage of sites against optional permit and forest-status layers.

Classes (docs §4):

* ``hutan_lindung`` – the site overlaps protected forest (hutan lindung) by at
  least ``min_overlap`` of its area, or its centroid lies inside it.  This wins
  over a permit: mining inside protected forest is not covered by an IUP/WPR
  without a separate forest-use licence.
* ``dalam_izin`` – inside a mining permit (IUP/WPR) by ``min_overlap``.
* ``luar_izin`` – a permit layer was given and the site is outside every permit:
  a PETI candidate.
* ``tidak_diketahui`` – no permit layer was given (a forest layer alone cannot
  say whether a site outside the forest is licensed).

Layers are user-supplied GeoDataFrames in any CRS.  A forest layer may carry a
``status``/``fungsi`` column; then only rows whose value contains ``lindung``
(or ``HL``/``protected``) count.  The permit's ``permit_id``/``id``/``nama``
goes into ``legality_detail``.  A field verification with outcome ``legal``
overrides the class to ``dalam_izin`` (done by the registry).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import grid

__all__ = ["LEGALITY_CLASSES", "classify_legality", "protected_forest"]

LEGALITY_CLASSES = ("dalam_izin", "luar_izin", "hutan_lindung", "tidak_diketahui")
_CRS = f"EPSG:{grid.CRS_EPSG}"


def protected_forest(forest: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The protected-forest rows of a forest-status layer (all rows without a status column)."""
    for col in ("status", "fungsi", "kawasan", "fungsi_kws"):
        if col in forest.columns:
            v = forest[col].astype(str).str.lower()
            keep = v.str.contains("lindung") | v.str.strip().eq("hl") | v.str.contains("protected")
            return forest[keep]
    return forest


def _overlap(sites: np.ndarray, layer: gpd.GeoDataFrame, min_overlap: float) -> tuple[np.ndarray, np.ndarray]:
    """(hit flag, index of the best-overlapping layer row or -1) per site."""
    hit = np.zeros(len(sites), dtype=bool)
    best = np.full(len(sites), -1)
    if len(layer) == 0 or len(sites) == 0:
        return hit, best
    geoms = np.asarray(layer.to_crs(_CRS).geometry.values, dtype=object)
    si, li = shapely.STRtree(geoms).query(sites, predicate="intersects")
    if len(si) == 0:
        return hit, best
    frac = shapely.area(shapely.intersection(sites[si], geoms[li])) / np.maximum(shapely.area(sites[si]), 1e-9)
    inside = shapely.within(shapely.centroid(sites[si]), geoms[li])
    top = np.full(len(sites), -1.0)
    for s, layer_i, f, c in zip(si, li, frac, inside, strict=True):
        if f >= min_overlap or c:
            hit[s] = True
            if f > top[s]:
                top[s], best[s] = f, layer_i
    return hit, best


def _label(layer: gpd.GeoDataFrame, i: int) -> str:
    for col in ("permit_id", "id", "nomor", "nama", "name"):
        if col in layer.columns and pd.notna(layer.iloc[i][col]):
            return str(layer.iloc[i][col])
    return f"row {i}"


def classify_legality(sites: gpd.GeoDataFrame, permits: gpd.GeoDataFrame | None = None,
                      forest: gpd.GeoDataFrame | None = None, min_overlap: float = 0.5) -> pd.DataFrame:
    """Legality class of each site.

    Parameters
    ----------
    sites
        Site polygons (any CRS; reprojected to EPSG:32748).
    permits
        Mining permits (IUP/WPR) polygons, or None.
    forest
        Forest-status polygons (see :func:`protected_forest`), or None.
    min_overlap
        Fraction of the site's area inside a polygon that counts as "inside".

    Returns
    -------
    pandas.DataFrame
        Same index as ``sites``: ``legality`` (one of :data:`LEGALITY_CLASSES`)
        and ``legality_detail`` (the permit or forest polygon's id, or "").
    """
    geoms = np.asarray(sites.to_crs(_CRS).geometry.values if sites.crs else sites.geometry.values, dtype=object)
    legality = np.full(len(sites), "tidak_diketahui", dtype=object)
    detail = np.full(len(sites), "", dtype=object)
    if permits is not None:
        hit, best = _overlap(geoms, permits, min_overlap)
        legality[:] = np.where(hit, "dalam_izin", "luar_izin")
        for s in np.flatnonzero(hit):
            detail[s] = _label(permits, int(best[s]))
    if forest is not None:
        hl = protected_forest(forest)
        hit, best = _overlap(geoms, hl, min_overlap)
        legality[hit] = "hutan_lindung"
        for s in np.flatnonzero(hit):
            detail[s] = _label(hl, int(best[s]))
    return pd.DataFrame({"legality": legality, "legality_detail": detail}, index=sites.index)
