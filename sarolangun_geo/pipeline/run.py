"""The two pipelines, as plain functions that read like a table of contents.

``backfill(start, end, config)`` builds the baseline from history;
``weekly(week, config)`` does load -> mask -> composite -> evidence (per tile,
checkpointed) -> sites -> registry -> publish.  Both hold a lock on the
output folder, record per-tile failures instead of dying, and are idempotent:
a rerun (also after ``kill -9``) skips finished tiles and ends with the same
bytes as an uninterrupted run.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import gc
import json
import logging
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dask
import geopandas as gpd
import pandas as pd

from .. import aoi, grid
from ..composites import iso_week, week_bounds
from ..errors import ConfigError, PipelineError
from ..sites.lock import RegistryLock
from .heap import frozen_heap
from .runconfig import RunConfig
from .scheduler import SchedulerInfo, use_scheduler
from .snapshots import atomic_write_text, previous_week, prune, snapshot_weeks, tile_done
from .tilework import TileJob, run_backfill_tile, run_week_tile

__all__ = [
    "RunSummary",
    "aoi_geometry",
    "backfill",
    "last_complete_week",
    "release_memory",
    "run_tiles",
    "status",
    "weekly",
]

log = logging.getLogger("sarolangun_geo.pipeline")


@dataclass
class RunSummary:
    """What a run did: per-tile results and failures, counts and outputs."""

    kind: str
    week: str
    tiles_ok: list[str] = field(default_factory=list)
    tiles_skipped: list[str] = field(default_factory=list)
    tiles_failed: dict[str, str] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.tiles_failed

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True, default=str)


def last_complete_week(today: dt.date | None = None) -> str:
    """The ISO week that ended most recently (the default of ``run``)."""
    today = today or dt.date.today()
    return iso_week(today - dt.timedelta(days=today.isoweekday()))


def aoi_geometry(cfg: RunConfig) -> gpd.GeoDataFrame:
    """The run's AOI as a GeoDataFrame (EPSG:4326): kecamatan, GeoJSON, bbox or the regency."""
    if cfg.aoi.kecamatan:
        kec = aoi.load_kecamatan()
        codes = [aoi.find_kecamatan(k)["kode_kemendagri"] for k in cfg.aoi.kecamatan]
        return kec[kec["kode_kemendagri"].isin(codes)].reset_index(drop=True)
    if cfg.aoi.geojson:
        p = Path(cfg.aoi.geojson)
        if not p.is_file():
            raise ConfigError(f"[aoi] geojson {p} does not exist; fix the path in the run configuration")
        return gpd.read_file(p).to_crs(4326)
    if cfg.aoi.bbox:
        from shapely.geometry import box

        return gpd.GeoDataFrame(geometry=[box(*cfg.aoi.bbox)], crs=4326)
    return aoi.load_regency()


def _windows(cfg: RunConfig) -> tuple[Any, dict[str, tuple[int, int, int, int]]]:
    """The AOI's sub-grid and, per canonical tile that meets the AOI, its pixel window."""
    geom = aoi_geometry(cfg)
    gbox = grid.subgrid(geom)
    shape = grid.to_geometry(geom)
    out = {}
    for tid, tbox in grid.iter_tile_geoboxes(gbox):
        if not tbox.extent.intersects(shape):
            continue
        r0 = round((grid.GRID_Y0 - tbox.affine.f) / grid.RESOLUTION)
        c0 = round((tbox.affine.c - grid.GRID_X0) / grid.RESOLUTION)
        out[tid] = (r0, c0, r0 + tbox.shape[0], c0 + tbox.shape[1])
    return gbox, out


def _tiles(cfg: RunConfig) -> tuple[Any, list[str]]:
    gbox, windows = _windows(cfg)
    return gbox, list(windows)


def _job(cfg: RunConfig, tile: str, window: tuple[int, int, int, int], label: str, prev: str | None,
         start: str, end: str) -> TileJob:
    spec, kw = cfg.source_spec()
    return TileJob(tile=tile, window=window, label=label, prev=prev, start=start, end=end, source=spec, source_kw=kw,
                   state_dir=cfg.paths.state, detection_toml=cfg.paths.thresholds, roads=cfg.layers.roads)


def _failure(tile: str, exc: BaseException) -> dict:
    """A failed tile's record: the error and where it was raised (the run summary keeps it; the log has the rest)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return {"tile": tile, "status": "failed", "error": f"{type(exc).__name__}: {exc}{where}"}


def _safe(func: Callable[[TileJob], dict], job: TileJob) -> dict:
    """Run one tile; a failure becomes a record, not an exception (for dask workers too)."""
    try:
        with dask.config.set(scheduler="sync"), frozen_heap():
            return func(job)
    except Exception as exc:
        log.exception("tile %s failed", job.tile)
        return _failure(job.tile, exc)


def run_tiles(func: Callable[[TileJob], dict], jobs: Sequence[TileJob], sched: SchedulerInfo,
              progress: Callable[[dict], None] | None = None) -> list[dict]:
    """Run tile jobs on the scheduler: one task per tile, failures captured per tile.

    The largest tile windows start first (the AOI's edge tiles are partial), which
    shortens the tail when the workers outnumber the tiles left; results come back
    sorted by tile id whatever the order of completion.
    """
    if not jobs:
        return []
    jobs = sorted(jobs, key=lambda j: (-(j.window[2] - j.window[0]) * (j.window[3] - j.window[1]), j.tile))
    if sched.client is not None:  # (each worker freezes its own heap in _safe)
        futures = sched.client.map(_safe, [func] * len(jobs), list(jobs), pure=False)
        results = []
        from distributed import as_completed

        for fut in as_completed(futures):
            res = fut.result()
            results.append(res)
            if progress:
                progress(res)
        return sorted(results, key=lambda r: r["tile"])
    with frozen_heap():  # the tiles' collections scan only what the tiles make (pipeline.heap)
        return _run_in_process(func, jobs, sched, progress)


def _run_in_process(func: Callable[[TileJob], dict], jobs: Sequence[TileJob], sched: SchedulerInfo,
                    progress: Callable[[dict], None] | None) -> list[dict]:
    """:func:`run_tiles` without a dask.distributed client: one tile at a time, or a thread per core."""
    if len(jobs) == 1 or sched.spec == "sync":
        results = []
        for j in jobs:
            try:
                res = func(j)  # a lone tile may use dask's threads inside
            except Exception as exc:
                log.exception("tile %s failed", j.tile)
                res = _failure(j.tile, exc)
            results.append(res)
            if progress:
                progress(res)
        return sorted(results, key=lambda r: r["tile"])
    import os

    n = max(1, min(len(jobs), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=n) as pool:
        results = []
        for res in pool.map(lambda j: _safe(func, j), jobs):
            results.append(res)
            if progress:
                progress(res)
    return sorted(results, key=lambda r: r["tile"])


def _run_lock(cfg: RunConfig) -> RegistryLock:
    """The lock that stops two runs from writing the same output folder."""
    out = Path(cfg.paths.out)
    out.mkdir(parents=True, exist_ok=True)
    return RegistryLock(out / ".pipeline")


def release_memory() -> None:
    """Hand the heap freed by the finished tiles back to the operating system.

    The tiles' arrays are freed when each tile ends, but glibc keeps freed heap
    (per-thread arenas) mapped, so without this the combine step after the tiles
    runs on top of the tile phase's high-water mark (the regency's 89 tiles leave
    ~0.6 GB that no object holds).  A no-op where ``malloc_trim`` does not exist.
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows)
        pass


def _summarise(summary: RunSummary, results: list[dict]) -> None:
    for r in results:
        if r["status"] == "ok":
            summary.tiles_ok.append(r["tile"])
        elif r["status"].startswith("skipped"):
            summary.tiles_skipped.append(r["tile"])
        else:
            summary.tiles_failed[r["tile"]] = r["error"]


def backfill(start: str, end: str, cfg: RunConfig, *, progress: Callable[[dict], None] | None = None
             ) -> RunSummary:
    """Build the baseline of every AOI tile from the acquisitions ``start..end`` (inclusive).

    The snapshot is labelled with the ISO week of ``end``; weekly runs for later
    weeks read it.  Tiles already built are skipped (resumable).
    """
    label = iso_week(pd.Timestamp(end).date())
    _, windows = _windows(cfg)
    tiles = list(windows)
    summary = RunSummary(kind="backfill", week=label)
    with _run_lock(cfg), \
            use_scheduler(cfg.dask.scheduler, cfg.dask.memory_limit, cfg.dask.threads_per_worker) as sched:
        jobs = [_job(cfg, t, w, label, None, str(start), str(end)) for t, w in windows.items()]
        _summarise(summary, run_tiles(run_backfill_tile, jobs, sched, progress))
    summary.counts = {"tiles": len(tiles), "period": f"{start}..{end}"}
    _write_summary(cfg, summary)
    return summary


def weekly(week: str, cfg: RunConfig, *, publish: bool = True,
           progress: Callable[[dict], None] | None = None, span_weeks: int = 1) -> RunSummary:
    """One weekly run: per-tile evidence, then sites, registry, road scores and publishing.

    ``span_weeks`` > 1 folds the acquisitions of that many weeks ending with
    ``week`` in one step (a catch-up after a backfill or an outage): the
    evidence still accumulates acquisition by acquisition, but the baseline
    statistics are those before the span and the registry gets one entry, for
    ``week``.
    """
    if span_weeks < 1:
        raise ConfigError(f"span_weeks={span_weeks} must be at least 1")
    monday, sunday = week_bounds(week)
    monday = monday - dt.timedelta(weeks=span_weeks - 1)
    gbox, windows = _windows(cfg)
    tiles = list(windows)
    state = Path(cfg.paths.state)
    summary = RunSummary(kind="weekly", week=week)
    with _run_lock(cfg), \
            use_scheduler(cfg.dask.scheduler, cfg.dask.memory_limit, cfg.dask.threads_per_worker) as sched:
        prev = previous_week(state, tiles, week)
        if prev is None:
            raise PipelineError(f"no baseline before {week} in {state}; run `sarolangun-geo backfill "
                                "--start YYYY-MM-DD --end YYYY-MM-DD` first (the end must be before the week)")
        if sched.dashboard:
            summary.outputs["dashboard"] = sched.dashboard
        jobs = [_job(cfg, t, w, week, prev, str(monday), str(sunday)) for t, w in windows.items()]
        t0 = time.perf_counter()
        _summarise(summary, run_tiles(run_week_tile, jobs, sched, progress))
        log.info("tiles of %s done in %.1f s", week, time.perf_counter() - t0)
        done = [t for t in tiles if t not in summary.tiles_failed]
        release_memory()
        if done:
            from .weekly_outputs import sites_registry_publish

            # After the tiles, the run's own process combines their compact outputs (tile by tile
            # vectorising, the road tables, the registry, publishing) with local threads: on a
            # cluster, shipping each small graph to the workers and the arrays back cost more than
            # the work (Singkut on local:2: ~5 s against ~1 s), and the registry and the outputs
            # are written here anyway.
            with dask.config.set(scheduler="threads"):
                counts, outputs = sites_registry_publish(cfg, week, gbox, windows, done, publish=publish,
                                                         span_weeks=span_weeks)
            summary.counts.update(counts)
            summary.outputs.update(outputs)
        if week in snapshot_weeks(state, tiles) and prev is not None:
            prune(state, keep_from=prev)
    _write_summary(cfg, summary)
    return summary


def _write_summary(cfg: RunConfig, summary: RunSummary) -> None:
    path = Path(cfg.paths.out) / "runs" / f"{summary.week}-{summary.kind}.json"
    data = json.loads(summary.to_json())
    data.pop("outputs", None)  # paths and dashboard links vary between machines
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True))
    summary.outputs["summary"] = str(path)


def republish(week: str, cfg: RunConfig) -> str:
    """Write a week's reports, layers and exports again from its snapshots; returns the report path."""
    gbox, windows = _windows(cfg)
    state = Path(cfg.paths.state)
    done = [t for t in windows if tile_done(state, week, t)]
    if not done:
        raise PipelineError(f"week {week} has no finished tiles in {state} (it was pruned or never run); "
                            f"run it with `sarolangun-geo run --week {week}`")
    from .weekly_outputs import republish as _republish

    with _run_lock(cfg):
        return _republish(cfg, week, gbox, windows, done)["report"]


def status(cfg: RunConfig) -> dict[str, Any]:
    """State of a deployment: snapshot weeks, registry size, last runs."""
    _, tiles = _tiles(cfg)
    state = Path(cfg.paths.state)
    out: dict[str, Any] = {"config": cfg.name, "tiles": len(tiles),
                           "snapshot_weeks": snapshot_weeks(state, tiles)}
    reg = Path(cfg.paths.registry)
    if reg.is_file():
        from ..sites import Registry

        r = Registry(reg)
        sites = r.sites()
        out["registry"] = {"path": str(reg), "sites": len(sites),
                           "by_status": sites["status"].value_counts().sort_index().to_dict() if len(sites) else {},
                           "weeks": sorted(r.runs()["week"].tolist()) if len(r.runs()) else []}
    runs = sorted((Path(cfg.paths.out) / "runs").glob("*.json"))
    out["last_runs"] = [json.loads(p.read_text()) for p in runs[-3:]]
    return out
