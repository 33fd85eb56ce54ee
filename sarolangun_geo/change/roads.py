"""Road damage per fixed road segment and ISO week.

Roads (coal-truck routes, village dirt roads, estate tracks) are cut into fixed
segments (:func:`split_segments`, 100 m by default; ids ``{road_id}-{k:04d}``
are stable as long as the road geometry is).  Each segment owns a corridor of
pixels (:func:`segment_raster`, centre line buffered by ``corridor_half_width_m``).

The weekly scoring runs in two steps, so that the heavy part runs per tile:

1. :func:`road_tile_evidence` (per tile, in the tile's worker): every corridor
   pixel's clear composite against the pixel's own baseline, as a compact table of
   continuous values, with the two *spatial* terms that need the whole raster: the
   share of the land around that changed (an estate clearing, a flooded field or a
   new neighbourhood is area-wide; a slide or mud on the road is not) and the
   darkening of the land around (cloud shadow, haze, terrain illumination and leaf
   fall darken the surroundings too; wet mud on the road does not);
2. :func:`score_from_tiles` (once, after the tiles): concatenates the tables,
   removes what the whole road network shared this week (its median darkening
   against the surroundings: every dirt road wets alike), turns the values into
   evidence flags of a change of material (:func:`pixel_flags`), takes the shares per
   segment, combines them into a score, and carries a small per-segment state from
   week to week (*persistence*, :func:`~sarolangun_geo.change.road_state.advance_state`:
   evidence on two looks, or on one decisive look of damage across neighbouring
   segments, with less evidence needed next to a damaged segment of the same road
   and none counted while the land around settles after an area-wide change).

:func:`score_segments` is the whole-AOI convenience wrapper of both steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from shapely.geometry import LineString, MultiLineString
from shapely.ops import substring

from ..grid import CRS_EPSG, check_grid
from ..indices import bsi, mndwi, ndvi, normalized_difference
from .disk_sums import disk_area, disk_r2, disk_sums, pixels
from .params import RoadParams
from .road_state import (
    STATE_COLUMNS,
    STATE_EXTRA_COLUMNS,
    advance_state,
    carry_last_look,
    neighbour_damaged,
    neighbours,
    shift_bits,
)

__all__ = [
    "KINDS",
    "PIXEL_COLUMNS",
    "PIXEL_PARAMS",
    "SEGMENT_COLUMNS",
    "STATE_COLUMNS",
    "STATE_EXTRA_COLUMNS",
    "advance_state",
    "pixel_flags",
    "road_pixel_evidence",
    "road_tile_evidence",
    "score_from_tiles",
    "score_segments",
    "segment_raster",
    "split_segments",
]

SEGMENT_COLUMNS = ["segment_id", "road_id", "geometry", "week", "score", "confidence", "damaged",
                   "water", "bare", "veg_loss", "surface_change", "n_clear"]
#: Columns of the per-tile pixel table (:func:`road_tile_evidence`).
PIXEL_COLUMNS = ["segment", "scorable", "valid", "n_clear", "mndwi", "redness", "d_ndvi", "d_bsi", "d_mndwi",
                 "base_ndvi", "water_freq", "darkening", "angle", "dark_ctx", "context"]
#: RoadParams fields the per-tile step uses (the others only matter when combining).
PIXEL_PARAMS = frozenset({"corridor_half_width_m", "river_buffer_m", "context_radius_m", "context_min_seen",
                          "dark_radius_m", "bare_dbsi", "veg_loss_dndvi", "veg_base_ndvi", "water_mndwi",
                          "max_base_water_freq", "water_dmndwi", "river_land_scoring",
                          "river_land_max_water_freq", "river_land_max_mndwi"})
#: Evidence kinds (the shares published per segment).
KINDS = ("water", "bare", "veg_loss", "surface_change")
_STATS = ("ndvi_median", "bsi_median", "mndwi_median", "nir_median", "swir16_median", "water_freq",
          "permanent_water")
#: The arrays :func:`_spectral_angle` reads.
_ANGLE_KEYS = ("blue", "green", "red", "nir", "swir16", "nir_median", "swir16_median", "ndvi_median",
               "mndwi_median", "bsi_median")


# --------------------------------------------------------------------------- segments

def _parts(geom: Any) -> list[LineString]:
    if isinstance(geom, LineString):
        return [geom]
    if isinstance(geom, MultiLineString):
        return list(geom.geoms)
    return []


def split_segments(roads: gpd.GeoDataFrame, length_m: float = 100.0) -> gpd.GeoDataFrame:
    """Cut road LineStrings into fixed-length segments (EPSG:32748).

    ``roads`` needs a ``road_id`` column and a CRS.  Segment ``k`` of a road
    runs from ``k * length_m`` to ``(k + 1) * length_m`` along it (the last is
    shorter); parts of a MultiLineString continue the numbering.  Returns
    ``segment_id`` (``{road_id}-{k:04d}``), ``road_id``, ``geometry``.
    """
    if roads.crs is None:
        from ..errors import AOIError

        raise AOIError("the roads GeoDataFrame has no CRS; set it with .set_crs('EPSG:4326')")
    r = roads.to_crs(CRS_EPSG)
    rows = []
    for road_id, geom in zip(r["road_id"], r.geometry, strict=False):
        k = 0
        for part in _parts(geom):
            n = max(1, int(np.ceil(part.length / length_m - 1e-9)))
            for i in range(n):
                seg = substring(part, i * length_m, min((i + 1) * length_m, part.length))
                if seg.length <= 0:
                    continue
                rows.append({"segment_id": f"{road_id}-{k:04d}", "road_id": str(road_id), "geometry": seg})
                k += 1
    return gpd.GeoDataFrame(rows, columns=["segment_id", "road_id", "geometry"], geometry="geometry",
                            crs=f"EPSG:{CRS_EPSG}")


def segment_raster(segments: gpd.GeoDataFrame, template: Any, half_width_m: float) -> xr.DataArray:
    """Raster of segment numbers (int32, row + 1; 0 = no road) on the grid of ``template``.

    Each segment is buffered by ``half_width_m`` (flat ends); where corridors
    overlap (junctions), the later segment wins.  A tile's raster uses the
    numbers of the whole ``segments`` table, so tiles of one run agree.
    """
    from rasterio.features import rasterize

    gbox = check_grid(template)
    geoms = segments.to_crs(CRS_EPSG).geometry.buffer(half_width_m, cap_style="flat")
    ext = gbox.extent.geom
    shapes = [(g, i + 1) for i, g in enumerate(geoms) if not g.is_empty and g.intersects(ext)]
    arr = rasterize(shapes, out_shape=gbox.shape, transform=gbox.affine, fill=0, dtype="int32",
                    all_touched=False) if shapes else np.zeros(gbox.shape, "int32")
    ref = template if isinstance(template, xr.DataArray) else next(iter(template.data_vars.values()))
    ref = ref.isel({d: 0 for d in ref.dims if d not in ("y", "x")}, drop=True)
    return xr.DataArray(arr, dims=("y", "x"), coords={k: v for k, v in ref.coords.items()
                                                       if k in ("y", "x", "spatial_ref")}, name="segment")


# --------------------------------------------------------------------------- step 1: per tile

def _surroundings(seen: np.ndarray, land: np.ndarray, dark: np.ndarray, params: RoadParams,
                  pix: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(``context``, ``dark_ctx``): share of the clear land around that changed, its mean darkening.

    Disk means (the disk of :func:`sarolangun_geo.masking.disk`) over the clear
    (``seen``) pixels, NaN where less than ``context_min_seen`` of the disk was
    clear; the darkening is summed as 1e-4 integer codes, so the sums are exact.
    Evaluated at the pixels ``pix`` (:func:`~sarolangun_geo.change.disk_sums.pixels`) only.
    """
    r2 = disk_r2(max(1, round(params.context_radius_m / 10.0)))
    rd2 = disk_r2(max(1, round(params.dark_radius_m / 10.0)))
    n, nd = disk_sums(seen, (r2, rd2), pix)
    (changed,) = disk_sums(land & seen, (r2,), pix)
    code = np.where(seen, np.rint(np.clip(np.nan_to_num(dark), -1, 1) * 1e4), 0).astype(np.int64)
    (dsum,) = disk_sums(code, (rd2,), pix)
    context = np.where(n >= params.context_min_seen * disk_area(r2), changed / np.maximum(n, 1), np.nan)
    dark_ctx = np.where(nd >= params.context_min_seen * disk_area(rd2), dsum / np.maximum(nd, 1) * 1e-4, np.nan)
    return context, dark_ctx


def _near_river(permanent_water: np.ndarray, params: RoadParams, pix: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Within ``river_buffer_m`` (Euclidean, between pixel centres) of baseline permanent water in the tile."""
    pw = np.asarray(permanent_water).astype(bool)
    if not pw.any():
        return np.zeros(np.broadcast_shapes(pix[0].shape, pix[1].shape), bool)
    d = params.river_buffer_m / 10.0
    return disk_sums(pw, (int(np.floor(d * d)),), pix)[0] > 0


def _river_land(a: dict[str, np.ndarray], mndwi_now: np.ndarray, seen: np.ndarray, params: RoadParams,
                at: Any) -> np.ndarray:
    """Pixels near a river that are scored anyway: land in the baseline and not water this week.

    Near a river (:func:`_near_river`) the false alarms come from the water itself: the stage
    rises over the banks and falls again, dry-season sandbars emerge and drown, mixed pixels at
    the water's edge hold more or less water from week to week.  Each of these is a pixel that
    is water in its baseline some of the time, or water now.  A bridge approach or a road along
    the bank is neither, and its damage (a slide, soil washed over it, a cut through the verge,
    mud and ruts) is a change of land material that the non-water kinds see; so, with
    ``river_land_scoring``, a pixel near a river is scored when

    * its baseline saw water on at most ``river_land_max_water_freq`` of its clear looks (a
      sandbar or bank the river covers in some season, even briefly, is out), and its baseline
      median MNDWI is at most ``river_land_max_mndwi`` (well below the water line: a pixel at
      the water's edge that holds part of the channel has its median near it), and
    * it is clear this week with MNDWI at most ``water_mndwi`` (not water now: a high stage over
      the bank or a flooded approach is out this week, neither evidence nor cloud).  Its ``water``
      kind therefore never fires (it needs MNDWI above ``water_mndwi``): near rivers only soil,
      vegetation loss and darkening of the surface count.

    A pixel of this kind under cloud counts as a scorable pixel that was not clear.  ``at``
    selects the scored pixels (as in :func:`_pixel_values`).  All False unless ``river_land_scoring``.
    """
    wf, med = at(a["water_freq"]), at(a["mndwi_median"])
    if not params.river_land_scoring:
        return np.zeros(np.shape(wf), bool)
    base_land = (wf <= params.river_land_max_water_freq) & (med <= params.river_land_max_mndwi)
    wet_now = at(seen) & ~(at(mndwi_now) <= params.water_mndwi)
    return base_land & ~wet_now


def _spectral_angle(a: dict[str, np.ndarray]) -> np.ndarray:
    """Angle (degrees) between the week's ``blue..swir16`` spectrum and the baseline's.

    The baseline spectrum is rebuilt from the medians the baseline keeps (NIR and
    SWIR16 reflectance; red from NDVI, green from MNDWI, blue from BSI).  A change of
    illumination (terrain shading in another season, thin haze) scales every band
    alike and leaves the angle near 0; a new material (mud, water, soil) turns it.
    """
    n, s = a["nir_median"], a["swir16_median"]
    r = n * (1 - a["ndvi_median"]) / (1 + a["ndvi_median"])
    g = s * (1 + a["mndwi_median"]) / (1 - a["mndwi_median"])
    b = ((s + r) * (1 - a["bsi_median"]) - n * (1 + a["bsi_median"])) / (1 + a["bsi_median"])
    base = np.stack([np.maximum(b, 0), g, r, n, s])
    now = np.stack([a[k] for k in ("blue", "green", "red", "nir", "swir16")])
    cos = (base * now).sum(0) / np.sqrt((base * base).sum(0) * (now * now).sum(0))
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def _pixel_values(a: dict[str, np.ndarray], params: RoadParams, where: np.ndarray | None = None
                  ) -> dict[str, np.ndarray]:
    """The per-pixel values of :data:`PIXEL_COLUMNS` (but ``segment``/``n_clear``).

    ``a`` holds whole 2-D arrays (bands and statistics).  What the surroundings
    need (clear, changed, darkening) is computed on the whole array; the rest,
    and the disk means, only at the ``where`` pixels (1-D results, row-major), or
    everywhere when ``where`` is None (2-D results).
    """
    def at(x: np.ndarray) -> np.ndarray:
        return x if where is None else x[where]

    with np.errstate(invalid="ignore", divide="ignore"):
        now = {"ndvi": ndvi(nir=a["nir"], red=a["red"]), "mndwi": mndwi(green=a["green"], swir16=a["swir16"]),
               "bsi": bsi(blue=a["blue"], red=a["red"], nir=a["nir"], swir16=a["swir16"])}
        d = {k: now[k] - a[f"{k}_median"] for k in now}
        ref = a["nir_median"] + a["swir16_median"]
        dark = 1.0 - (a["nir"] + a["swir16"]) / np.where(ref > 0, ref, np.nan)
        seen = np.isfinite(d["ndvi"]) & np.isfinite(d["bsi"]) & np.isfinite(d["mndwi"]) & np.isfinite(dark)
        water = (now["mndwi"] > params.water_mndwi) & (a["water_freq"] < params.max_base_water_freq) \
            & (d["mndwi"] > params.water_dmndwi)
        land = ((a["ndvi_median"] >= params.veg_base_ndvi) & (d["ndvi"] < params.veg_loss_dndvi)) \
            | (d["bsi"] > params.bare_dbsi) | water
        pix = pixels(seen.shape, where)
        if params.river_land_scoring:
            # the land around a pixel scored near a river is land: the river, its sandbars and the
            # swamps the baseline saw wet (water_freq above max_base_water_freq) change with the
            # stage (turbid high water brightens, a drowned sandbar darkens) and are left out of
            # both the changed share and the darkening of the surroundings
            context, dark_ctx = _surroundings(seen & ~(a["water_freq"] > params.max_base_water_freq), land, dark,
                                              params, pix)
        else:
            context, dark_ctx = _surroundings(seen, land, dark, params, pix)
        p = {k: at(a[k]) for k in (*_ANGLE_KEYS, "ndvi_median", "water_freq")}
        scorable = np.isfinite(p["ndvi_median"]) & np.isfinite(at(ref)) \
            & (~_near_river(a["permanent_water"], params, pix) | _river_land(a, now["mndwi"], seen, params, at))
        valid = at(seen) & scorable
        out = {"mndwi": at(now["mndwi"]), "redness": normalized_difference(p["red"], p["blue"]),
               "d_ndvi": at(d["ndvi"]), "d_bsi": at(d["bsi"]), "d_mndwi": at(d["mndwi"]),
               "base_ndvi": p["ndvi_median"], "water_freq": p["water_freq"], "darkening": at(dark),
               "angle": _spectral_angle(p), "dark_ctx": dark_ctx, "context": context}
        out = {k: np.where(valid, v, np.nan).astype(np.float32) for k, v in out.items()}
    return {"scorable": scorable, "valid": valid, **out}


def _arrays(composite: xr.Dataset, stats: xr.Dataset, extra: dict[str, Any]) -> dict[str, np.ndarray]:
    """The bands and statistics as numpy arrays (one compute for dask-backed inputs)."""
    import dask

    arrays = {**{b: composite[b].data for b in ("blue", "green", "red", "nir", "swir16")},
              **{k: stats[k].data for k in _STATS}, **extra}
    return {k: np.asarray(v) for k, v in zip(arrays, dask.compute(*arrays.values()), strict=True)}


def road_tile_evidence(composite: xr.Dataset, stats: xr.Dataset, seg_raster: xr.DataArray,
                       params: RoadParams) -> pd.DataFrame:
    """Per-pixel road evidence of one tile and week: a compact table of its corridor pixels.

    Parameters
    ----------
    composite
        One week of :func:`sarolangun_geo.composites.weekly_composite` (dims ``y, x``:
        ``blue, green, red, nir, swir16`` reflectance, NaN without a clear look; ``n_clear``).
    stats
        :func:`sarolangun_geo.baseline.baseline_stats` on the same grid.
    seg_raster
        :func:`segment_raster` of the run's segments on the same grid.

    Returns
    -------
    pandas.DataFrame
        One row per corridor pixel (``seg_raster > 0``, row-major), :data:`PIXEL_COLUMNS`:
        ``segment`` (int32 raster value), ``scorable`` (bool: has a baseline and is not
        within ``river_buffer_m`` of permanent water, unless it is land there by
        :func:`_river_land`), ``valid`` (bool: scorable and clear this week), ``n_clear`` (uint16) and float32
        (NaN where not valid): ``mndwi`` and ``redness`` (``(red - blue) / (red + blue)``)
        of the week; ``d_ndvi, d_bsi, d_mndwi`` (minus the baseline median);
        ``base_ndvi``, ``water_freq`` (baseline); ``darkening`` (``1 - (nir + swir16)``
        over its baseline); ``angle`` (degrees between the week's spectrum and the
        baseline's, :func:`_spectral_angle`); ``dark_ctx`` (mean darkening of the clear land within
        ``dark_radius_m``) and ``context`` (share of the clear land within
        ``context_radius_m`` that lost vegetation, became bare or newly wet); both NaN
        when less than ``context_min_seen`` of the disk was clear, and tile-local (a
        pixel that close to the tile edge sees its own tile's side only).  This is
        where the per-tile step computes: the result is a table.
    """
    gbox = check_grid(composite)
    check_grid(stats, gbox)
    check_grid(seg_raster, gbox)
    a = _arrays(composite, stats, {"seg": seg_raster.data, "n_clear": composite["n_clear"].data})
    on = a["seg"] > 0
    if not on.any():
        return _empty_pixels()
    cols = {"segment": a["seg"][on].astype(np.int32), "n_clear": np.nan_to_num(
        a["n_clear"][on].astype("float64")).astype(np.uint16)}
    cols.update(_pixel_values(a, params, on))
    return pd.DataFrame(cols, columns=PIXEL_COLUMNS)


def _empty_pixels() -> pd.DataFrame:
    dtypes = {"segment": np.int32, "scorable": bool, "valid": bool, "n_clear": np.uint16}
    return pd.DataFrame({c: np.array([], dtypes.get(c, np.float32)) for c in PIXEL_COLUMNS})


# --------------------------------------------------------------------------- step 2: combine

def pixel_flags(px: Any, params: RoadParams, network_darkening: float = 0.0) -> dict[str, Any]:
    """Evidence flags from the per-pixel values (a :data:`PIXEL_COLUMNS` table or a dict of arrays).

    * ``water``: MNDWI above ``water_mndwi`` and ``water_dmndwi`` above the baseline
      where the baseline rarely saw water (standing water, liquid mud);
    * ``bare``: BSI up by ``bare_dbsi`` on a soil-coloured surface (``redness`` at
      least ``bare_min_redness``: the iron-oxide red slope of the region's soils;
      roofs and concrete are grey): a slide or soil washed over the road, a broken surface;
    * ``veg_loss``: NDVI down by ``|veg_loss_dndvi|`` where the baseline was vegetated,
      and the new surface soil-coloured (``redness`` at least ``veg_loss_min_redness``)
      or darker than the land around by ``veg_loss_dark_min`` (mud, wet debris): a slide
      scar or mud over the verge, not the grey roofs and yards of new buildings;
    * ``surface_change``: NIR + SWIR16 darkened by ``dark_min`` more than the land
      around it, beyond what the road network did this week, with the spectrum's
      shape turned by ``dark_min_angle`` degrees from the baseline's (wet mud, ruts;
      terrain shading in another season only scales the spectrum), and a change of
      material: NDVI down by at least ``|dark_max_dndvi|`` (mud and ruts over the verge
      the mixed road pixels hold) with BSI not down by more than ``|dark_min_dbsi|`` (a
      darkening with unchanged greenness is wetter or shaded vegetation); not judged where
      too little of the land around was clear;
    * every kind is dropped where more than ``context_max_frac`` of the land around
      changed (area-wide change is not a feature of the road); ``bare`` and ``veg_loss``
      already where more than ``context_max_frac_land`` changed (clearing and building
      convert land patch by patch, so the share lags behind the conversion; a flood or
      a wet week changes the land around at once).

    ``network_darkening`` is the median local darkening of the whole road network
    this week (see :func:`score_from_tiles`).  NaN values give False; ``valid`` is
    passed through.
    """
    valid = px["valid"]
    keep = valid & ~(px["context"] > params.context_max_frac)
    keep_land = valid & ~(px["context"] > min(params.context_max_frac, params.context_max_frac_land))
    local_dark = _local_darkening(px) - network_darkening
    water = (px["mndwi"] > params.water_mndwi) & (px["water_freq"] < params.max_base_water_freq) \
        & (px["d_mndwi"] > params.water_dmndwi)
    bare = (px["d_bsi"] > params.bare_dbsi) & (px["redness"] >= params.bare_min_redness)
    veg = (px["base_ndvi"] >= params.veg_base_ndvi) & (px["d_ndvi"] < params.veg_loss_dndvi) \
        & ((px["redness"] >= params.veg_loss_min_redness) | (local_dark >= params.veg_loss_dark_min))
    dark = (local_dark > params.dark_min) & (px["angle"] >= params.dark_min_angle) \
        & (px["d_ndvi"] <= params.dark_max_dndvi) & (px["d_bsi"] >= params.dark_min_dbsi)
    return {"valid": valid, "water": water & keep, "bare": bare & keep_land, "veg_loss": veg & keep_land,
            "surface_change": dark & keep}


def _local_darkening(px: Any) -> Any:
    """Darkening of the pixel beyond the land around it (NaN where too little of that was clear:
    next to a cloud, a shadow cannot be told from mud)."""
    return px["darkening"] - px["dark_ctx"]


def _network_darkening(px: pd.DataFrame) -> float:
    """Median local darkening of the valid corridor pixels of the whole network (0 if none)."""
    d = np.asarray(_local_darkening(px), "float64")[np.asarray(px["valid"], bool)]
    d = d[np.isfinite(d)]
    return float(np.median(d)) if d.size else 0.0


def _around_segments(px: pd.DataFrame, valid: Any, per_segment: Any, params: RoadParams
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per segment: the summed ``context`` of its clear corridor pixels (NaN, unknown, counted as 1: changed),
    and whether its surroundings changed area-wide (their mean judged ``context`` above ``context_max_frac``)."""
    ctx = np.asarray(px["context"], "float64")
    valid = np.asarray(valid, bool)
    around = per_segment(np.where(valid, np.nan_to_num(ctx, nan=1.0), 0.0))
    judged = valid & np.isfinite(ctx)
    wide = per_segment(np.where(judged, ctx, 0.0)) > params.context_max_frac * np.maximum(per_segment(judged), 1)
    return around, wide


def _best_neighbour(links: tuple[np.ndarray, ...], value: np.ndarray) -> np.ndarray:
    """The larger ``value`` of each segment's neighbours (:func:`neighbours`; -1 without one)."""
    if not len(value):
        return np.zeros(0)
    return np.max([np.where(link >= 0, value[np.maximum(link, 0)], -1.0) for link in links], axis=0)


def score_from_tiles(segments: gpd.GeoDataFrame, tables: Sequence[pd.DataFrame], week: str,
                     params: RoadParams, previous: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """Score every segment for one week from the tiles' pixel tables (docs/architecture.md §3).

    Parameters
    ----------
    segments
        The run's :func:`split_segments` table (the one the tiles' ``seg_raster`` came from).
    tables
        :func:`road_tile_evidence` of every tile of the week.
    week
        ISO week label ``YYYY-Www``.
    previous
        Last week's result of this function, or None (no history).  Matched on
        ``segment_id``; segments without history start fresh.

    Returns
    -------
    GeoDataFrame (EPSG:32748)
        :data:`SEGMENT_COLUMNS`, :data:`STATE_COLUMNS` then :data:`STATE_EXTRA_COLUMNS`,
        one row per segment.
        A segment *looked* this week when at least ``min_clear_frac`` of its scorable
        corridor pixels, and at least ``min_clear_px`` pixels, were clear.  The shares
        ``water, bare, veg_loss, surface_change`` (of the clear corridor pixels) and
        ``score`` (noisy-OR of the shares, each saturating at ``frac_scale`` and weighted
        by ``w_<kind>``: 0..1) are those of the last look (``last_look``; 0 before any);
        ``evidence`` is True when this week's look scored ``damaged_score`` or more, or
        ``support_score`` or more next to a segment of the same road that was damaged
        last week (:func:`~sarolangun_geo.change.road_state.neighbours`), unless the
        segment's surroundings changed area-wide (mean ``context`` of its clear corridor
        pixels above ``context_max_frac``; bitmask ``wide``) on one of its last
        ``context_memory_looks`` looks.  A look is *decisive* when it scored
        ``single_look_score`` or more with at least ``single_look_min_clear_frac`` of the
        scorable pixels and ``single_look_min_px`` pixels clear, the land around quiet
        (mean ``context`` of the clear corridor pixels, NaN counted as 1, at most
        ``single_look_max_context``) and a neighbour on the road seen this week with a
        score of at least ``single_look_neighbour_score``.
        ``damaged`` (persistent): see :func:`advance_state`.  ``confidence`` is 0 unless
        damaged, then 1 plus the number of ``confidence_steps`` the score reaches.
        ``n_clear`` is this week's mean number of clear acquisitions over the corridor.
    """
    n = len(segments) + 1
    nonempty = [t for t in tables if len(t)]
    px = pd.concat(nonempty, ignore_index=True) if nonempty else _empty_pixels()
    fl = pixel_flags(px, params, _network_darkening(px))
    ids = px["segment"].to_numpy()

    def per_segment(w: Any) -> np.ndarray:
        return np.bincount(ids, weights=np.asarray(w, "float64"), minlength=n)[1:n]

    n_pix = np.maximum(per_segment(np.ones(len(px))), 1)
    n_valid = per_segment(fl["valid"])
    n_scorable = per_segment(px["scorable"])  # pixels near rivers not scored (_river_land): not a cloud
    looked = (n_valid >= params.min_clear_frac * n_scorable) & (n_valid >= params.min_clear_px)
    shares = {k: np.where(looked, per_segment(fl[k]) / np.maximum(n_valid, 1), 0.0) for k in KINDS}
    w = {"water": params.w_water, "bare": params.w_bare, "veg_loss": params.w_veg_loss,
         "surface_change": params.w_surface_change}
    score = 1.0 - np.prod([1.0 - w[k] * np.minimum(shares[k] / params.frac_scale, 1.0) for k in KINDS], axis=0)
    out = pd.DataFrame(segments[["segment_id", "road_id", "geometry"]])
    sid = out["segment_id"].to_numpy()
    links = neighbours(segments)
    around, wide_now = _around_segments(px, fl["valid"], per_segment, params)
    wide = shift_bits(sid, looked, wide_now, previous, "wide")
    settled = (wide & ((1 << min(params.context_memory_looks, 16)) - 1)) == 0
    supported = neighbour_damaged(sid, links, previous)
    evidence = looked & settled & ((score >= params.damaged_score) | (supported & (score >= params.support_score)))
    decisive = looked & (score >= params.single_look_score) & (n_valid >= params.single_look_min_px) \
        & (n_valid >= params.single_look_min_clear_frac * n_scorable) \
        & (around <= params.single_look_max_context * np.maximum(n_valid, 1)) \
        & (_best_neighbour(links, np.where(looked, score, -1.0)) >= params.single_look_neighbour_score)
    state = advance_state(sid, looked, evidence, week, params, previous, decisive)
    last = carry_last_look(sid, looked, {"score": score, **shares}, previous)
    steps = np.asarray(tuple(params.confidence_steps), "float64")
    conf = np.where(state["damaged"], 1 + (last["score"][:, None] >= steps[None, :]).sum(axis=1), 0)
    out["week"] = week
    out["score"] = last["score"].astype("float32")
    out["confidence"] = conf.astype("uint8")
    out["damaged"] = state["damaged"]
    for k in KINDS:
        out[k] = last[k].astype("float32")
    out["n_clear"] = np.rint(per_segment(px["n_clear"]) / n_pix).astype(int)
    out["evidence"] = evidence
    state["wide"] = wide
    for k in STATE_COLUMNS[1:] + STATE_EXTRA_COLUMNS:
        out[k] = state[k]
    return gpd.GeoDataFrame(out[SEGMENT_COLUMNS + STATE_COLUMNS + STATE_EXTRA_COLUMNS], geometry="geometry",
                            crs=f"EPSG:{CRS_EPSG}")


# --------------------------------------------------------------------------- whole-mosaic wrappers

def score_segments(segments: gpd.GeoDataFrame, composite: xr.Dataset, stats: xr.Dataset,
                   params: RoadParams, week: str, seg_raster: xr.DataArray | None = None,
                   previous: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """Score every segment for one week on one mosaic: :func:`road_tile_evidence` + :func:`score_from_tiles`.

    ``composite`` is one week of :func:`sarolangun_geo.composites.weekly_composite`
    (dims ``y, x``), ``stats`` the baseline statistics on the same grid,
    ``seg_raster`` an optional precomputed :func:`segment_raster` (reuse it week
    after week) and ``previous`` last week's result (persistence).  Returns the
    table of :func:`score_from_tiles`.
    """
    if seg_raster is None:
        seg_raster = segment_raster(segments, composite, params.corridor_half_width_m)
    table = road_tile_evidence(composite, stats, seg_raster, params)
    return score_from_tiles(segments, [table], week, params, previous)


def road_pixel_evidence(obs: xr.Dataset, stats: xr.Dataset, params: RoadParams,
                        network_darkening: float = 0.0) -> xr.Dataset:
    """Per-pixel evidence flags of one clear composite as rasters (bool, ``y, x``), for maps.

    Every pixel is scored as if it were on a road, with the rules of
    :func:`pixel_flags`.  ``obs`` needs ``blue, green, red, nir, swir16``; ``stats``
    the baseline statistics on the same ``(y, x)`` shape.  Returns ``valid``,
    ``water``, ``bare``, ``veg_loss``, ``surface_change`` (bool) and ``darkening``,
    ``dark_ctx``, ``context`` (float32, NaN where not valid).  Computes.
    """
    v = _pixel_values(_arrays(obs, stats, {}), params)
    fl = pixel_flags(v, params, network_darkening)
    ref = obs["nir"]
    coords = {k: c for k, c in ref.coords.items() if k in ("y", "x", "spatial_ref")}
    out = {k: (ref.dims, np.asarray(f, bool)) for k, f in fl.items()}
    out.update({k: (ref.dims, v[k]) for k in ("darkening", "dark_ctx", "context")})
    return xr.Dataset(out, coords=coords)
