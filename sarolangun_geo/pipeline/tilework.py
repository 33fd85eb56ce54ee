"""The work of one canonical tile: a backfill or one week.

These functions are the unit of parallelism and of checkpointing: each
reads its inputs (imagery, the previous snapshot), computes with the
synchronous dask scheduler (the parallelism is across tiles), writes its
snapshot stores atomically and, last, its checkpoint.  They take one frozen
:class:`TileJob` so that they can be shipped to dask.distributed workers.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd
import xarray as xr
from odc.geo.xr import xr_zeros

from .. import grid
from ..baseline import (
    BaselineParams,
    empty_state,
    folded_pixels,
    read_state,
    reference_bands,
    refresh_stats,
    season_of,
    state_reference_bands,
    stats_by_season,
    update_state,
    write_state,
)
from ..change.mining import peti_evidence
from ..change.params import load_detection_params
from ..composites import week_bounds, weekly_composite
from ..errors import BaselineError, NoItemsError
from ..masking import clear_mask
from ..sources import load_cube, resolve_source
from .roadwork import tile_road_table, write_tile_table
from .snapshots import mark_tile_done, tile_done

__all__ = ["COMPOSITE_BANDS", "ROAD_STATS", "TileJob", "job_geobox", "run_backfill_tile", "run_week_tile"]

#: Bands kept in the weekly composite store (true colour, SWIR false colour, indices).
COMPOSITE_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
#: Baseline statistics stored with the week for road scoring across tiles.
ROAD_STATS = ("ndvi_median", "ndvi_mad", "bsi_median", "bsi_mad", "mndwi_median", "mndwi_mad", "nir_median",
              "swir16_median", "water_freq", "permanent_water")
#: Acquisitions folded into the baseline per compute during a backfill.
BACKFILL_BATCH = 6


@dataclass(frozen=True)
class TileJob:
    """Everything a tile's unit of work needs (picklable)."""

    tile: str
    window: tuple[int, int, int, int]  # (row0, col0, row1, col1) of the tile's part of the AOI in the regency grid
    label: str                   # the snapshot week written (YYYY-Www)
    prev: str | None             # the snapshot week read (None for a backfill)
    start: str                   # first acquisition day (inclusive)
    end: str                     # last acquisition day (inclusive)
    source: str                  # source spec for sources.resolve_source
    source_kw: tuple[tuple[str, Any], ...]
    state_dir: str
    detection_toml: str
    roads: str = ""              # road layer (run config [layers] roads; "" = none)


def job_geobox(job: TileJob) -> Any:
    """The tile's part of the AOI as a canonical sub-grid."""
    r0, c0, r1, c1 = job.window
    return grid.regency_geobox()[r0:r1, c0:c1]


@functools.lru_cache(maxsize=8)
def _source(spec: str, kw: tuple[tuple[str, Any], ...]) -> Any:
    return resolve_source(spec, **dict(kw))


def _load(job: TileJob, tbox: Any) -> xr.Dataset | None:
    try:
        return load_cube(tbox, job.start, job.end, _source(job.source, job.source_kw))
    except NoItemsError:
        return None


def _week_mid(label: str) -> pd.Timestamp:
    """Thursday of the ISO week ``label``: the date whose season a week's statistics are for."""
    monday, _ = week_bounds(label)
    return pd.Timestamp(monday + dt.timedelta(days=3))


def _cached_stats(sd: Path, tbox: Any, prev: str | None, base: xr.Dataset, when: pd.Timestamp,
                  params: BaselineParams) -> xr.Dataset | None:
    """The statistics stored with snapshot ``prev`` if they describe ``base`` for the season of ``when``."""
    if prev is None:
        return None
    cached = read_state(sd, tbox, f"stats/{prev}")
    if cached is None or cached.attrs.get("acquisitions") != base.attrs.get("acquisitions") \
            or cached.attrs.get("season") != int(season_of(when, params)[0]):
        return None
    return cached.drop_vars([c for c in cached.coords if c not in ("y", "x", "spatial_ref")])


def _write_next_stats(sd: Path, label: str, state: xr.Dataset, params: BaselineParams, when: pd.Timestamp,
                      stats: xr.Dataset | None = None, changed: np.ndarray | None = None) -> None:
    """Store the statistics of ``state`` for the next week's season (``stats/<label>``).

    The next week reads them instead of sorting the ring buffers again.  Given
    this week's ``stats`` (same season) and the pixels the week ``changed``, only
    those pixels are recomputed (:func:`~sarolangun_geo.baseline.refresh_stats`);
    ``stats`` is consumed (refreshed in place).
    """
    season = int(season_of(when, params)[0])
    if stats is not None and changed is not None and stats.attrs.get("season") == season:
        nxt = refresh_stats(stats, state, params, when, changed, copy=False)
    else:
        nxt = stats_by_season(state, params, when=when)  # one season chunk at a time
    nxt.attrs = {"acquisitions": state.attrs.get("acquisitions", "[]"), "season": season}
    write_state(nxt, sd, f"stats/{label}")


def _refreshable(stats: xr.Dataset, changed: np.ndarray, when: pd.Timestamp, params: BaselineParams) -> bool:
    """Whether :func:`_write_next_stats` can refresh ``stats`` (same season, a minority of pixels ``changed``).

    The rule of :func:`~sarolangun_geo.baseline.refresh_stats`, which recomputes every pixel
    otherwise; both ways give the same statistics, this only decides what is kept in memory.
    """
    return stats.attrs.get("season") == int(season_of(when, params)[0]) and 2 * int(changed.sum()) <= changed.size


def run_backfill_tile(job: TileJob) -> dict[str, Any]:
    """Build one tile's baseline from the history ``job.start..job.end``.

    Acquisitions are folded in batches of :data:`BACKFILL_BATCH`, computing in
    between, so memory stays bounded by the state and one batch.
    """
    if tile_done(Path(job.state_dir), job.label, job.tile):
        return {"tile": job.tile, "status": "skipped (done)"}
    params = load_detection_params(job.detection_toml)
    tbox = job_geobox(job)
    state = empty_state(xr_zeros(tbox, dtype="uint8"), params.baseline)
    cube = _load(job, tbox)
    if cube is None:
        raise NoItemsError(f"tile {job.tile}: no acquisitions between {job.start} and {job.end}; "
                           "widen the backfill period")
    n = cube.sizes["time"]
    with dask.config.set(scheduler="sync"):
        for i in range(0, n, BACKFILL_BATCH):
            sub = cube.isel(time=slice(i, i + BACKFILL_BATCH)).compute()  # read the batch once
            # the shadow test's reference: this season's medians, as a weekly run uses (and a
            # mature season sorts half the keys of the pooled buffers)
            ref = state_reference_bands(state, params.baseline, when=sub.time.values[len(sub.time) // 2]) \
                if i else None
            clear = clear_mask(sub, params.masking, reference=ref).compute()
            state = update_state(state, sub, clear, params.baseline, copy=False)  # numpy, in place
            del sub, clear, ref
            gc.collect()  # accessor reference cycles would keep every batch's arrays alive
        write_state(state, job.state_dir, f"baseline/{job.label}")
        # the statistics the first weekly run (the week after this one) starts from
        _write_next_stats(Path(job.state_dir), job.label, state, params.baseline,
                          _week_mid(job.label) + pd.Timedelta(days=7))
    n_clear = int(state["count"].sum())
    info = {"tile": job.tile, "kind": "backfill", "acquisitions": n, "start": job.start, "end": job.end}
    mark_tile_done(Path(job.state_dir), job.label, job.tile, info)
    del state, cube
    gc.collect()
    return {**info, "status": "ok", "clear_observations": n_clear}


def _empty_week(tbox: Any) -> xr.Dataset:
    """A cube with no acquisition, on the tile (the week had no imagery)."""
    z = xr_zeros(tbox, dtype="float32")
    shape = (0, *z.shape)
    data = {b: (("time", "y", "x"), np.zeros(shape, "float32")) for b in COMPOSITE_BANDS}
    data["scl"] = (("time", "y", "x"), np.zeros(shape, "uint8"))
    return xr.Dataset(data, coords={"time": np.array([], "datetime64[ns]"), **z.coords})


def _composite(cube: xr.Dataset, clear: xr.DataArray, tbox: Any) -> xr.Dataset:
    if cube.sizes["time"] == 0:
        z = xr_zeros(tbox, dtype="float32")
        comp = xr.Dataset({b: z + np.float32("nan") for b in COMPOSITE_BANDS})
        comp["n_clear"] = xr_zeros(tbox, dtype="uint16")
        return comp
    comp = weekly_composite(cube, clear, bands=COMPOSITE_BANDS).isel(week=0, drop=True)
    return comp.drop_vars([c for c in comp.coords if c not in ("y", "x", "spatial_ref")])[
        [*COMPOSITE_BANDS, "n_clear"]]


def run_week_tile(job: TileJob) -> dict[str, Any]:
    """One tile's week: evidence, composite, road evidence, and the baseline folded forward."""
    sd = Path(job.state_dir)
    if tile_done(sd, job.label, job.tile):
        return {"tile": job.tile, "status": "skipped (done)"}
    params = load_detection_params(job.detection_toml)
    tbox = job_geobox(job)
    # lazily: with stored statistics the ring buffers are read only when the week is folded in
    base = read_state(sd, tbox, f"baseline/{job.prev}", load=False) if job.prev else None
    if base is None:
        raise BaselineError(f"tile {job.tile}: no baseline before {job.label}; run "
                            "`sarolangun-geo backfill --start ... --end ...` first")
    det_prev = read_state(sd, tbox, f"detection/{job.prev}")
    mid = _week_mid(job.label)
    with dask.config.set(scheduler="sync"):
        stats = _cached_stats(sd, tbox, job.prev, base, mid, params.baseline)
        stored = stats is not None
        if stats is None:  # no usable stored statistics (older state, another season): sort the buffers,
            # one season chunk at a time (the baseline stays lazy: the fold reads only the week's season)
            stats = stats_by_season(base, params.baseline, when=mid)
            stats.attrs["season"] = int(season_of(mid, params.baseline)[0])
        cube = _load(job, tbox)
        cube = _empty_week(tbox) if cube is None else cube
        changed = det_prev["confidence"] > 0 if det_prev is not None else None
        if cube.sizes["time"]:  # read the week's pixels once; the mask and everything below reuse them
            cube = cube.compute()
        clear = clear_mask(cube, params.masking, reference=reference_bands(stats, changed)).compute()
        evidence = peti_evidence(cube, clear, stats, params, state=det_prev)
        comp = _composite(cube, clear, tbox)
        weekly = comp.assign({k: stats[k] for k in ROAD_STATS})
        evidence, weekly = dask.compute(evidence, weekly)
    evidence.attrs["week"] = job.label
    write_state(evidence, sd, f"detection/{job.label}")
    # the road statistics are those of stats/<prev> (when read from there): link their files
    write_state(weekly, sd, f"weekly/{job.label}", same_as=f"stats/{job.prev}" if stored else None,
                same_vars=ROAD_STATS)
    road_table = tile_road_table(job.roads, job.detection_toml, weekly, stats) if job.roads else None
    if road_table is not None:  # the road pixels' evidence; combined over tiles in weekly_outputs
        write_tile_table(sd, job.label, job.tile, road_table)
    dates = [str(pd.Timestamp(t).date()) for t in cube.time.values]
    exclude = evidence["confidence"] > 0  # ongoing detections stay out of the baseline
    clear_fraction = float((weekly["n_clear"] > 0).mean())
    info = {"tile": job.tile, "kind": "week", "week": job.label, "prev": job.prev, "acquisitions": dates,
            "alert_pixels": int(exclude.sum()), "clear_fraction": clear_fraction}
    del evidence, comp, weekly, road_table, det_prev  # the fold below holds the ring buffers: free the rest
    gc.collect()  # (the evidence and composite arrays sit in accessor reference cycles too; ~40 MB)
    nxt = mid + pd.Timedelta(days=7)
    with dask.config.set(scheduler="sync"):
        # the fold scatters the week's clear values into the ring buffers of the week's season; of a
        # lazily read baseline it reads only that season (the other one is linked, not rewritten, and
        # the statistics below read it one variable at a time where they need it, even in a clear week)
        count_before = base["count"].sum("season").transpose("y", "x").values
        new_base = update_state(base, cube, clear, params.baseline, exclude=exclude,
                                copy=False) if cube.sizes["time"] else base
        del base, cube, clear, exclude
        gc.collect()  # the week's cube sits in odc-geo accessor reference cycles
        write_state(new_base, sd, f"baseline/{job.label}", link_from=f"baseline/{job.prev}")
        folded = folded_pixels(count_before, new_base)
        if _refreshable(stats, folded, nxt, params.baseline):  # recompute the pixels that folded a look
            _write_next_stats(sd, job.label, new_base, params.baseline, nxt, stats, folded)
            del stats, new_base
        else:  # every statistic is recomputed: from the store just written, one variable and season at a
            # time, without this week's statistics or folded ring buffers in memory (a clear week)
            del stats, new_base
            gc.collect()
            stored_base = read_state(sd, tbox, f"baseline/{job.label}", load=False)
            if stored_base is None:
                raise BaselineError(f"tile {job.tile}: the baseline store of {job.label} vanished right after it "
                                    f"was written under {sd}; check the disk, then rerun the week")
            _write_next_stats(sd, job.label, stored_base, params.baseline, nxt)
            del stored_base
    mark_tile_done(sd, job.label, job.tile, info)
    del count_before, folded
    gc.collect()  # odc-geo's accessor keeps reference cycles: free the tile's arrays now
    return {**info, "status": "ok"}


def tile_info(state_dir: str | Path, week: str, tile: str) -> dict[str, Any]:
    """The checkpoint record of a finished tile-week."""
    return json.loads((Path(state_dir) / "done" / week / f"{tile}.json").read_text())


__all__.append("tile_info")
