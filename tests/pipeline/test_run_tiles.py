"""run_tiles: largest tile windows first, results sorted by tile, failures captured."""

from __future__ import annotations

import threading

from sarolangun_geo.pipeline.run import run_tiles
from sarolangun_geo.pipeline.scheduler import SchedulerInfo
from sarolangun_geo.pipeline.tilework import TileJob


def _job(tile: str, rows: int, cols: int) -> TileJob:
    return TileJob(tile=tile, window=(0, 0, rows, cols), label="2026-W47", prev=None, start="2026-11-16",
                   end="2026-11-22", source="stac", source_kw=(), state_dir="/nonexistent", detection_toml="")


JOBS = [_job("x01y01", 100, 1000), _job("x02y01", 1000, 1000), _job("x03y01", 500, 1000), _job("x04y01", 1000, 20)]


def test_run_tiles__sync_starts_largest_window_first_and_returns_sorted():
    order: list[str] = []

    def func(job):
        order.append(job.tile)
        return {"tile": job.tile, "status": "ok"}

    res = run_tiles(func, JOBS, SchedulerInfo(spec="sync"))
    assert order == ["x02y01", "x03y01", "x01y01", "x04y01"]
    assert [r["tile"] for r in res] == sorted(j.tile for j in JOBS)


def test_run_tiles__threads_capture_a_failing_tile_and_return_sorted():
    started: list[str] = []
    lock = threading.Lock()

    def func(job):
        with lock:
            started.append(job.tile)
        if job.tile == "x03y01":
            raise RuntimeError("disk on fire")
        return {"tile": job.tile, "status": "ok"}

    res = run_tiles(func, JOBS, SchedulerInfo(spec="threads"))
    assert [r["tile"] for r in res] == sorted(j.tile for j in JOBS)
    failed = {r["tile"]: r for r in res if r["status"] == "failed"}
    assert list(failed) == ["x03y01"] and "disk on fire" in failed["x03y01"]["error"]
    assert "(at test_run_tiles.py:" in failed["x03y01"]["error"] and "in func)" in failed["x03y01"]["error"]
    assert sorted(started) == sorted(j.tile for j in JOBS)  # the failure did not stop the others


def test_release_memory__runs_anywhere():
    from sarolangun_geo.pipeline.run import release_memory

    assert release_memory() is None  # gc + malloc_trim on glibc, gc alone elsewhere
