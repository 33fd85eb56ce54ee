"""Cheap garbage collections during tile work: the heap alive before it is frozen.

A tile's arrays sit in reference cycles (odc-geo's accessors hold their
Dataset), so the tile functions call :func:`gc.collect` to free them between
steps.  A full collection scans every tracked object of the process, and after
importing xarray, dask, geopandas and friends that is ~190,000 objects and
~0.2 s with the GIL held, two to a dozen times per tile.  Inside
:func:`frozen_heap` what was alive on entry is moved to the permanent
generation (:func:`gc.freeze`), so collections (explicit and automatic) scan
only what the tile work made since; on leaving, it is unfrozen and collected
as usual again.  Only cyclic garbage among the objects alive on entry waits
until then (plain reference counting frees everything else).

Entries nest and may overlap across threads: the first entry freezes, the last
exit unfreezes, and a thread entering while the heap is frozen does not
freeze again (that would freeze the other threads' tile arrays too).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["frozen_heap"]

_lock = threading.Lock()
_depth = 0


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Freeze the objects alive now for the duration of the block (re-entrant, thread-safe)."""
    global _depth
    with _lock:
        if _depth == 0:
            gc.freeze()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.unfreeze()
