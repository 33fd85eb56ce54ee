"""Baseline statistics as persistent, incrementally updated per-tile state.

What is kept
------------
For every pixel, every *season* (wet / dry, months from the config) and every
baseline variable (``ndvi, bsi, mndwi, ndti`` and the reflectances ``nir,
swir16`` used by the shadow test), a **ring buffer of the last N clear
observations** (``buf_<var>``, int16 codes of value / 1e-4, dims ``(season, slot, y, x)``, int16 codes of ``value / 1e-4``) and the
number of clear observations ever folded in (``count``, ``(season, y, x)``).
The next clear value of a pixel goes to slot ``count % N``.  A month-of-year
water climatology (``month_obs``, ``month_water``: clear and water looks per
calendar month, uint16, never forgotten) remembers seasonal flooding beyond
the buffer's window.

Why a ring buffer: the statistics the detector needs (median, MAD, quantiles,
water/vegetation frequency) are then **exact** over a well-defined window –
"the last N clear observations of this pixel in this season" – instead of
approximate sketches, and the memory is bounded (``6 vars x 2 seasons x N x
2 bytes`` per pixel: 384 MB per 10 km tile at N = 16, much less compressed).
int16 codes keep values to 1e-4, far below any threshold, and decode fast.

Incremental and idempotent
--------------------------
:func:`update_state` folds a cube of new acquisitions into a state; the ISO
dates already folded are recorded in ``state.attrs["acquisitions"]`` and are
skipped on a rerun, so re-running a week (or a backfill) changes nothing.  A
backfill is just :func:`update_state` on :func:`empty_state` with the history.
Pixels flagged by ``exclude`` (ongoing detections) are not folded, so an
active mine does not become "normal" after N observations.

Storage
-------
:func:`write_state` / :func:`read_state` keep one zarr store per canonical tile
(``<state_dir>/<name>/<tile_id>.zarr``), written atomically (temp + rename),
zstd level :data:`ZSTD_LEVEL`.  The same helpers carry the week-to-week
detection state of :mod:`sarolangun_geo.change.mining`.  A weekly update reads
its baseline lazily and folds only the season of its acquisitions: the other
season's ring buffers are read only where the statistics need them, one chunk
at a time, and are hard-linked, not rewritten, into the new snapshot.
"""

from __future__ import annotations

from .state import (
    BASELINE_VARS,
    BUF_NODATA,
    BUF_SCALE,
    BaselineParams,
    empty_state,
    season_of,
    state_acquisitions,
    update_state,
)
from .stats import (
    baseline_stats,
    folded_pixels,
    reference_bands,
    refresh_stats,
    state_reference_bands,
    stats_by_season,
)
from .store import ZSTD_LEVEL, read_state, write_state

__all__ = [
    "BASELINE_VARS",
    "BUF_NODATA",
    "BUF_SCALE",
    "ZSTD_LEVEL",
    "BaselineParams",
    "baseline_stats",
    "empty_state",
    "folded_pixels",
    "read_state",
    "reference_bands",
    "refresh_stats",
    "season_of",
    "state_acquisitions",
    "state_reference_bands",
    "stats_by_season",
    "update_state",
    "write_state",
]
