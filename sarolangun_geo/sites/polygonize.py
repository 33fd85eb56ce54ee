"""Vectorise the per-pixel PETI evidence (docs §3) into site polygons.

This is the one place where the (lazy) evidence raster is computed, and it is
computed one canonical tile at a time (:func:`grid.iter_tile_geoboxes`), so the
memory use is bounded by one 1 000 x 1 000 px tile whatever the AOI.

Per tile:

1. site pixels are ``confidence >= min_confidence``; they are labelled into
   4-connected components (``scipy.ndimage.label``) and each component is
   traced into a polygon with :func:`rasterio.features.shapes` (pixel edges,
   so vertices lie exactly on the 10 m grid);
2. zonal sums are taken per component with ``np.bincount`` (means of
   ``d_ndvi``, ``d_bsi``, ``d_mndwi``, ``d_ndti``, ``score``; maxima of
   ``confidence`` and ``n_confirm``; min/max of ``first_detected`` /
   ``last_detected``; OR of ``kinds``; the activity date ``last_active``,
   see below);
3. ``permanent_water`` is traced into water polygons (for distances);
4. optionally, the mean ``d_ndvi`` on given registry footprints is summed
   (the per-site "NDVI recovering" signal of the lifecycle), and, when the
   evidence has ``n_clear``, how well each footprint was seen in the run's
   window: ``clear_frac`` (share of footprint pixels with a clear look: was
   the site observed at all?) and ``clear_looks`` (how many clear looks at
   least ``min_clear_frac`` of the footprint had: the quiet-week credit of a
   catch-up span, see :mod:`.lifecycle`).

**Activity date of a polygon** (``last_active``, when the evidence has the
per-pixel ``last_active`` of :mod:`sarolangun_geo.change.mining`): the latest
day ``d`` such that at least ``k`` of its pixels showed activity on or after
``d`` – the ``k``-th largest pixel value – with ``k = max(active_min_px,
ceil(active_min_frac x n_px))``, at most ``n_px``.  One or two pixels that
flicker with noise, haze or a wet-season pond edge do not make a dead site
active; a site being dug, pumped or extended changes many pixels at once.  The
lifecycle takes a polygon as active in a run when this date falls in the run's
window (:mod:`.lifecycle`).  Without ``last_active`` in the evidence (a state
stored before it existed) the column is left out and the lifecycle falls back
to ``last_detected``.

Across tiles, parts that share an edge on a tile seam are unioned (union-find
over an STRtree) and their sums combined, so a site straddling a seam comes out
as one polygon with exact statistics.  Then the minimum mapping unit is applied
on the pixel count, and geometries are lightly simplified (Douglas-Peucker,
``simplify_m``) and snapped back to the 10 m grid with
``shapely.set_precision`` (which keeps them valid).  NaN index values are
ignored in the means; a component without any valid value gets NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
import xarray as xr
from scipy import ndimage

from .. import grid
from ..errors import SitesInputError
from .params import LifecycleConfig, PolygonizeConfig

__all__ = ["INDEX_VARS", "KIND_BITS", "EvidenceVectors", "TileReader", "active_day", "clear_looks", "days_to_iso",
           "vectorize", "vectorize_tiles"]

INDEX_VARS = ("d_ndvi", "d_bsi", "d_mndwi", "d_ndti")
#: Bits of the ``kinds`` bitmask (docs §3) and their short names.
KIND_BITS = {1: "veg_loss", 2: "bare_soil", 4: "turbid_water", 8: "pit_texture", 16: "near_water"}
_CRS = f"EPSG:{grid.CRS_EPSG}"
_PX_HA = grid.RESOLUTION**2 / 10_000.0
_SUMS = (*INDEX_VARS, "score")
#: ``n_clear`` is uint8 (docs §3); the clear-look histogram of a footprint has this many bins + 1.
_MAX_LOOKS = 255
#: ``read(names)`` -> one tile's evidence variables as 2-D numpy arrays (:func:`vectorize_tiles`).
TileReader = Callable[[list[str]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class EvidenceVectors:
    """What :func:`vectorize` returns.

    Attributes
    ----------
    sites
        One row per site polygon (EPSG:32748): ``geometry``, ``area_ha`` (pixel
        count x 0.01), ``n_px``, ``confidence`` (max, 0..4), ``score`` (mean),
        ``n_confirm`` (max), ``first_detected`` / ``last_detected`` (ISO date or
        ""), ``last_active`` (ISO date or "": the activity date in the module
        docstring; only when the evidence has ``last_active``), ``kinds`` (OR
        of the bitmask), ``d_ndvi`` ... ``d_ndti`` (means), ``tiles``
        (comma-separated tile ids).  Sorted north to south, west to east.
    water
        ``permanent_water`` polygons (EPSG:32748), per tile (not dissolved).
    footprint_stats
        Indexed by ``site_id`` of the given footprints: ``d_ndvi`` (mean),
        ``confidence`` (max), ``n_px`` and, when the evidence has ``n_clear``,
        ``clear_frac`` (share of footprint pixels with ``n_clear > 0``) and
        ``clear_looks`` (float: the largest ``k`` such that at least
        ``min_clear_frac`` of the footprint pixels had ``n_clear >= k``; 0 when
        fewer than that share had any clear look).  Both are NaN for a footprint
        without pixels.  Empty without footprints.
    """

    sites: gpd.GeoDataFrame
    water: gpd.GeoDataFrame
    footprint_stats: pd.DataFrame


def days_to_iso(days: Any) -> str:
    """Days since 1970-01-01 -> ``"YYYY-MM-DD"``; negative or NaN -> ``""``."""
    if days is None or not np.isfinite(days) or days < 0:
        return ""
    return str(np.datetime64("1970-01-01") + np.timedelta64(int(days), "D"))


def _tile_arrays(evidence: xr.Dataset, gbox: Any, tgbox: Any, names: list[str]) -> dict[str, np.ndarray]:
    r0 = round((gbox.affine.f - tgbox.affine.f) / grid.RESOLUTION)
    c0 = round((tgbox.affine.c - gbox.affine.c) / grid.RESOLUTION)
    h, w = tgbox.shape
    sub = evidence[names].isel(y=slice(r0, r0 + h), x=slice(c0, c0 + w))
    values = dask.compute(*[sub[n].data for n in names])
    return {n: np.asarray(v) for n, v in zip(names, values, strict=True)}


def _bincount(labels: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(labels.ravel(), weights=None if weights is None else weights.ravel(), minlength=n + 1)


def _component_parts(a: dict[str, np.ndarray], labels: np.ndarray, n: int, tid: str,
                     affine: Any) -> list[dict[str, Any]]:
    """Polygons and zonal sums of the ``n`` labelled components of one tile."""
    stats: dict[str, np.ndarray] = {"n_px": _bincount(labels, n)}
    for v in _SUMS:
        if v in a:
            vals = a[v].astype("float64")
            ok = np.isfinite(vals)
            stats[f"{v}_sum"] = _bincount(labels, n, np.where(ok, vals, 0.0))
            stats[f"{v}_n"] = _bincount(labels, n, ok.astype("float64"))
    idx = np.arange(1, n + 1)
    stats["confidence"] = np.r_[0, ndimage.maximum(a["confidence"], labels, idx)]
    if "n_confirm" in a:
        stats["n_confirm"] = np.r_[0, ndimage.maximum(a["n_confirm"], labels, idx)]
    if "first_detected" in a:
        fd = np.where(a["first_detected"] >= 0, a["first_detected"], np.iinfo("int32").max)
        stats["first"] = np.r_[0, ndimage.minimum(fd, labels, idx)]
    if "last_detected" in a:
        stats["last"] = np.r_[0, ndimage.maximum(a["last_detected"], labels, idx)]
    active = _active_days(a["last_active"], labels, n) if "last_active" in a else None
    if "kinds" in a:
        kinds = np.zeros(n + 1, dtype="int64")
        for bit in KIND_BITS:
            kinds |= np.where(_bincount(labels, n, (a["kinds"] & bit) > 0) > 0, bit, 0)
        stats["kinds"] = kinds
    polys: dict[int, list[Any]] = {}
    for geom, val in rasterio.features.shapes(labels, mask=labels > 0, connectivity=4, transform=affine):
        polys.setdefault(int(val), []).append(shapely.geometry.shape(geom))
    parts = []
    for lab, geoms in polys.items():
        part = {k: v[lab] for k, v in stats.items()}
        if active is not None:
            part["active_days"] = active[lab]
        part.update(tile=tid, geometry=shapely.union_all(geoms) if len(geoms) > 1 else geoms[0])
        parts.append(part)
    return parts


def _active_days(last_active: np.ndarray, labels: np.ndarray, n: int) -> dict[int, np.ndarray]:
    """Per component label 1..n: its pixels' ``last_active`` values, sorted in descending order."""
    lab = labels.ravel()
    inside = lab > 0
    ll, lv = lab[inside], last_active.ravel()[inside].astype("int64")
    order = np.lexsort((-lv, ll))
    ll, lv = ll[order], lv[order]
    bounds = np.searchsorted(ll, np.arange(1, n + 2))
    return {i: lv[bounds[i - 1]:bounds[i]] for i in range(1, n + 1)}


def active_day(days: np.ndarray, n_px: int, min_px: int, min_frac: float) -> int:
    """The polygon's activity day: the ``k``-th largest of its pixels' ``last_active`` (-1 none).

    ``k = max(min_px, ceil(min_frac x n_px))``, at most ``n_px`` (module docstring).
    """
    if n_px <= 0 or len(days) == 0:
        return -1
    k = min(int(n_px), len(days), max(int(min_px), int(np.ceil(min_frac * n_px - 1e-9)), 1))
    return int(np.sort(np.asarray(days, dtype="int64"))[::-1][k - 1])


def _footprint_sums(a: dict[str, np.ndarray], fp: gpd.GeoDataFrame, tgbox: Any,
                    acc: dict[str, np.ndarray]) -> None:
    """Add one tile's ``d_ndvi`` sums (and clear-pixel counts) on registry footprints into ``acc`` (by row)."""
    x0, y1 = tgbox.affine.c, tgbox.affine.f
    h, w = tgbox.shape
    tile_box = shapely.box(x0, y1 - h * grid.RESOLUTION, x0 + w * grid.RESOLUTION, y1)
    hits = np.flatnonzero(shapely.intersects(fp.geometry.values, tile_box))
    if hits.size == 0:
        return
    ids = rasterio.features.rasterize(((fp.geometry.values[i], int(i) + 1) for i in hits),
                                      out_shape=(h, w), transform=tgbox.affine, fill=0, dtype="int32")
    n = len(fp)
    d = a.get("d_ndvi")
    if d is not None:
        ok = np.isfinite(d)
        acc["sum"] += _bincount(ids, n, np.where(ok, d, 0.0))[1:]
        acc["n"] += _bincount(ids, n, ok.astype("float64"))[1:]
    acc["px"] += _bincount(ids, n)[1:]
    if "clear" in acc and "n_clear" in a:
        nc = np.asarray(a["n_clear"], dtype="float64")
        nc = np.clip(np.where(np.isfinite(nc), nc, 0.0), 0, _MAX_LOOKS).astype("int64")
        acc["clear"] += _bincount(ids, n, (nc > 0).astype("float64"))[1:]
        inside = ids > 0  # histogram of clear looks per footprint: row = footprint, column = n_clear
        flat = (ids[inside].astype("int64") - 1) * (_MAX_LOOKS + 1) + nc[inside]
        acc["looks"] += np.bincount(flat, minlength=n * (_MAX_LOOKS + 1)).reshape(n, _MAX_LOOKS + 1)
    conf = np.zeros(n + 1, dtype="int64")
    np.maximum.at(conf, ids.ravel(), a["confidence"].ravel().astype("int64"))
    acc["conf"] = np.maximum(acc["conf"], conf[1:])


def _merge_seams(parts: list[dict[str, Any]]) -> list[list[int]]:
    """Groups of part indices that share an edge across a tile seam (union-find)."""
    geoms = np.array([p["geometry"] for p in parts], dtype=object)
    parent = list(range(len(parts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if len(parts) > 1:
        left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        cross = [parts[i]["tile"] != parts[j]["tile"] for i, j in zip(left, right, strict=True)]
        keep = (left < right) & np.array(cross, dtype=bool)
        for i, j in zip(left[keep], right[keep], strict=True):
            if shapely.length(shapely.intersection(geoms[i], geoms[j])) > 0:
                parent[find(int(i))] = find(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(len(parts)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _combine(group: list[dict[str, Any]], cfg: PolygonizeConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"n_px": sum(p["n_px"] for p in group)}
    for v in _SUMS:
        if f"{v}_sum" in group[0]:
            s, c = sum(p[f"{v}_sum"] for p in group), sum(p[f"{v}_n"] for p in group)
            out[v] = float(s / c) if c > 0 else float("nan")
        else:
            out[v] = float("nan")
    out["confidence"] = int(max(p["confidence"] for p in group))
    out["n_confirm"] = int(max(p.get("n_confirm", 0) for p in group))
    first = min(p.get("first", -1) for p in group)
    out["first_detected"] = days_to_iso(first if first < np.iinfo("int32").max else -1)
    out["last_detected"] = days_to_iso(max(p.get("last", -1) for p in group))
    if "active_days" in group[0]:
        days = np.concatenate([p["active_days"] for p in group])
        out["last_active"] = days_to_iso(active_day(days, out["n_px"], cfg.active_min_px, cfg.active_min_frac))
    kinds = 0
    for p in group:
        kinds |= int(p.get("kinds", 0))
    out["kinds"] = kinds
    out["tiles"] = ",".join(sorted({p["tile"] for p in group}))
    geoms = [p["geometry"] for p in group]
    out["geometry"] = shapely.union_all(geoms) if len(geoms) > 1 else geoms[0]
    return out


def _simplify(geom: Any, tolerance: float) -> Any:
    """Light simplification, snapped to the 10 m grid, valid; falls back to the input."""
    g = shapely.simplify(geom, tolerance, preserve_topology=True) if tolerance > 0 else geom
    g = shapely.set_precision(g, float(grid.RESOLUTION))
    if g.is_empty or not g.is_valid or g.area <= 0:
        return geom
    return g


def clear_looks(hist: np.ndarray, min_clear_frac: float) -> np.ndarray:
    """Clear looks seen over at least ``min_clear_frac`` of each footprint.

    Parameters
    ----------
    hist
        int ``(n_footprints, n_bins)``: pixel counts per number of clear looks
        (column ``k`` = pixels with ``n_clear == k``, the last column ``>=``).
    min_clear_frac
        Share of the footprint (0..1) that must have had the looks.

    Returns
    -------
    np.ndarray
        float ``(n_footprints,)``: the largest ``k`` with ``share(n_clear >= k)
        >= min_clear_frac`` (0 when fewer than that share had any look); NaN for
        a footprint without pixels.
    """
    hist = np.asarray(hist, dtype="float64")
    px = hist.sum(axis=1)
    at_least = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]  # column k: pixels with n_clear >= k
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = at_least / px[:, None] >= min_clear_frac
    ok[:, 0] = True
    k = (hist.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)).astype("float64")
    return np.where(px > 0, k, np.nan)


def vectorize(evidence: xr.Dataset, config: PolygonizeConfig | None = None, *,
              footprints: gpd.GeoDataFrame | None = None,
              min_clear_frac: float = LifecycleConfig.min_clear_frac) -> EvidenceVectors:
    """Site polygons, water polygons and footprint statistics from one week's evidence.

    Parameters
    ----------
    evidence
        The docs §3 Dataset, dims ``(y, x)`` on a canonical sub-grid; numpy or
        dask backed.  Only ``confidence`` (uint8 0..4) is required; the other
        §3 variables are used when present.
    config
        Threshold, minimum mapping unit and simplification (default: shipped TOML values).
    footprints
        Optional registry sites (``site_id``, ``geometry`` in EPSG:32748) whose
        mean ``d_ndvi`` and max ``confidence`` are wanted (rehabilitation signal),
        plus ``clear_frac`` and ``clear_looks`` when ``evidence`` has ``n_clear``
        (inactivity counts clear weeks only).
    min_clear_frac
        Share of a footprint that must have had ``k`` clear looks for
        ``clear_looks >= k`` (pass ``SitesConfig.lifecycle.min_clear_frac``).

    Returns
    -------
    EvidenceVectors

    Raises
    ------
    GridMismatchError
        If ``evidence`` is not on the canonical grid.
    SitesInputError
        If ``confidence`` is missing.
    """
    gbox = grid.check_grid(evidence)
    if "confidence" not in evidence:
        raise SitesInputError("the evidence Dataset has no 'confidence' variable; pass the output of "
                              "change.mining.peti_evidence (docs §3)")

    def reader(tgbox: Any) -> TileReader:
        return lambda names: _tile_arrays(evidence, gbox, tgbox, names)

    tiles = ((tid, tgbox, reader(tgbox)) for tid, tgbox in grid.iter_tile_geoboxes(gbox))
    return vectorize_tiles(tiles, set(map(str, evidence.variables)), config, footprints=footprints,
                           min_clear_frac=min_clear_frac)


def vectorize_tiles(tiles: Iterable[tuple[str, Any, TileReader]], variables: Collection[str],
                    config: PolygonizeConfig | None = None, *, footprints: gpd.GeoDataFrame | None = None,
                    min_clear_frac: float = LifecycleConfig.min_clear_frac) -> EvidenceVectors:
    """:func:`vectorize` from the evidence read one canonical tile at a time.

    Parameters
    ----------
    tiles
        ``(tile id, tile GeoBox, read)`` of every canonical tile of the sub-grid, in the
        order of :func:`grid.iter_tile_geoboxes`; ``read(names)`` returns the tile's
        docs §3 variables ``names`` as 2-D numpy arrays on the tile GeoBox.  A tile
        outside the evidence reads as no evidence (``confidence`` 0, NaN, -1, False).
    variables
        The variables the evidence has (at least ``confidence``).
    config, footprints, min_clear_frac
        As for :func:`vectorize`.

    Returns
    -------
    EvidenceVectors
        Equal to ``vectorize`` of the mosaic of the tiles; only one tile's arrays
        are held at a time.
    """
    cfg = config or PolygonizeConfig()
    if "confidence" not in variables:
        raise SitesInputError("the evidence has no 'confidence' variable; pass the output of "
                              "change.mining.peti_evidence (docs §3)")
    names = [n for n in ("confidence", "score", "n_confirm", "first_detected", "last_detected", "last_active",
                         "kinds", *INDEX_VARS, "permanent_water") if n in variables]
    has_clear = "n_clear" in variables
    fp = None
    acc: dict[str, np.ndarray] = {}
    if footprints is not None and len(footprints):
        fp = footprints.to_crs(_CRS) if footprints.crs is not None else footprints
        n = len(fp)
        acc = {"sum": np.zeros(n), "n": np.zeros(n), "px": np.zeros(n), "conf": np.zeros(n, dtype="int64")}
        if has_clear:
            names.append("n_clear")
            acc["clear"] = np.zeros(n)
            acc["looks"] = np.zeros((n, _MAX_LOOKS + 1), dtype="int64")
    parts: list[dict[str, Any]] = []
    water: list[Any] = []
    for tid, tgbox, read in tiles:
        a = read(names)
        mask = a["confidence"] >= cfg.min_confidence
        labels, n = ndimage.label(mask)
        if n:
            parts.extend(_component_parts(a, labels.astype("int32"), n, tid, tgbox.affine))
        if "permanent_water" in a and a["permanent_water"].any():
            pw = a["permanent_water"].astype("uint8")
            water.extend(shapely.geometry.shape(g) for g, _ in
                         rasterio.features.shapes(pw, mask=pw > 0, connectivity=4, transform=tgbox.affine))
        if fp is not None:
            _footprint_sums(a, fp, tgbox, acc)
        del a, mask, labels
    rows = [_combine([parts[i] for i in g], cfg) for g in _merge_seams(parts)] if parts else []
    min_px = cfg.mmu_ha / _PX_HA
    rows = [r for r in rows if r["n_px"] >= min_px - 1e-9]
    for r in rows:
        r["area_ha"] = round(r["n_px"] * _PX_HA, 4)
        r["geometry"] = _simplify(r["geometry"], cfg.simplify_m)
    cols = ["area_ha", "n_px", "confidence", "score", "n_confirm", "first_detected", "last_detected",
            *(["last_active"] if "last_active" in variables else []), "kinds", *INDEX_VARS, "tiles"]
    sites = gpd.GeoDataFrame(pd.DataFrame(rows, columns=[*cols, "geometry"]), geometry="geometry", crs=_CRS)
    if len(sites):
        c = sites.geometry.centroid
        sites = sites.assign(_y=-c.y.round(1), _x=c.x.round(1)).sort_values(["_y", "_x"])
        sites = sites.drop(columns=["_y", "_x"]).reset_index(drop=True)
    wgdf = gpd.GeoDataFrame(geometry=gpd.GeoSeries(water, crs=_CRS))
    stats = pd.DataFrame(columns=["d_ndvi", "confidence", "n_px", *(["clear_frac", "clear_looks"] if has_clear
                                                                     else [])],
                         index=pd.Index([], name="site_id"))
    if fp is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(acc["n"] > 0, acc["sum"] / np.maximum(acc["n"], 1), np.nan)
        stats = pd.DataFrame({"d_ndvi": mean, "confidence": acc["conf"], "n_px": acc["px"].astype("int64")},
                             index=pd.Index(fp["site_id"].astype(str).values, name="site_id"))
        if has_clear:
            stats["clear_frac"] = np.where(acc["px"] > 0, acc["clear"] / np.maximum(acc["px"], 1), np.nan)
            stats["clear_looks"] = clear_looks(acc["looks"], min_clear_frac)
    return EvidenceVectors(sites=sites, water=wgdf, footprint_stats=stats)
