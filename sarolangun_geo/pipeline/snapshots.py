"""Week-labelled state snapshots on disk, and the per-tile checkpoints.

State lives under ``<state>/`` as one zarr store per canonical tile (written
by :func:`sarolangun_geo.baseline.write_state`, atomically):

* ``baseline/<YYYY-Www>/<tile>.zarr`` – the baseline after the acquisitions
  up to that week were folded in (the backfill writes the week of its end date);
* ``stats/<YYYY-Www>/<tile>.zarr`` – that baseline's robust statistics for the season of the
  following week, so the next week reads them instead of sorting the ring buffers again (only
  the pixels a week folded a look into are recomputed);
* ``detection/<YYYY-Www>/<tile>.zarr`` – that week's evidence/confidence
  (docs/architecture.md §3), which is also the state carried to the next week;
* ``weekly/<YYYY-Www>/<tile>.zarr`` – the week's composite and road evidence;
* ``roads/<YYYY-Www>/`` – the tiles' road pixel tables and the week's segment state
  (:mod:`.roadwork`);
* ``done/<YYYY-Www>/<tile>.json`` – the checkpoint: written last, after the
  stores, so a tile is either done or redone.  The backfill writes one too
  (with only a baseline store).

A week reads the latest *complete* snapshot before it, so rerunning the
latest week reads the same inputs and writes the same outputs.  Older
snapshots than ``keep`` weeks back are pruned.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..publish._io import atomic_write_text

__all__ = [
    "KINDS",
    "atomic_write_text",
    "mark_tile_done",
    "previous_week",
    "prune",
    "snapshot_weeks",
    "tile_done",
]

KINDS = ("baseline", "stats", "detection", "weekly", "roads")


def snapshot_weeks(state_dir: Path, tiles: list[str]) -> list[str]:
    """Weeks whose every tile in ``tiles`` has its checkpoint (sorted)."""
    root = Path(state_dir) / "done"
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir()
                  if d.is_dir() and not d.name.startswith(".") and all(tile_done(state_dir, d.name, t) for t in tiles))


def previous_week(state_dir: Path, tiles: list[str], week: str) -> str | None:
    """The latest complete snapshot week strictly before ``week`` (or None)."""
    earlier = [w for w in snapshot_weeks(state_dir, tiles) if w < week]
    return earlier[-1] if earlier else None


def _done_path(state_dir: Path, week: str, tile: str) -> Path:
    return Path(state_dir) / "done" / week / f"{tile}.json"


def tile_done(state_dir: Path, week: str, tile: str) -> bool:
    """True if the tile's week was completed (its checkpoint exists)."""
    return _done_path(state_dir, week, tile).is_file()


def mark_tile_done(state_dir: Path, week: str, tile: str, info: dict) -> None:
    """Write the tile's checkpoint (last step of a tile's week)."""
    atomic_write_text(_done_path(state_dir, week, tile), json.dumps(info, sort_keys=True, indent=1))


def prune(state_dir: Path, keep_from: str) -> list[Path]:
    """Delete snapshots of weeks before ``keep_from``; returns what went.

    The weekly run keeps the snapshot it read (``keep_from``) and the one it
    wrote, which is all a rerun of the latest week needs (the registry refuses
    older weeks).  Rebuilding an older week means a new backfill.
    """
    gone = []
    for kind in (*KINDS, "done"):
        root = Path(state_dir) / kind
        if not root.is_dir():
            continue
        for d in root.iterdir():
            if d.is_dir() and not d.name.startswith(".") and d.name < keep_from:
                shutil.rmtree(d, ignore_errors=True)
                gone.append(d)
    return gone
