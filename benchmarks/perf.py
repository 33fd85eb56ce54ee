"""Benchmark: wall time and peak memory of the weekly pipeline against its floors and targets.

Each measurement runs in a fresh ``python benchmarks/perf.py --case NAME`` subprocess;
the parent samples the RSS of the whole process tree (the child and every descendant,
so LocalCluster workers and the nanny are counted) with psutil every 50 ms and keeps
the peak of the sum.  Cases:

* ``backfill``   -- ``pipeline.backfill`` over the catalog's acquisitions before the benchmark week;
* ``weekly``     -- ``pipeline.weekly(week, publish=False)`` on a copy of that baseline (threads);
* ``floor_state`` -- the I/O floor: a read-only pass over the weekly run's inputs, i.e. the
  previous baseline, statistics and detection stores of every tile plus ``load_cube`` of the week;
* ``floor``      -- the imagery-only floor (diagnostic): ``load_cube`` of the same tiles and week,
  computed tile by tile and reduced (sum over bands), nothing else;
* ``backfill_year`` -- ``pipeline.backfill`` over the first 52 weeks of a year-long catalog
  (``--year-catalog``, two full tiles), scaled by pixels to Batang Asai and the regency;
* ``local1`` / ``local2`` -- the weekly step with ``scheduler="local:1"`` / ``"local:2"``
  (dask.distributed LocalCluster), each on a fresh copy of the baseline so both do the same work;
  the wall includes starting the worker processes;
* ``cluster1`` / ``cluster2`` -- the same on a cluster already running when the run starts (the
  ``tcp://`` deployment); the start of the cluster is timed separately (``cluster_startup_s``);
* ``naive``      -- ``benchmarks/naive_detection.py``: rasterio reads every band of every item
  into one numpy array, indices, baseline median and evidence on full arrays;
* ``profile``    -- cProfile of ``run_week_tile`` for the largest tile of the AOI (fresh state copy);
* ``weekly_year`` / ``naive_year`` -- weekly operation with a mature baseline: the weekly step after
  the ``backfill_year`` state, against the naive script reading that year of history plus the week
  (it has no state, so it redoes the history every week).

The benchmark week is the catalog's last ISO week with two acquisitions; the baseline is
the acquisitions up to the Sunday before it.

Usage: ``python benchmarks/perf.py [--scale regency|kecamatan] [--kecamatan NAME]
[--catalog PATH] [--cases ...]``.  Writes ``benchmarks/results/perf.json`` and ``perf.md``
(merging with an existing perf.json, so a kecamatan run and a regency run can fill
different keys).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))

DEFAULT_CATALOG = "data/bench/regency/catalog.json"  # git-ignored; simulated on first use
DEFAULT_KECAMATAN = "singkut"
#: Batang Asai: canonical tiles meeting its outline, and Sentinel-2 acquisitions a year
#: (S2B + S2C, 5-day revisit: ~73), for the 52-week backfill extrapolation.
BATANG_ASAI_TILES = 20
ACQ_PER_YEAR = 73
#: Megapixels of the regency's tile windows (89 canonical tiles meeting its outline).
REGENCY_MPX = 82.2
#: naive peak RSS / bytes of its float32 cube, measured on Singkut (1.349 GB / 0.515 GB).
NAIVE_RSS_PER_CUBE_BYTE = 2.6

TARGETS = {
    "weekly_vs_floor_ratio": ("<=", 2.0),
    "weekly_vs_floor_ratio_regency": ("<=", 2.0),  # the benchmark AOI
    "rss_regency_vs_kecamatan": ("<=", 1.3),
    "peak_rss_gb_regency": ("<=", 2.5),
    "naive_speedup": (">=", 5.0),
    "naive_memory_ratio": (">=", 10.0),
    "cluster_speedup_2v1": (">=", 1.8),
    "backfill_52w_batang_asai_s": ("<=", 300.0),
}


# ----------------------------------------------------------------------------- helpers

def _toml(catalog: Path, work: Path, kecamatan: str | None, scheduler: str, roads: Path | None,
          geojson: Path | None = None) -> Path:
    lines = [f'name = "perf-{work.name}"', 'lang = "id"', "", "[source]", 'kind = "stac"',
             f'url = "{catalog}"', "max_cloud = 100", "", "[aoi]"]
    if kecamatan:
        lines.append(f'kecamatan = ["{kecamatan}"]')
    elif geojson:
        lines.append(f'geojson = "{geojson}"')
    lines += ["", "[layers]"]
    if roads is not None and roads.is_file():
        lines.append(f'roads = "{roads}"')
    lines += ["", "[paths]", f'out = "{work / "out"}"', f'registry = "{work / "out" / "registry.gpkg"}"',
              f'state = "{work / "state"}"', "", "[dask]", f'scheduler = "{scheduler}"', ""]
    path = work / "run.toml"
    path.write_text("\n".join(lines))
    return path


def acquisition_dates(catalog: Path) -> list[dt.date]:
    """Sensing days of the catalog's items (read from the item JSON files)."""
    days = set()
    for p in catalog.parent.rglob("*.json"):
        if p.name in ("catalog.json", "collection.json") or "truth" in p.parts:
            continue
        try:
            d = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if d.get("type") == "Feature" and "datetime" in d.get("properties", {}):
            days.add(dt.date.fromisoformat(d["properties"]["datetime"][:10]))
    return sorted(days)


def plan(catalog: Path) -> dict[str, Any]:
    """Benchmark week = the last ISO week with two acquisitions (a weekly run "with two new
    acquisitions"; the last week with any when none has two); baseline = everything before it."""
    days = acquisition_dates(catalog)
    if not days:
        raise SystemExit(f"no items under {catalog.parent}")
    per_week: dict[tuple[int, int], int] = {}
    for d in days:
        per_week[d.isocalendar()[:2]] = per_week.get(d.isocalendar()[:2], 0) + 1
    two = [d for d in days if per_week[d.isocalendar()[:2]] >= 2 and d != days[0]]
    last = two[-1] if two else days[-1]
    iy, iw, _ = last.isocalendar()
    monday = dt.date.fromisocalendar(iy, iw, 1)
    sunday_before = monday - dt.timedelta(days=1)
    base = [d for d in days if d <= sunday_before]
    week = [d for d in days if monday <= d <= monday + dt.timedelta(days=6)]
    return {"week": f"{iy}-W{iw:02d}", "baseline_start": str(days[0]), "baseline_end": str(sunday_before),
            "week_start": str(monday), "week_end": str(monday + dt.timedelta(days=6)),
            "baseline_dates": [str(d) for d in base], "week_dates": [str(d) for d in week]}


def run_case(args: list[str], timeout: float | None = None) -> dict[str, Any]:
    """Run ``perf.py --case ...`` in a fresh process; wall time and the tree's peak RSS."""
    import psutil

    out = Path(args[args.index("--result") + 1])
    out.unlink(missing_ok=True)
    load0 = round(os.getloadavg()[0], 2)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        try:
            root = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while not stop.is_set():
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            peak[0] = max(peak[0], total)
            stop.wait(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    try:
        log_text, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        log_text, _ = proc.communicate()
        log_text += "\nTIMEOUT"
    stop.set()
    th.join()
    wall = time.perf_counter() - t0
    res: dict[str, Any] = {"process_wall_s": round(wall, 2), "peak_rss_gb": round(peak[0] / 1e9, 3),
                           "returncode": proc.returncode, "loadavg_1m_before": load0,
                           "loadavg_1m_after": round(os.getloadavg()[0], 2)}
    if out.is_file():
        res.update(json.loads(out.read_text()))
    if proc.returncode != 0:
        res["log_tail"] = log_text[-3000:]
    return res


# ----------------------------------------------------------------------------- cases (child side)

def _cfg(a: argparse.Namespace, scheduler: str) -> Any:
    from sarolangun_geo.pipeline import load_run_config

    work = Path(a.work)
    catalog = Path(a.catalog)
    roads = catalog.parent / "truth" / "roads.geojson"
    return load_run_config(_toml(catalog, work, a.kecamatan or None, scheduler, roads))


def case_backfill(a: argparse.Namespace) -> dict[str, Any]:
    from sarolangun_geo.pipeline import backfill

    cfg = _cfg(a, "threads")
    p = json.loads(a.plan)
    t0 = time.perf_counter()
    summ = backfill(p["baseline_start"], p["baseline_end"], cfg)
    wall = time.perf_counter() - t0
    return {"wall_s": round(wall, 2), "tiles_ok": len(summ.tiles_ok), "tiles_failed": summ.tiles_failed,
            "acquisitions": len(p["baseline_dates"])}


def _year_plan(catalog: Path) -> tuple[Path, str, str, int]:
    """AOI GeoJSON, first and last day of the first 52 weeks of a year-long catalog, acquisitions in them.

    The last day is the Sunday ending the 52nd (possibly partial) ISO week, so that the week
    after the backfill is a whole week of the catalog (``weekly_year``).

    The AOI is the simulated tiles' extent shrunk by 15 m, so that no neighbouring tile is
    touched by its outline (a sliver would count as a tile of its own).
    """
    import geopandas as gpd
    from shapely.geometry import box

    scen = json.loads((catalog.parent / "truth" / "scenario.json").read_text())
    aoi_path = catalog.parent / "aoi.geojson"
    if not aoi_path.is_file():
        gpd.GeoDataFrame(geometry=[box(*scen["bbox_epsg32748"]).buffer(-15, join_style="mitre")],
                         crs=32748).to_crs(4326).to_file(aoi_path, driver="GeoJSON")
    days = acquisition_dates(catalog)
    end = days[0] + dt.timedelta(days=52 * 7 - 1)
    end -= dt.timedelta(days=(end.weekday() + 1) % 7)  # the Sunday ending the 52nd week: the next week is whole
    if days[-1] < end - dt.timedelta(days=10):
        raise SystemExit(f"{catalog} covers {days[0]}..{days[-1]}, less than 52 weeks; simulate a year: "
                         "`sarolangun-geo simulate --scenario demo --tiles x04y08 x05y08 --start 2025-06-01 "
                         "--end 2026-06-07 --out data/bench/year2`")
    return aoi_path, str(days[0]), str(end), sum(d <= end for d in days)


def case_backfill_year(a: argparse.Namespace) -> dict[str, Any]:
    """``pipeline.backfill`` over 52 weeks of a year-long catalog (both cores, one tile each)."""
    from sarolangun_geo.pipeline import backfill, load_run_config
    from sarolangun_geo.pipeline.run import _windows

    catalog = Path(a.year_catalog)
    aoi_path, start, end, n = _year_plan(catalog)
    cfg = load_run_config(_toml(catalog, Path(a.work), None, "threads", None, geojson=aoi_path))
    wins = _windows(cfg)[1]
    t0 = time.perf_counter()
    summ = backfill(start, end, cfg)
    wall = time.perf_counter() - t0
    return {"wall_s": round(wall, 2), "tiles_ok": len(summ.tiles_ok), "tiles_failed": summ.tiles_failed,
            "acquisitions": n, "start": start, "end": end, "tiles": len(wins),
            "megapixels": round(sum((r1 - r0) * (c1 - c0) for r0, c0, r1, c1 in wins.values()) / 1e6, 2)}


def _year_week(catalog: Path) -> dict[str, Any]:
    """The first week after the 52 weeks of ``_year_plan`` that has an acquisition: the week a
    mature (one-year) baseline is used for, with the history before it."""
    from sarolangun_geo.composites import iso_week, week_bounds

    aoi_path, _, end, _ = _year_plan(catalog)
    days = acquisition_dates(catalog)
    after = [d for d in days if d > dt.date.fromisoformat(end)]
    if not after:
        raise SystemExit(f"{catalog} has no acquisition after {end}: simulate a few more days")
    week = iso_week(after[0])
    monday, sunday = week_bounds(week)
    return {"aoi": aoi_path, "week": week, "week_start": str(monday), "week_end": str(sunday),
            "history": [str(d) for d in days if d <= dt.date.fromisoformat(end)],
            "week_dates": [str(d) for d in days if monday <= d <= sunday]}


def case_weekly_year(a: argparse.Namespace) -> dict[str, Any]:
    """The weekly step on the ``backfill_year`` baseline (52 weeks): state + the week's acquisitions."""
    from sarolangun_geo.pipeline import load_run_config, weekly

    catalog = Path(a.year_catalog)
    yw = _year_week(catalog)
    cfg = load_run_config(_toml(catalog, Path(a.work), None, "threads", None, geojson=yw["aoi"]))
    t0 = time.perf_counter()
    summ = weekly(yw["week"], cfg, publish=False)
    return {"wall_s": round(time.perf_counter() - t0, 2), "week": yw["week"], "week_dates": yw["week_dates"],
            "tiles_ok": len(summ.tiles_ok), "tiles_failed": summ.tiles_failed}


def case_naive_year(a: argparse.Namespace) -> dict[str, Any]:
    """The naive script doing the same week with a one-year history: it has no state, so every
    week it reads and reduces the whole history again (what the pipeline's state saves)."""
    sys.path.insert(0, str(HERE))
    import naive_detection

    catalog = Path(a.year_catalog)
    yw = _year_week(catalog)
    t0 = time.perf_counter()
    info = naive_detection.run(catalog, None, yw["history"], yw["week_dates"], geojson=yw["aoi"])
    return {"wall_s": round(time.perf_counter() - t0, 2), "week": yw["week"], **info}


def case_weekly(a: argparse.Namespace, scheduler: str) -> dict[str, Any]:
    from sarolangun_geo.pipeline import weekly

    cfg = _cfg(a, scheduler)
    p = json.loads(a.plan)
    seen: list[float] = []

    class Grab(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.msg.startswith("tiles of"):
                seen.append(float(record.args[1]))

    lg = logging.getLogger("sarolangun_geo.pipeline")
    lg.setLevel(logging.INFO)
    lg.addHandler(Grab())
    t0 = time.perf_counter()
    summ = weekly(p["week"], cfg, publish=False)
    wall = time.perf_counter() - t0
    return {"wall_s": round(wall, 2), "tiles_phase_s": seen[0] if seen else None,
            "tiles_ok": len(summ.tiles_ok), "tiles_failed": summ.tiles_failed,
            "counts": {k: v for k, v in summ.counts.items() if isinstance(v, (int, float, str))}}


def case_cluster(a: argparse.Namespace, n_workers: int) -> dict[str, Any]:
    """The weekly step on an already running dask.distributed cluster of ``n_workers`` single-thread
    workers (the ``tcp://`` deployment: a scheduler that outlives the run), so the speed-up measures
    the work, not the start of worker processes.  The cluster's start is timed separately."""
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, memory_limit="4GB",
                           dashboard_address=":0")
    client = Client(cluster)
    client.wait_for_workers(n_workers)
    client.run(lambda: __import__("sarolangun_geo.pipeline.tilework"))  # workers import the package once
    startup = time.perf_counter() - t0
    try:
        res = case_weekly(a, cluster.scheduler_address)
    finally:
        client.close()
        cluster.close()
    res["cluster_startup_s"] = round(startup, 2)
    return res


def case_floor(a: argparse.Namespace) -> dict[str, Any]:
    """Read-only pass: load_cube of every AOI tile for the week, computed tile by tile."""
    from concurrent.futures import ThreadPoolExecutor

    import dask

    from sarolangun_geo.pipeline.run import _job, _windows
    from sarolangun_geo.pipeline.tilework import _load, job_geobox

    cfg = _cfg(a, "threads")
    p = json.loads(a.plan)
    _, windows = _windows(cfg)
    jobs = [_job(cfg, t, w, p["week"], None, p["week_start"], p["week_end"]) for t, w in windows.items()]

    def one(job: Any) -> float:
        with dask.config.set(scheduler="sync"):
            cube = _load(job, job_geobox(job))
            if cube is None:
                return 0.0
            return float(sum(cube[v].astype("float64").sum() for v in cube.data_vars).compute())

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
        sums = list(pool.map(one, jobs))
    wall = time.perf_counter() - t0
    return {"wall_s": round(wall, 2), "tiles": len(jobs), "checksum": sum(sums)}


def case_floor_state(a: argparse.Namespace) -> dict[str, Any]:
    """Like ``floor`` but also reads the previous baseline, statistics and detection stores of
    every tile (the state the weekly step must read anyway): the floor including state I/O."""
    from concurrent.futures import ThreadPoolExecutor

    import dask

    from sarolangun_geo.baseline import read_state
    from sarolangun_geo.pipeline.run import _job, _windows
    from sarolangun_geo.pipeline.snapshots import previous_week
    from sarolangun_geo.pipeline.tilework import _load, job_geobox

    cfg = _cfg(a, "threads")
    p = json.loads(a.plan)
    _, windows = _windows(cfg)
    prev = previous_week(Path(cfg.paths.state), list(windows), p["week"])
    jobs = [_job(cfg, t, w, p["week"], prev, p["week_start"], p["week_end"]) for t, w in windows.items()]

    def one(job: Any) -> float:
        tot = 0.0
        with dask.config.set(scheduler="sync"):
            tbox = job_geobox(job)
            for name in (f"baseline/{prev}", f"stats/{prev}", f"detection/{prev}"):
                st = read_state(cfg.paths.state, tbox, name)
                if st is not None:
                    st = st.compute() if hasattr(st, "compute") else st
                    tot += float(sum(int(st[v].size) for v in st.data_vars))
            cube = _load(job, tbox)
            if cube is not None:
                tot += float(sum(cube[v].astype("float64").sum() for v in cube.data_vars).compute())
        return tot

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
        sums = list(pool.map(one, jobs))
    return {"wall_s": round(time.perf_counter() - t0, 2), "tiles": len(jobs), "prev": prev, "checksum": sum(sums)}


def case_naive(a: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import naive_detection

    p = json.loads(a.plan)
    t0 = time.perf_counter()
    info = naive_detection.run(Path(a.catalog), a.kecamatan or None, p["baseline_dates"], p["week_dates"])
    return {"wall_s": round(time.perf_counter() - t0, 2), **info}


def case_profile(a: argparse.Namespace) -> dict[str, Any]:
    import cProfile
    import io
    import pstats

    from sarolangun_geo.pipeline.run import _job, _windows
    from sarolangun_geo.pipeline.snapshots import previous_week
    from sarolangun_geo.pipeline.tilework import run_week_tile

    cfg = _cfg(a, "sync")
    p = json.loads(a.plan)
    _, windows = _windows(cfg)
    tile = max(windows, key=lambda t: (windows[t][2] - windows[t][0]) * (windows[t][3] - windows[t][1]))
    prev = previous_week(Path(cfg.paths.state), list(windows), p["week"])
    job = _job(cfg, tile, windows[tile], p["week"], prev, p["week_start"], p["week_end"])
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    res = run_week_tile(job)
    prof.disable()
    wall = time.perf_counter() - t0
    out = {}
    for key in ("cumulative", "tottime"):
        s = io.StringIO()
        pstats.Stats(prof, stream=s).strip_dirs().sort_stats(key).print_stats(25)
        out[key] = s.getvalue()
    prof.dump_stats(str(Path(a.work) / "tile_week.prof"))
    return {"wall_s": round(wall, 2), "tile": tile, "window": windows[tile], "status": res.get("status"),
            "acquisitions": res.get("acquisitions"), "profile_cumulative": out["cumulative"],
            "profile_tottime": out["tottime"]}


def case_profile_weekly(a: argparse.Namespace) -> dict[str, Any]:
    """cProfile of the whole weekly step (threads): where the time outside the tiles goes."""
    import cProfile
    import io
    import pstats

    from sarolangun_geo.pipeline import weekly

    cfg = _cfg(a, "threads")
    p = json.loads(a.plan)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    weekly(p["week"], cfg, publish=False)
    prof.disable()
    wall = time.perf_counter() - t0
    s = io.StringIO()
    pstats.Stats(prof, stream=s).strip_dirs().sort_stats("cumulative").print_stats(40)
    return {"wall_s": round(wall, 2), "profile_cumulative": s.getvalue(),
            "note": "cProfile sees the main thread only: the per-tile work in pool threads shows as waits"}


def child(a: argparse.Namespace) -> None:
    cases = {"backfill": case_backfill, "weekly": lambda x: case_weekly(x, "threads"),
             "local1": lambda x: case_weekly(x, "local:1"), "local2": lambda x: case_weekly(x, "local:2"),
             "cluster1": lambda x: case_cluster(x, 1), "cluster2": lambda x: case_cluster(x, 2),
             "floor": case_floor, "floor_state": case_floor_state, "naive": case_naive, "profile": case_profile,
             "profile_weekly": case_profile_weekly, "backfill_year": case_backfill_year,
             "weekly_year": case_weekly_year, "naive_year": case_naive_year}
    res = cases[a.case](a)
    Path(a.result).write_text(json.dumps(res, indent=1, default=str))


# ----------------------------------------------------------------------------- parent

def _copy_state(src: Path, dst: Path) -> None:
    """A private copy of the baseline's state for one case, as hard links: the pipeline never
    modifies a store in place (it writes a new one and renames it), so links are safe and a
    whole-regency state (tens of GB) is "copied" in a second without using disk."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    shutil.copytree(src / "state", dst / "state", copy_function=os.link)


def _met(key: str, value: Any) -> str:
    if value is None or key not in TARGETS:
        return "n/a" if value is None else ""
    op, lim = TARGETS[key]
    ok = value <= lim if op == "<=" else value >= lim
    return "met" if ok else "NOT met"


def write_md(res: dict[str, Any]) -> None:
    rows = [
        ("weekly_wall_s", "weekly step wall (s), threads, primary kecamatan", ""),
        ("io_floor_wall_s", "I/O floor wall (s): read the week's imagery + the stored state, same tiles", ""),
        ("weekly_vs_floor_ratio", "weekly / floor, primary kecamatan", "<= 2"),
        ("weekly_tiles_phase_s", "of which the per-tile phase (s) (rest: sites/registry/roads)", ""),
        ("io_floor_imagery_wall_s", "imagery-only floor (s): load_cube of the week (diagnostic)", ""),
        ("weekly_vs_imagery_floor_ratio", "weekly / imagery-only floor (diagnostic)", ""),
        ("weekly_wall_s_regency", "weekly step wall (s), regency", ""),
        ("io_floor_wall_s_regency", "I/O floor wall (s), regency (imagery + state)", ""),
        ("weekly_vs_floor_ratio_regency", "weekly / floor, regency", "<= 2"),
        ("cluster_speedup_2v1_regency", "weekly local:1 / local:2, regency", "(>= 1.8)"),
        ("peak_rss_gb_kecamatan", "peak RSS weekly, kecamatan (GB)", ""),
        ("peak_rss_gb_regency", "peak RSS weekly, regency (GB)", "<= 2.5"),
        ("rss_regency_vs_kecamatan", "RSS regency / kecamatan", "<= 1.3"),
        ("peak_rss_gb_batang_asai", "peak RSS weekly, Batang Asai (GB) (larger-AOI stand-in)", ""),
        ("rss_batang_asai_vs_singkut", "RSS Batang Asai / Singkut (stand-in for regency/kecamatan)", "(<= 1.3)"),
        ("naive_speedup", "naive wall / pipeline (backfill + weekly) wall", ">= 5"),
        ("naive_memory_ratio", "naive peak RSS / pipeline peak RSS", ">= 10"),
        ("naive_year_speedup", "weekly operation, 1-year history: naive wall / pipeline weekly wall", "(>= 5)"),
        ("naive_year_memory_ratio", "weekly operation, 1-year history: naive peak RSS / weekly peak RSS", "(>= 10)"),
        ("cluster_speedup_2v1", "weekly local:1 wall / local:2 wall", ">= 1.8"),
        ("cluster_speedup_2v1_batang_asai", "weekly local:1 / local:2, Batang Asai (20 tiles)", "(>= 1.8)"),
        ("cluster_speedup_2v1_running_cluster", "weekly on a running cluster, 1 / 2 workers", "(>= 1.8)"),
        ("cluster_speedup_2v1_running_cluster_batang_asai",
         "weekly on a running cluster, 1 / 2 workers, Batang Asai (20 tiles)", "(>= 1.8)"),
        ("cluster_speedup_2v1_running_cluster_regency", "weekly on a running cluster, 1 / 2 workers, regency",
         "(>= 1.8)"),
        ("weekly_vs_floor_ratio_batang_asai", "weekly / floor, Batang Asai", "(<= 2)"),
        ("weekly_vs_floor_with_state_ratio_batang_asai", "weekly / floor incl. state, Batang Asai", ""),
        ("backfill_wall_s", "backfill wall (s), primary AOI, baseline acquisitions of the catalog", ""),
        ("backfill_52w_measured_s", "backfill 52 weeks, measured (s) on the year catalog's tiles", ""),
        ("backfill_52w_measured_megapixels", "... of so many megapixels", ""),
        ("backfill_52w_batang_asai_s", "backfill 52 weeks Batang Asai (s), scaled by pixels", "<= 300"),
        ("backfill_52w_regency_s", "backfill 52 weeks, regency (s), scaled by pixels", ""),
    ]
    meta = res.get("runs_meta", {})
    L = ["# Performance benchmark (`benchmarks/perf.py`)", "",
         f"Generated {res.get('generated')} on {res.get('machine')} ({os.cpu_count()} cores; the load "
         "average before and after each case is in the cases table).", "",
         *[f"* AOI **{k}** ({res.get('aoi_megapixels', {}).get(k)} Mpx, {m.get('tiles')} tiles): catalog "
           f"`{m.get('catalog')}`, benchmark week {m['plan']['week']} (acquisitions {m['plan']['week_dates']}), "
           f"baseline acquisitions {m['plan']['baseline_dates']}." for k, m in meta.items()],
         "", f"Top-level timings come from the primary AOI **{res.get('primary')}**.", "",
         "| metric | value | target | status |", "|---|---|---|---|"]
    for key, label, target in rows:
        v = res.get(key)
        if v is None and key not in TARGETS and key not in ("weekly_wall_s", "io_floor_wall_s",
                                                            "peak_rss_gb_kecamatan", "backfill_wall_s"):
            continue
        L.append(f"| {label} (`{key}`) | {'null' if v is None else v} | {target} | {_met(key, v) or '-'} |")
    L += ["", "## Notes", ""]
    for k, v in res.get("notes", {}).items():
        L.append(f"* **{k}**: {v}")
    L += ["", "## Cases (fresh subprocess each; peak RSS = psutil, whole process tree; load average "
          "'?' = not recorded by the first version of this script)", "",
          "| AOI | Mpx | case | wall in case (s) | process wall (s) | peak RSS (GB) | load avg before/after | rc |",
          "|---|---|---|---|---|---|---|---|"]
    for run, cs in res.get("runs", {}).items():
        for name, c in cs.items():
            L.append(f"| {run} | {res.get('aoi_megapixels', {}).get(run)} | {name} | {c.get('wall_s')} | "
                     f"{c.get('process_wall_s')} | {c.get('peak_rss_gb')} | {c.get('loadavg_1m_before', '?')}/"
                     f"{c.get('loadavg_1m_after', '?')} | {c.get('returncode')} |")
    pw = res.get("runs", {}).get(res.get("primary"), {}).get("profile_weekly")
    if pw and pw.get("profile_cumulative"):
        L += ["", f"## Profile of the whole weekly step ({pw.get('wall_s')} s under cProfile; main thread "
              "only, so the per-tile work in the pool threads shows as lock waits)", "", "```",
              pw["profile_cumulative"].strip(), "```"]
    prof = res.get("runs", {}).get(res.get("primary"), {}).get("profile")
    if prof and prof.get("profile_cumulative"):
        L += ["", f"## Profile of one tile-week (`run_week_tile`, tile {prof.get('tile')}, "
              f"{prof.get('wall_s')} s under cProfile)", "", "Sorted by cumulative time:", "", "```",
              prof["profile_cumulative"].strip(), "```", "", "Sorted by own time:", "", "```",
              prof["profile_tottime"].strip(), "```"]
    (RESULTS / "perf.md").write_text("\n".join(L) + "\n")


def _w(c: dict, name: str) -> float | None:
    x = c.get(name)
    return x.get("wall_s") if x and x.get("returncode") == 0 and x.get("wall_s") is not None else None


def _r(c: dict, name: str) -> float | None:
    x = c.get(name)
    return x.get("peak_rss_gb") if x and x.get("returncode") == 0 else None


def derive(res: dict[str, Any]) -> None:
    """Top-level metrics from the runs: the primary kecamatan run gives the timings; the
    regency run (if any) the regency RSS; the Batang Asai run (if any) the backfill basis."""
    runs = res.get("runs", {})
    notes = res.setdefault("notes", {})
    primary = res.get("primary")
    c = runs.get(primary, {}) if primary else {}
    w = lambda n: _w(c, n)  # noqa: E731
    r = lambda n: _r(c, n)  # noqa: E731
    res["weekly_wall_s"] = w("weekly")
    # The floor is a read-only pass over the weekly run's inputs: the week's acquisitions AND the
    # stored per-tile state (baseline + detection) that the run reads; the imagery-only pass is
    # kept as a diagnostic.
    res["io_floor_wall_s"] = w("floor_state") or w("floor")
    res["io_floor_definition"] = "imagery + state" if w("floor_state") else "imagery only"
    res["weekly_vs_floor_ratio"] = (round(w("weekly") / res["io_floor_wall_s"], 2)
                                    if w("weekly") and res["io_floor_wall_s"] else None)
    res.pop("backfill_s_per_tile_acquisition", None)
    res.pop("io_floor_with_state_wall_s", None)
    res.pop("weekly_vs_floor_with_state_ratio", None)
    if w("floor"):
        res["io_floor_imagery_wall_s"] = w("floor")
        if w("weekly"):
            res["weekly_vs_imagery_floor_ratio"] = round(w("weekly") / w("floor"), 2)
    if c.get("weekly", {}).get("tiles_phase_s"):
        res["weekly_tiles_phase_s"] = round(c["weekly"]["tiles_phase_s"], 2)
    res["backfill_wall_s"] = w("backfill")
    res["peak_rss_gb_kecamatan"] = r("weekly")
    reg = runs.get("regency", {})
    res["peak_rss_gb_regency"] = _r(reg, "weekly")
    if reg and _w(reg, "weekly"):
        res["weekly_wall_s_regency"] = _w(reg, "weekly")
        fl = _w(reg, "floor_state") or _w(reg, "floor")
        if fl:
            res["io_floor_wall_s_regency"] = fl
            res["weekly_vs_floor_ratio_regency"] = round(_w(reg, "weekly") / fl, 2)
        if _w(reg, "local1") and _w(reg, "local2"):
            res["cluster_speedup_2v1_regency"] = round(_w(reg, "local1") / _w(reg, "local2"), 2)
    res["rss_regency_vs_kecamatan"] = (round(res["peak_rss_gb_regency"] / res["peak_rss_gb_kecamatan"], 2)
                                       if res["peak_rss_gb_regency"] and res["peak_rss_gb_kecamatan"] else None)
    for aoi_name, rc in runs.items():
        if aoi_name == primary:
            continue
        tag = aoi_name.replace("-", "_")
        if _w(rc, "local1") and _w(rc, "local2"):
            res[f"cluster_speedup_2v1_{tag}"] = round(_w(rc, "local1") / _w(rc, "local2"), 2)
        if _w(rc, "weekly") and (_w(rc, "floor_state") or _w(rc, "floor")):
            res[f"weekly_vs_floor_ratio_{tag}"] = round(_w(rc, "weekly") / (_w(rc, "floor_state") or _w(rc, "floor")), 2)
        if aoi_name != "regency" and _r(rc, "weekly"):
            res[f"peak_rss_gb_{aoi_name.replace('-', '_')}"] = _r(rc, "weekly")
            if res["peak_rss_gb_kecamatan"]:
                res[f"rss_{aoi_name.replace('-', '_')}_vs_{primary}"] = round(
                    _r(rc, "weekly") / res["peak_rss_gb_kecamatan"], 2)
    if w("naive") and w("backfill") and w("weekly"):
        res["naive_speedup"] = round(w("naive") / (w("backfill") + w("weekly")), 2)
        res["naive_memory_ratio"] = round(r("naive") / max(r("backfill"), r("weekly")), 2)
        notes["naive"] = ("naive reads baseline + week acquisitions of the AOI at once; compared with the "
                          "pipeline's backfill + weekly over the same acquisitions (speedup = naive wall / "
                          "(backfill + weekly) wall). Memory ratio = naive peak RSS / max(backfill, weekly) "
                          "peak RSS. Both on the primary kecamatan.")
    if w("local1") and w("local2"):
        res["cluster_speedup_2v1"] = round(w("local1") / w("local2"), 2)
    for aoi_name, rc in runs.items():  # an existing cluster (workers started before the run)
        if _w(rc, "cluster1") and _w(rc, "cluster2"):
            tag = "" if aoi_name == primary else "_" + aoi_name.replace("-", "_")
            res[f"cluster_speedup_2v1_running_cluster{tag}"] = round(_w(rc, "cluster1") / _w(rc, "cluster2"), 2)
    wy = next((rc for rc in runs.values() if _w(rc, "weekly_year") and _w(rc, "naive_year")), None)
    if wy:
        res["naive_year_speedup"] = round(_w(wy, "naive_year") / _w(wy, "weekly_year"), 2)
        res["naive_year_memory_ratio"] = round(_r(wy, "naive_year") / _r(wy, "weekly_year"), 2)
        res["weekly_year_wall_s"] = _w(wy, "weekly_year")
        res["naive_year_wall_s"] = _w(wy, "naive_year")
        notes["naive_year"] = (
            f"Weekly operation with a mature baseline, on the year catalog's tiles: the pipeline's weekly step "
            f"for {wy['weekly_year'].get('week')} on the 52-week backfill's state ({_w(wy, 'weekly_year')} s, "
            f"{_r(wy, 'weekly_year')} GB) against the naive script, which has no state and so reads and reduces "
            f"the year of history ({len(wy['naive_year'].get('history', [])) or wy['naive_year'].get('n_dates')} "
            f"dates) plus the week every week ({_w(wy, 'naive_year')} s, {_r(wy, 'naive_year')} GB).")
    by = next((rc["backfill_year"] for rc in runs.values() if _w(rc, "backfill_year")), None)
    ba_mpx = res.get("aoi_megapixels", {}).get("batang-asai")
    if by and ba_mpx:
        res["backfill_52w_measured_s"] = by["wall_s"]
        res["backfill_52w_measured_megapixels"] = by["megapixels"]
        res["backfill_52w_batang_asai_s"] = round(by["wall_s"] * ba_mpx / by["megapixels"], 1)
        res["backfill_52w_regency_s"] = round(by["wall_s"] * REGENCY_MPX / by["megapixels"], 1)
        notes["backfill_52w_batang_asai_s"] = (
            f"MEASURED on {by['tiles']} full tiles ({by['megapixels']} Mpx) x 52 weeks ({by['acquisitions']} "
            f"acquisitions, {by['start']}..{by['end']}): {by['wall_s']} s with one tile per core; scaled "
            f"linearly by pixels to Batang Asai ({ba_mpx} Mpx in its tile windows) and to the regency "
            f"({REGENCY_MPX} Mpx). Tiles are independent, so the scaling is linear on the same 2 cores; "
            "more workers divide it.")
        return
    # backfill extrapolation: prefer a Batang Asai run, else the primary run, per megapixel-acquisition
    basis = "batang-asai" if _w(runs.get("batang-asai", {}), "backfill") else primary
    bc = runs.get(basis, {}) if basis else {}
    bf = bc.get("backfill")
    ba_mpx = res.get("aoi_megapixels", {}).get("batang-asai")
    if bf and _w(bc, "backfill") and bf.get("acquisitions") and res.get("aoi_megapixels", {}).get(basis) and ba_mpx:
        mpx = res["aoi_megapixels"][basis]
        per = _w(bc, "backfill") / (mpx * bf["acquisitions"])
        res["backfill_s_per_megapixel_acquisition"] = round(per, 4)
        res["backfill_52w_batang_asai_s"] = round(per * ba_mpx * ACQ_PER_YEAR, 1)
        notes["backfill_52w_batang_asai_s"] = (
            f"EXTRAPOLATED, not measured: no year-long catalog exists. Measured backfill on {basis}: "
            f"{_w(bc, 'backfill')} s for {mpx} Mpx (AOI tile windows) x {bf['acquisitions']} acquisitions = "
            f"{per:.4f} s per Mpx-acquisition (includes the fixed per-run cost, so it slightly overstates the "
            f"marginal cost), x Batang Asai {ba_mpx} Mpx x {ACQ_PER_YEAR} acquisitions/year (5-day revisit). "
            "Assumes linear scaling in acquisitions (the backfill folds them in batches of 6 into a fixed-size "
            "state) and the same 2 shared cores.")
    else:
        res["backfill_52w_batang_asai_s"] = None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=("regency", "kecamatan"), default="regency")
    ap.add_argument("--kecamatan", default=DEFAULT_KECAMATAN, help="AOI for --scale kecamatan")
    ap.add_argument("--catalog", default=DEFAULT_CATALOG)
    ap.add_argument("--workdir", default="/tmp/perf_bench")
    ap.add_argument("--cases", nargs="*",
                    default=["backfill", "weekly", "floor", "floor_state", "profile", "local1", "local2", "naive"])
    ap.add_argument("--timeout", type=float, default=3600.0, help="per case (s)")
    ap.add_argument("--year-catalog", default="data/bench/year2/catalog.json",
                    help="a year-long catalog for the backfill_year case")
    ap.add_argument("--primary", action="store_true",
                    help="make this kecamatan run the one the top-level metrics come from "
                         "(default: the first kecamatan run recorded)")
    # child side
    ap.add_argument("--case")
    ap.add_argument("--work")
    ap.add_argument("--plan")
    ap.add_argument("--result")
    a = ap.parse_args()
    if a.case:
        child(a)
        return

    catalog = Path(a.catalog).resolve()
    if not catalog.is_file():
        if a.catalog != DEFAULT_CATALOG:
            raise SystemExit(f"{catalog} missing: simulate one, e.g. `sarolangun-geo simulate --scenario regency "
                             f"--kecamatan singkut --out /tmp/sim_singkut`, and pass --catalog")
        from sarolangun_geo import simulate

        print(f"simulating the whole-regency catalog into {catalog.parent} (6 dates, ~8.4 GB, "
              "15-40 min on 2 cores) ...", flush=True)
        catalog = Path(simulate.simulate_catalog(catalog.parent, simulate.scenario("regency"))).resolve()
    year = Path(a.year_catalog)
    if "backfill_year" in a.cases and not year.is_file() and a.year_catalog == "data/bench/year2/catalog.json":
        from sarolangun_geo import simulate

        print(f"simulating a year-long two-tile catalog into {year.parent} (~5 min) ...", flush=True)
        simulate.simulate_catalog(year.parent, simulate.scenario("demo", tiles=("x04y08", "x05y08"),
                                                                 start="2025-06-01", end="2026-06-07"))
    kec = a.kecamatan if a.scale == "kecamatan" else ""
    root = Path(a.workdir) / (a.scale + ("-" + kec if kec else ""))
    root.mkdir(parents=True, exist_ok=True)
    p = plan(catalog)
    RESULTS.mkdir(parents=True, exist_ok=True)
    prev_path = RESULTS / "perf.json"
    res: dict[str, Any] = json.loads(prev_path.read_text()) if prev_path.is_file() else {}
    res.update({"generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.machine()} python {platform.python_version()}",
                "last_run": {"scale": a.scale, "aoi": kec or "regency", "cases": a.cases}})
    for k in ("catalog", "scale", "aoi", "plan", "tiles", "cases"):
        res.pop(k, None)
    for k in ("weekly_wall_s", "io_floor_wall_s", "weekly_vs_floor_ratio", "peak_rss_gb_regency",
              "peak_rss_gb_kecamatan", "rss_regency_vs_kecamatan", "naive_speedup", "naive_memory_ratio",
              "cluster_speedup_2v1", "backfill_wall_s", "backfill_52w_batang_asai_s"):
        res.setdefault(k, None)
    res.setdefault("notes", {})
    run_key = kec or "regency"
    if a.scale == "kecamatan" and (not res.get("primary") or a.primary):
        res["primary"] = run_key
    cases = res.setdefault("runs", {}).setdefault(run_key, {})
    from sarolangun_geo import aoi as _aoi
    from sarolangun_geo.pipeline.run import _windows as _win

    def _mpx(name: str | None) -> float:
        from sarolangun_geo.pipeline import load_run_config

        (root / "mpx").mkdir(parents=True, exist_ok=True)
        wins = _win(load_run_config(_toml(catalog, root / "mpx", name, "threads", None)))[1]
        return round(sum((r1 - r0) * (c1 - c0) for r0, c0, r1, c1 in wins.values()) / 1e6, 2)

    res.setdefault("runs_meta", {}).setdefault(run_key, {}).update({"catalog": str(catalog), "plan": p})
    mp = res.setdefault("aoi_megapixels", {})
    mp[run_key] = _mpx(kec or None)
    mp.setdefault("batang-asai", _mpx(_aoi.find_kecamatan("batang-asai")["slug"]))

    from sarolangun_geo.pipeline.run import _windows

    def args_for(name: str, work: Path) -> list[str]:
        work.mkdir(parents=True, exist_ok=True)
        return ["--case", name, "--work", str(work), "--catalog", str(catalog), "--kecamatan", kec,
                "--year-catalog", str(Path(a.year_catalog).resolve()),
                "--plan", json.dumps(p), "--result", str(work / f"{name}.json")]

    base = root / "base"
    for name in a.cases:
        print(f"[{time.strftime('%H:%M:%S')}] case {name} ...", flush=True)
        if name == "backfill":
            if base.exists():
                shutil.rmtree(base)
            work = base
        else:
            work = root / name
            if name == "backfill_year" and work.exists():
                shutil.rmtree(work)  # a fresh build: finished tiles would be skipped
            if name == "weekly_year":
                if not (root / "backfill_year" / "state").exists():
                    print("  no year baseline yet: run the backfill_year case first", flush=True)
                    continue
                _copy_state(root / "backfill_year", work)
            elif name not in ("naive", "backfill_year", "naive_year"):
                if not (base / "state").exists():
                    print("  no baseline yet: run the backfill case first", flush=True)
                    continue
                _copy_state(base, work)
        work.mkdir(parents=True, exist_ok=True)
        if name == "backfill" or not res["runs_meta"][run_key].get("tiles"):
            from sarolangun_geo.pipeline import load_run_config

            cfg = load_run_config(_toml(catalog, work, kec or None, "threads", None))
            res["runs_meta"][run_key]["tiles"] = len(_windows(cfg)[1])
        if name == "naive":
            import psutil

            n_dates = len(p["baseline_dates"]) + len(p["week_dates"])
            est = mp[run_key] * 1e6 * n_dates * 7 * 4 * NAIVE_RSS_PER_CUBE_BYTE / 1e9
            avail = psutil.virtual_memory().available / 1e9
            if est > 0.6 * avail:
                res["notes"][f"naive_{run_key}"] = (
                    f"naive case skipped on {run_key}: estimated peak {est:.1f} GB (cube {mp[run_key]} Mpx x "
                    f"{n_dates} dates x 7 bands x float32 x {NAIVE_RSS_PER_CUBE_BYTE}, the ratio measured on "
                    f"Singkut) > 60 % of the {avail:.1f} GB available: it would not fit next to the test suite.")
                print("  " + res["notes"][f"naive_{run_key}"], flush=True)
                continue
        cases[name] = run_case(args_for(name, work), timeout=a.timeout)
        c = cases[name]
        print(f"  wall {c.get('wall_s')} s, process {c['process_wall_s']} s, peak RSS {c['peak_rss_gb']} GB, "
              f"rc {c['returncode']}", flush=True)
        if c["returncode"] != 0:
            print(c.get("log_tail", ""), flush=True)
        if work != base and a.scale == "regency":
            shutil.rmtree(work, ignore_errors=True)  # free the disk: each case's state is tens of GB
        derive(res)
        prev_path.write_text(json.dumps(res, indent=1, default=str))
        write_md(res)
    derive(res)
    prev_path.write_text(json.dumps(res, indent=1, default=str))
    write_md(res)


if __name__ == "__main__":
    main()
