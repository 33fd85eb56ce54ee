"""Road damage in the pipeline: the run's segments, the per-tile pixel tables, the weekly state.

Each tile's week computes its road pixel table (:func:`tile_road_table`, the
heavy part, in the tile's worker) and stores it next to its snapshot stores:

* ``<state>/roads/<YYYY-Www>/<tile>.npz`` – :func:`~sarolangun_geo.change.roads.road_tile_evidence`
  (one array per column, written atomically before the tile's checkpoint);
* ``<state>/roads/<YYYY-Www>/segments.csv`` – the week's combined segment table
  with its persistence state (:data:`~sarolangun_geo.change.roads.STATE_COLUMNS`),
  written after the tiles; the next week reads it as ``previous``.

Both are pruned with the other snapshots (:func:`.snapshots.prune`).  Segment
ids and raster numbers come from the whole road layer clipped to the regency
(:func:`run_segments`, cached per process), so every tile and the combine step agree.
"""

from __future__ import annotations

import functools
import hashlib
import io
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from .. import aoi, grid
from ..change.params import RoadParams, load_road_params
from ..change.roads import PIXEL_COLUMNS, STATE_COLUMNS, road_tile_evidence, segment_raster, split_segments
from ..errors import ConfigError
from .snapshots import atomic_write_text

__all__ = [
    "ROADS_DIR",
    "damaged_corridors",
    "read_segment_state",
    "read_tile_tables",
    "road_params",
    "run_segments",
    "segments_key",
    "tile_road_table",
    "write_segment_state",
    "write_tile_table",
]

ROADS_DIR = "roads"


def road_params(thresholds: str | Path) -> RoadParams:
    """The road settings of a run: ``roads.toml`` next to its detection thresholds file."""
    return load_road_params(Path(thresholds).with_name("roads.toml"))


@functools.lru_cache(maxsize=4)
def _segments(path: str, mtime_ns: int, size: int, length_m: float) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(path)
    if gdf.crs is None:
        raise ConfigError(f"roads layer {path} has no CRS; save it with one (EPSG:4326 for GeoJSON)")
    lines = gdf.to_crs(grid.CRS_EPSG)
    if "road_id" not in lines:
        lines = lines.assign(road_id=[f"R{i:04d}" for i in range(len(lines))])
    lines = lines.clip(aoi.load_regency().to_crs(grid.CRS_EPSG).union_all())
    lines = lines[~lines.geometry.is_empty]
    return split_segments(lines, length_m)


def run_segments(path: str | Path, params: RoadParams) -> gpd.GeoDataFrame | None:
    """The run's road segments: the whole layer clipped to the regency (ids fixed by that), or None.

    Cached per process on the file's path, modification time and size and the
    segment length, so tiles of a run cut the layer once per worker.  Do not modify
    the returned frame.
    """
    if not path:
        return None
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"[layers] roads = {str(path)!r} does not exist; fix the path or set it to \"\"")
    st = p.stat()
    segs = _segments(str(p.resolve()), st.st_mtime_ns, st.st_size, float(params.segment_length_m))
    return None if segs.empty else segs


def segments_key(segments: gpd.GeoDataFrame) -> str:
    """Fingerprint of a segment table (ids and lengths): the numbering a pixel table refers to."""
    text = "\n".join(f"{s} {x:.1f}" for s, x in zip(segments["segment_id"], segments.length, strict=True))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tile_road_table(roads_path: str | Path, thresholds: str | Path, composite: xr.Dataset,
                    stats: xr.Dataset) -> pd.DataFrame | None:
    """One tile's road pixel table for its week (None when the run has no road layer).

    ``attrs["segments_key"]`` records the segment numbering it refers to.
    """
    params = road_params(thresholds)
    segs = run_segments(roads_path, params)
    if segs is None:
        return None
    seg = segment_raster(segs, composite, params.corridor_half_width_m)
    table = road_tile_evidence(composite, stats, seg, params)
    table.attrs["segments_key"] = segments_key(segs)
    return table


def _tile_path(state_dir: str | Path, week: str, tile: str) -> Path:
    return Path(state_dir) / ROADS_DIR / week / f"{tile}.npz"


def write_tile_table(state_dir: str | Path, week: str, tile: str, table: pd.DataFrame) -> Path:
    """Store a tile's pixel table atomically (``.npz``, one array per column, and its ``segments_key``)."""
    from ..publish._io import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, segments_key=np.array(table.attrs.get("segments_key", "")),
             **{c: table[c].to_numpy() for c in PIXEL_COLUMNS})
    return atomic_write_bytes(_tile_path(state_dir, week, tile), buf.getvalue())


def read_tile_tables(state_dir: str | Path, week: str, tiles: list[str], key: str) -> dict[str, pd.DataFrame]:
    """The stored pixel tables of ``tiles`` for ``week`` made for the segments ``key`` (:func:`segments_key`).

    Tiles without one, or with one of another version (other columns) or for other
    segments (the road layer changed since), are left out: the caller recomputes
    them from the tile's weekly snapshot.
    """
    out = {}
    for t in tiles:
        p = _tile_path(state_dir, week, t)
        if p.is_file():
            with np.load(p) as z:
                if set(PIXEL_COLUMNS) <= set(z.files) and "segments_key" in z.files and str(z["segments_key"]) == key:
                    out[t] = pd.DataFrame({c: z[c] for c in PIXEL_COLUMNS}, columns=PIXEL_COLUMNS)
    return out


def _state_path(state_dir: str | Path, week: str) -> Path:
    return Path(state_dir) / ROADS_DIR / week / "segments.csv"


def write_segment_state(state_dir: str | Path, week: str, scored: pd.DataFrame) -> Path:
    """Store the week's segment table (without geometry) for the next week's persistence."""
    cols = [c for c in scored.columns if c != "geometry"]
    return atomic_write_text(_state_path(state_dir, week), pd.DataFrame(scored[cols]).to_csv(
        index=False, lineterminator="\n"))


def read_segment_state(state_dir: str | Path, week: str | None) -> pd.DataFrame | None:
    """A week's stored segment table, or None (no such week, or written before road state existed)."""
    if week is None or not _state_path(state_dir, week).is_file():
        return None
    text_cols = {"segment_id": str, "road_id": str, "week": str, "last_look": str, "first_damaged": str}
    df = pd.read_csv(_state_path(state_dir, week), dtype=text_cols, keep_default_na=False)
    return df if set(STATE_COLUMNS) <= set(df.columns) else None


def damaged_corridors(state_dir: str | Path, week: str | None, roads_path: str | Path, thresholds: str | Path,
                      template: xr.Dataset | xr.DataArray) -> xr.DataArray | None:
    """Corridor pixels (bool, ``y, x`` of ``template``) of the segments ``week``'s combined table flags damaged.

    For keeping damaged roads out of the baseline fold (as PETI detections are), so
    that a long-lived damage does not become the baseline.  None without a road
    layer or a stored table for ``week``.
    """
    params = road_params(thresholds)
    segs = run_segments(roads_path, params)
    prev = read_segment_state(state_dir, week)
    if segs is None or prev is None:
        return None
    ids = set(prev.loc[prev["damaged"].astype(bool), "segment_id"])
    numbers = np.flatnonzero(segs["segment_id"].isin(ids).to_numpy()) + 1
    seg = segment_raster(segs, template, params.corridor_half_width_m)
    return seg.isin(numbers) if len(numbers) else xr.zeros_like(seg, dtype=bool)
