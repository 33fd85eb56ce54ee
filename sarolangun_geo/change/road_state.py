"""Per-segment road-damage state carried from week to week (persistence).

A segment's look in one week can be wrong: a missed cloud shadow, haze, a wet
week.  Damage is therefore reported only when the evidence was seen on
``persist_looks`` clear looks in a row, and cleared only after ``clear_looks``
clear looks without it.  Weeks without a look (cloud) change nothing.  The state
is a few columns of the weekly segment table (:data:`STATE_COLUMNS`), so last
week's table is all that is carried.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .params import RoadParams

__all__ = ["STATE_COLUMNS", "advance_state", "carry_last_look"]

#: Per-segment state carried from week to week (after SEGMENT_COLUMNS in the scored table).
STATE_COLUMNS = ["evidence", "streak", "misses", "n_looks", "last_look", "first_damaged"]


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


def advance_state(segment_id: np.ndarray, looked: np.ndarray, evidence: np.ndarray, week: str,
                  params: RoadParams, previous: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """Advance the per-segment persistence state by one week.

    A week without a look (cloud) changes nothing.  A look with evidence adds one
    to ``streak`` and zeroes ``misses``; a look without adds one to ``misses`` and
    zeroes ``streak``.  ``damaged`` is set once ``streak`` reaches ``persist_looks``
    (transient cloud shadow, haze or a wet week does not count) and cleared once
    ``misses`` reaches ``clear_looks`` (the road was repaired).  Returns numpy arrays
    ``damaged, streak, misses, n_looks, last_look, first_damaged`` (weeks as
    ``YYYY-Www``, ``""`` for never).
    """
    streak0 = _previous(segment_id, previous, "streak", 0)
    misses0 = _previous(segment_id, previous, "misses", 0)
    dmg0 = _previous(segment_id, previous, "damaged", False)
    streak = np.where(looked, np.where(evidence, streak0 + 1, 0), streak0)
    misses = np.where(looked, np.where(evidence, 0, misses0 + 1), misses0)
    damaged = (streak >= params.persist_looks) | (dmg0 & (misses < params.clear_looks))
    first0 = _previous(segment_id, previous, "first_damaged", "")
    last0 = _previous(segment_id, previous, "last_look", "")
    return {"damaged": damaged.astype(bool), "streak": streak.astype(np.int32), "misses": misses.astype(np.int32),
            "n_looks": (_previous(segment_id, previous, "n_looks", 0) + looked).astype(np.int32),
            "last_look": np.where(looked, week, last0).astype(str),
            "first_damaged": np.where(damaged & (first0 == ""), week, first0).astype(str)}
