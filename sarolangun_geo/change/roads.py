"""Road damage per fixed road segment and ISO week.

Roads (coal-truck routes, village dirt roads) are cut into fixed segments
(:func:`split_segments`, 100 m by default; ids ``{road_id}-{k:04d}`` are
stable as long as the road geometry is).  Each segment owns a corridor of
pixels (:func:`segment_raster`, centre line buffered by
``corridor_half_width_m``).  Per week, the clear composite of every corridor
pixel is compared with the pixel's baseline (:func:`road_pixel_evidence`):

* ``water``: standing water or liquid mud (MNDWI > 0 where the baseline rarely
  saw water – not a river crossing);
* ``bare``: exposed soil (BSI up on the baseline: a paved surface broken up,
  or soil washed/slid onto the road);
* ``veg_loss``: vegetation lost across the corridor (landslide scar, cut);
* ``surface_change``: any index moved by more than ``change_z`` robust sigmas.

The shares of clear corridor pixels with each kind are the evidence floats;
their weighted, saturating sum is the ``score`` (0..1); ``damaged`` when the
score reaches ``damaged_score`` and enough of the corridor was clear.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from shapely.geometry import LineString, MultiLineString
from shapely.ops import substring

from ..grid import CRS_EPSG, check_grid
from ..indices import compute_indices
from ..masking import focal_mean, within_distance
from .params import RoadParams

__all__ = [
    "SEGMENT_COLUMNS",
    "road_pixel_evidence",
    "score_segments",
    "segment_raster",
    "split_segments",
]

SEGMENT_COLUMNS = ["segment_id", "road_id", "geometry", "week", "score", "confidence", "damaged",
                   "water", "bare", "veg_loss", "surface_change", "n_clear"]
_KINDS = ("water", "bare", "veg_loss", "surface_change")


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
    overlap (junctions), the later segment wins.
    """
    from rasterio.features import rasterize

    gbox = check_grid(template)
    geoms = segments.to_crs(CRS_EPSG).geometry.buffer(half_width_m, cap_style="flat")
    shapes = [(g, i + 1) for i, g in enumerate(geoms) if not g.is_empty]
    arr = rasterize(shapes, out_shape=gbox.shape, transform=gbox.affine, fill=0, dtype="int32",
                    all_touched=False) if shapes else np.zeros(gbox.shape, "int32")
    ref = template if isinstance(template, xr.DataArray) else next(iter(template.data_vars.values()))
    ref = ref.isel({d: 0 for d in ref.dims if d not in ("y", "x")}, drop=True)
    return xr.DataArray(arr, dims=("y", "x"), coords={k: v for k, v in ref.coords.items()
                                                       if k in ("y", "x", "spatial_ref")}, name="segment")


def road_pixel_evidence(obs: xr.Dataset, stats: xr.Dataset, params: RoadParams,
                        network_darkening: float | xr.DataArray = 0.0) -> xr.Dataset:
    """Per-pixel road-damage flags of one clear composite against the baseline (bool, y/x).

    ``obs`` holds ``blue, green, red, nir, swir16`` (a week's composite);
    ``stats`` is :func:`sarolangun_geo.baseline.baseline_stats`.

    * ``water``: MNDWI above ``water_mndwi`` where the baseline rarely saw water;
    * ``bare``: BSI up by ``bare_dbsi``; ``veg_loss``: NDVI down by
      ``|veg_loss_dndvi|`` where the baseline was vegetated;
    * ``surface_change``: an index moved by ``change_z`` robust sigmas (and
      ``change_min_abs``), or the surface darkened in NIR + SWIR (wet mud,
      water-filled ruts) by ``dark_min`` more than the road network did this
      week (``network_darkening``: seasonal wetting and calibration shifts
      affect every road alike, a damaged stretch stands out);
    * pixels within ``river_buffer_m`` of permanent water are not scored
      (river stage at bridges and fords), and ``veg_loss``, ``bare`` and
      ``surface_change`` are dropped where more than ``context_max_frac`` of the
      land within ``context_radius_m`` changed (an estate clearing or a new
      neighbourhood, not a feature on the road).

    Also returns ``valid`` and ``darkening`` (float32).
    """
    idx = compute_indices(obs, ("ndvi", "bsi", "mndwi"))
    d = {k: idx[k] - stats[f"{k}_median"] for k in ("ndvi", "bsi", "mndwi")}
    near_river = within_distance(stats["permanent_water"].astype(bool), params.river_buffer_m / 10.0)
    valid = idx["ndvi"].notnull() & stats["ndvi_median"].notnull() & idx["mndwi"].notnull() & ~near_river
    water = (idx["mndwi"] > params.water_mndwi) & (stats["water_freq"] < params.max_base_water_freq)
    bare = d["bsi"] > params.bare_dbsi
    veg_loss = (stats["ndvi_median"] >= params.veg_base_ndvi) & (d["ndvi"] < params.veg_loss_dndvi)
    changed = xr.zeros_like(valid)
    for k in ("ndvi", "bsi", "mndwi"):
        lim = np.maximum(params.change_z * stats[f"{k}_mad"], params.change_min_abs)
        changed = changed | (abs(d[k]) > lim)
    ref = stats["nir_median"] + stats["swir16_median"]
    darkening = (1.0 - (obs["nir"] + obs["swir16"]) / ref.where(ref > 0)).astype("float32")
    changed = changed | ((darkening - network_darkening) > params.dark_min)
    land_change = (veg_loss | bare) & idx["ndvi"].notnull()
    wide = focal_mean(land_change.astype("float32"), max(1, round(params.context_radius_m / 10.0)))
    local = ~(wide > params.context_max_frac)
    return xr.Dataset({"valid": valid, "water": water & valid, "bare": bare & valid & local,
                       "veg_loss": veg_loss & valid & local, "surface_change": changed & valid & local,
                       "darkening": darkening})


def _bincount(ids: Any, weights: Any, n: int) -> Any:
    if hasattr(ids, "dask") or hasattr(weights, "dask"):
        import dask.array as da

        w = da.asarray(weights).ravel()
        i = da.asarray(ids).ravel().rechunk(w.chunks)
        return da.bincount(i, weights=w, minlength=n)
    return np.bincount(np.asarray(ids).ravel(), weights=np.asarray(weights).ravel(), minlength=n)


def score_segments(segments: gpd.GeoDataFrame, composite: xr.Dataset, stats: xr.Dataset,
                   params: RoadParams, week: str, seg_raster: xr.DataArray | None = None) -> gpd.GeoDataFrame:
    """Score every segment for one week (docs/architecture.md §3).

    Parameters
    ----------
    segments
        From :func:`split_segments`.
    composite
        One week of :func:`sarolangun_geo.composites.weekly_composite` (dims ``y, x``:
        bands and ``n_clear``).
    stats
        :func:`sarolangun_geo.baseline.baseline_stats` on the same grid.
    week
        ISO week label ``YYYY-Www``.
    seg_raster
        Optional precomputed :func:`segment_raster` (reuse it week after week).

    Returns
    -------
    GeoDataFrame (EPSG:32748)
        One row per segment: ``segment_id, road_id, geometry, week, score,
        confidence, damaged, water, bare, veg_loss, surface_change, n_clear``.
        The zonal sums are the one place this stage computes (the result is a
        table); segments with too few clear pixels get score 0, confidence 0.
    """
    gbox = check_grid(composite)
    check_grid(stats, gbox)
    if seg_raster is None:
        seg_raster = segment_raster(segments, composite, params.corridor_half_width_m)
    n = len(segments) + 1
    ids = seg_raster.data
    ev0 = road_pixel_evidence(composite, stats, params)
    on_road = (seg_raster > 0) & ev0["valid"]
    import dask

    (dark,) = dask.compute(ev0["darkening"].where(on_road).data)
    dark = np.asarray(dark)
    dark = dark[np.isfinite(dark)]
    net_v = float(np.median(dark)) if dark.size else 0.0  # the whole network's darkening this week
    ev = road_pixel_evidence(composite, stats, params, network_darkening=net_v)
    sums = {"n_pix": _bincount(ids, np.ones(seg_raster.shape), n),
            "valid": _bincount(ids, ev["valid"].data.astype("float64"), n),
            "n_clear": _bincount(ids, composite["n_clear"].fillna(0).data.astype("float64"), n)}
    for k in _KINDS:
        sums[k] = _bincount(ids, ev[k].data.astype("float64"), n)
    sums = dict(zip(sums, dask.compute(*sums.values()), strict=False))
    n_pix = np.maximum(sums["n_pix"][1:], 1)
    n_valid = sums["valid"][1:]
    clear_frac = n_valid / n_pix
    fr = {k: np.where(n_valid > 0, sums[k][1:] / np.maximum(n_valid, 1), 0.0) for k in _KINDS}
    w = {"water": params.w_water, "bare": params.w_bare, "veg_loss": params.w_veg_loss,
         "surface_change": params.w_surface_change}
    score = sum(w[k] * np.minimum(fr[k] / params.frac_scale, 1.0) for k in _KINDS) / sum(w.values())
    ok = clear_frac >= params.min_clear_frac
    score = np.where(ok, score, 0.0)
    damaged = ok & (score >= params.damaged_score)
    s1, s2, s3 = ((*tuple(params.confidence_steps), 1.0, 1.0, 1.0))[:3]
    conf = damaged.astype(int) + (damaged & (score >= s1) & (clear_frac >= 0.8)) + (damaged & (score >= s2)) \
        + (damaged & (score >= s3))
    out = segments[["segment_id", "road_id", "geometry"]].copy()
    out["week"] = week
    out["score"] = score.astype("float32")
    out["confidence"] = conf.astype("uint8")
    out["damaged"] = damaged
    for k in _KINDS:
        out[k] = fr[k].astype("float32")
    out["n_clear"] = np.rint(sums["n_clear"][1:] / n_pix).astype(int)
    return gpd.GeoDataFrame(pd.DataFrame(out)[SEGMENT_COLUMNS], geometry="geometry", crs=f"EPSG:{CRS_EPSG}")

