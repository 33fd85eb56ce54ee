"""frozen_heap: tile work collects only what it made; nested and overlapping entries; run_tiles uses it."""

from __future__ import annotations

import gc
import threading
import weakref

from sarolangun_geo.pipeline.heap import frozen_heap
from sarolangun_geo.pipeline.run import run_tiles
from sarolangun_geo.pipeline.scheduler import SchedulerInfo
from sarolangun_geo.pipeline.tilework import TileJob


class _Node:
    pass


def _cycle() -> weakref.ref:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_frozen_heap__freezes_what_is_alive_and_unfreezes_on_exit():
    before = _Node()
    before.self = before  # cyclic, alive on entry: frozen
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() > 0
        ref_before = weakref.ref(before)
        del before
        made_inside = _cycle()  # cyclic garbage made inside is collected inside
        gc.collect()
        assert made_inside() is None
        assert ref_before() is not None  # frozen: waits for the exit
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert ref_before() is None


def test_frozen_heap__nested_and_overlapping_threads_freeze_once():
    inside, release = threading.Barrier(3), threading.Event()
    counts: list[int] = []

    def worker():
        with frozen_heap():
            inside.wait()
            release.wait()
            counts.append(gc.get_freeze_count())

    with frozen_heap():
        frozen = gc.get_freeze_count()
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        inside.wait()
        assert gc.get_freeze_count() == frozen  # the threads' entries did not freeze again
        release.set()
        for t in threads:
            t.join()
        assert gc.get_freeze_count() == frozen  # still frozen: this block has not left
    assert counts == [frozen, frozen] and gc.get_freeze_count() == 0


def test_run_tiles__tile_functions_run_with_the_heap_frozen():
    seen: list[int] = []

    def func(job):
        seen.append(gc.get_freeze_count())
        return {"tile": job.tile, "status": "ok"}

    jobs = [TileJob(tile=f"x0{i}y01", window=(0, 0, 10, 10), label="2026-W47", prev=None, start="2026-11-16",
                    end="2026-11-22", source="stac", source_kw=(), state_dir="/nonexistent", detection_toml="")
            for i in range(3)]
    for spec in ("sync", "threads"):
        seen.clear()
        run_tiles(func, jobs, SchedulerInfo(spec=spec))
        assert len(seen) == 3 and all(n > 0 for n in seen)
    assert gc.get_freeze_count() == 0
