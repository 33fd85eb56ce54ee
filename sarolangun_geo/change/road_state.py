"""Per-segment road-damage state carried from week to week (persistence).

A segment's look in one week can be wrong: a missed cloud shadow, haze, a wet
week.  Damage is therefore reported only when the evidence was seen on
``persist_looks`` of the segment's last ``persist_window`` clear looks (with the
defaults, two looks in a row), or on one *decisive* look (a score of at least
``single_look_score`` on an almost fully clear corridor whose surroundings did
not change, with a neighbouring segment showing it too: many damage events are
seen clear only once in the wet season).  A segment next to a damaged one on
the same road needs less evidence (``support_score``: damage runs along a road);
a segment whose surroundings changed area-wide on one of its last
``context_memory_looks`` looks shows none (the baseline is still settling).
Damage is cleared after ``clear_looks`` clear looks in a row without evidence.
Weeks without a look (cloud) change nothing.

The state is a few columns of the weekly segment table (:data:`STATE_COLUMNS`,
then :data:`STATE_EXTRA_COLUMNS`), so last week's table is all that is carried.
A table written before the extra columns existed is read as if its ``streak``
were the whole evidence history and no area-wide change had been seen (the
same decisions as before).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .params import RoadParams

__all__ = ["STATE_COLUMNS", "STATE_EXTRA_COLUMNS", "advance_state", "carry_last_look", "neighbour_damaged",
           "neighbours", "shift_bits"]

#: Per-segment state carried from week to week (after SEGMENT_COLUMNS in the scored table).  A stored
#: table needs these to be read back (``pipeline.roadwork.read_segment_state``).
STATE_COLUMNS = ["evidence", "streak", "misses", "n_looks", "last_look", "first_damaged"]
#: State added later (after STATE_COLUMNS), bitmasks over the last 16 looks (bit 0 the latest): ``recent``,
#: the looks with evidence (derived from ``streak`` when missing); ``wide``, the looks whose surroundings had
#: changed area-wide (0 when missing).  Optional when read.
STATE_EXTRA_COLUMNS = ["recent", "wide"]
_RECENT_BITS = 16


def _previous(segment_id: np.ndarray, previous: pd.DataFrame | None, col: str, fill: Any) -> np.ndarray:
    """Last week's ``col`` for each segment (``fill`` where unknown)."""
    if previous is None or col not in previous or not len(previous):
        return np.full(len(segment_id), fill, dtype=object if isinstance(fill, str) else type(fill))
    p = pd.DataFrame(previous).drop_duplicates("segment_id").set_index("segment_id")[col]
    p = p.reindex(segment_id)
    return p.fillna(fill).to_numpy().astype(object if isinstance(fill, str) else type(fill))


def carry_last_look(segment_id: np.ndarray, looked: np.ndarray, now: dict[str, np.ndarray],
                    previous: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """This week's values where the segment looked, else last week's (the last look's)."""
    return {k: np.where(looked, v, _previous(segment_id, previous, k, 0.0)) for k, v in now.items()}


def shift_bits(segment_id: np.ndarray, looked: np.ndarray, now: np.ndarray, previous: pd.DataFrame | None,
               col: str) -> np.ndarray:
    """Last week's bitmask ``col`` (0 where unknown) with this week's ``now`` shifted in where the segment looked.

    Bit 0 is the latest look; the last 16 looks are kept (int32).
    """
    old = np.zeros(len(segment_id), np.int64)
    if previous is not None and col in previous and len(previous):
        p = pd.DataFrame(previous).drop_duplicates("segment_id").set_index("segment_id")[col]
        old = pd.to_numeric(p, errors="coerce").reindex(segment_id).fillna(0).to_numpy().astype(np.int64)
    now = np.asarray(now, bool)
    return np.where(looked, ((old << 1) | now) & ((1 << _RECENT_BITS) - 1), old).astype(np.int32)


def _recent(segment_id: np.ndarray, previous: pd.DataFrame | None) -> np.ndarray:
    """Last week's evidence bitmask; from ``streak`` (that many evidence looks in a row) when not stored."""
    from_streak = ((1 << np.minimum(_previous(segment_id, previous, "streak", 0), _RECENT_BITS)) - 1).astype(np.int64)
    if previous is None or "recent" not in previous or not len(previous):
        return from_streak
    p = pd.DataFrame(previous).drop_duplicates("segment_id").set_index("segment_id")["recent"]
    stored = pd.to_numeric(p, errors="coerce").reindex(segment_id).fillna(-1).to_numpy().astype(np.int64)
    return np.where(stored >= 0, stored, from_streak)


def advance_state(segment_id: np.ndarray, looked: np.ndarray, evidence: np.ndarray, week: str,
                  params: RoadParams, previous: pd.DataFrame | None = None,
                  decisive: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Advance the per-segment persistence state by one week.

    Parameters
    ----------
    segment_id
        The segments (matched on ``previous['segment_id']``).
    looked, evidence
        bool per segment: the segment was seen clear this week; the look showed damage.
    decisive
        bool per segment (or None): a look strong and clean enough to flag on its own.

    A week without a look (cloud) changes nothing.  A look shifts its evidence into
    ``recent``; a look with evidence adds one to ``streak`` and zeroes ``misses``, a
    look without adds one to ``misses`` and zeroes ``streak``.  ``damaged`` is set
    when at least ``persist_looks`` of the last ``persist_window`` looks showed
    evidence (transient cloud shadow, haze or a wet week does not count) or the
    look was decisive, and cleared once ``misses`` reaches ``clear_looks`` (the road
    was repaired).  Returns numpy arrays ``damaged, streak, misses, n_looks,
    last_look, first_damaged`` (weeks as ``YYYY-Www``, ``""`` for never) and ``recent``.
    """
    looked = np.asarray(looked, bool)
    evidence = np.asarray(evidence, bool) & looked
    decisive = np.zeros(looked.shape, bool) if decisive is None else np.asarray(decisive, bool) & evidence
    streak0 = _previous(segment_id, previous, "streak", 0)
    misses0 = _previous(segment_id, previous, "misses", 0)
    dmg0 = _previous(segment_id, previous, "damaged", False)
    recent0 = _recent(segment_id, previous)
    streak = np.where(looked, np.where(evidence, streak0 + 1, 0), streak0)
    misses = np.where(looked, np.where(evidence, 0, misses0 + 1), misses0)
    recent = np.where(looked, ((recent0 << 1) | evidence) & ((1 << _RECENT_BITS) - 1), recent0)
    window = min(max(params.persist_window, params.persist_looks), _RECENT_BITS)
    hits = np.bitwise_count(recent & ((1 << window) - 1))
    onset = looked & evidence & ((hits >= params.persist_looks) | decisive)
    damaged = onset | (dmg0 & (misses < params.clear_looks))
    first0 = _previous(segment_id, previous, "first_damaged", "")
    last0 = _previous(segment_id, previous, "last_look", "")
    return {"damaged": damaged.astype(bool), "streak": streak.astype(np.int32), "misses": misses.astype(np.int32),
            "n_looks": (_previous(segment_id, previous, "n_looks", 0) + looked).astype(np.int32),
            "last_look": np.where(looked, week, last0).astype(str),
            "first_damaged": np.where(damaged & (first0 == ""), week, first0).astype(str),
            "recent": recent.astype(np.int32)}


def neighbours(segments: gpd.GeoDataFrame, tol_m: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Row index of each segment's predecessor and successor on its road (-1 for none).

    Rows ``i`` and ``i + 1`` (the order of :func:`~sarolangun_geo.change.roads.split_segments`)
    are neighbours when they have the same ``road_id`` and the end of ``i`` is within
    ``tol_m`` of the start of ``i + 1`` (the parts of a MultiLineString do not touch).
    """
    n = len(segments)
    if n < 2:
        return np.full(n, -1), np.full(n, -1)
    geoms = np.asarray(segments.geometry.values)
    road = segments["road_id"].astype(str).to_numpy()
    ends, starts = shapely.get_point(geoms[:-1], -1), shapely.get_point(geoms[1:], 0)
    link = (road[:-1] == road[1:]) & (shapely.distance(ends, starts) <= tol_m)
    idx = np.arange(n)
    prev = np.where(np.r_[False, link], idx - 1, -1)
    nxt = np.where(np.r_[link, False], idx + 1, -1)
    return prev, nxt


def neighbour_damaged(segment_id: np.ndarray, links: tuple[np.ndarray, np.ndarray],
                      previous: pd.DataFrame | None) -> np.ndarray:
    """bool per segment: a neighbour on its road (:func:`neighbours`) was damaged in ``previous``."""
    dmg = _previous(segment_id, previous, "damaged", False).astype(bool)
    out = np.zeros(len(segment_id), bool)
    for link in links:
        out |= (link >= 0) & dmg[np.maximum(link, 0)]
    return out
