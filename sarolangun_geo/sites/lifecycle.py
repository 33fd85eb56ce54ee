"""Site status lifecycle: the weekly transition table.

Statuses (docs §4): ``baru`` (new), ``aktif`` (active), ``meluas`` (expanding),
``tidak_aktif`` (inactive), ``rehabilitasi`` (revegetating), ``aktif_kembali``
(reactivated).

Each registry update is one *run* of the pipeline: one ISO week, or a
catch-up span of ``span_weeks`` weeks ending with the registry week
(``pipeline.weekly(week, span_weeks=N)``).  The run's **window** is the span's
first Monday to the week's Sunday (:func:`run_window`).  The detection state
(docs §3) accumulates: a confirmed pixel keeps its confidence forever, so
being covered by this run's polygons says nothing about activity.  Fresh
*evidence* says nothing either: an abandoned pit (bare spoil, a stagnant
pond) still differs from the vegetated baseline and confirms the change on
every clear look.  Activity is *ongoing change*: confirming looks on which
pixels changed towards disturbance since their previous clear look (new
ground cleared and dug as the site grows or next to it, a pond stirred,
flooded or pumped dry, regrowth cleared again), see
:mod:`sarolangun_geo.change.mining`; a stable pit, a settling pond and
revegetating spoil are not active.  The polygon's
**activity date** ``last_active`` is the latest day on which enough of its
pixels showed such change (:mod:`.polygonize`).  What a run *observes* of a
site is one of three things:

* **active**: fresh activity: a polygon matched the site and its activity
  date (``last_active``) falls inside the run's window and is later than the
  site's ``last_seen`` (which is therefore the date of the latest observed
  activity).  Polygons without a ``last_active`` column (evidence stored
  before it existed, older callers) fall back to their latest confirming
  observation ``last_detected``: the former rule;
* **quiet clear**: no fresh activity, and the site's footprint (its registry
  polygon before the run) was seen clear in the window
  (:attr:`EvidenceVectors.footprint_stats`);
* **unobserved**: no fresh activity and the footprint was not seen clear
  (clouds, no acquisition): nothing is learnt, nothing moves.

Signals computed each run for each site:

* **A** (new activity): the site is observed *active*.
* **G** (growth): **A**, with ``area_ha > growth_factor x`` the area at its
  previous detection.
* **K** (recurrence): **A**, the site's latest field verification is
  ``acted_on`` and the new observation is later than that visit, and the
  recurrence was not already counted.
* **R** (recovery): not **A**, and the mean ``d_ndvi`` on the site's footprint
  (latest clear look in the window) is ``>= rehab_d_ndvi`` (NDVI back near the
  baseline) while either no footprint pixel reaches the site threshold or the
  footprint was seen clear (a *quiet clear* run: confirmed pixels keep their
  confidence, so a revegetated old pit is still covered by a polygon).  Taken
  from :attr:`EvidenceVectors.footprint_stats` or an explicit ``recovery``
  input.
* **I** (inactive): not **A**, and the site has had ``quiet_clear_weeks >=
  inactive_weeks``: only weeks in which its footprint was actually observed,
  without activity, count (an abandoned pit retires after that many clear
  weeks however often it is confirmed).  ``quiet_clear_weeks`` (a ``sites``
  column) is reset to 0 by **A**,
  goes up by the run's clear-week credit (:func:`quiet_credit`) in a quiet
  clear run, and stays unchanged in an unobserved run, so a wet season of
  clouds does not retire live mines.  It is derived from the state before
  the run, so a rerun does not count twice.  Fallback when the footprint
  statistics carry no ``clear_frac`` (none given, or evidence without
  ``n_clear``): calendar weeks, ``week_end - last_seen >= 7 x
  inactive_weeks`` days (the count is then left unchanged).

**Clear-week credit of a run** (:func:`quiet_credit`): ``min(span_weeks,
clear_looks)``, where ``clear_looks`` is the number of clear looks that at
least ``min_clear_frac`` of the footprint had in the window (per-pixel
``n_clear``, docs §3).  A one-week run counts one quiet week when the
footprint was seen clear at all (``clear_frac >= min_clear_frac``).  A
catch-up span of N weeks counts N quiet weeks only if the footprint had at
least N clear looks in it; with fewer it counts one week per clear look (a
6-week span with 2 clear looks counts 2, a span with none counts 0).  Each
clear look stands for at most one week, and a span never counts more weeks
than it has.  Without ``clear_looks`` (older callers) a seen-clear run counts
one week whatever its span.

Transition table (first matching row wins; "live" = baru, aktif, meluas,
aktif_kembali):

=====================  =======================  ===============
from                   condition                to
=====================  =======================  ===============
(no site)              detected, no match       ``baru``
any                    A and K                  ``aktif_kembali``
tidak_aktif,           A                        ``aktif_kembali``
rehabilitasi
live                   A and G                  ``meluas``
live                   A                        ``aktif``
any but rehabilitasi   R                        ``rehabilitasi``
live                   I (clear quiet weeks)    ``tidak_aktif``
baru, meluas,          (otherwise)              ``aktif``
aktif_kembali
aktif, tidak_aktif,    (otherwise)              unchanged
rehabilitasi
=====================  =======================  ===============

So ``baru``, ``meluas`` and ``aktif_kembali`` last one run unless repeated;
a site keeps its status through cloudy weeks and only becomes ``tidak_aktif``
after ``inactive_weeks`` clear weeks without fresh activity (settings
``[lifecycle] inactive_weeks`` and ``min_clear_frac`` in
``data/config/sites.toml``); fresh activity on a ``tidak_aktif`` or
``rehabilitasi`` site makes it ``aktif_kembali``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

__all__ = [
    "LIVE",
    "STATUSES",
    "next_status",
    "parse_week",
    "quiet_credit",
    "run_window",
    "week_bounds",
]

STATUSES = ("baru", "aktif", "meluas", "tidak_aktif", "rehabilitasi", "aktif_kembali")
LIVE = frozenset({"baru", "aktif", "meluas", "aktif_kembali"})


def parse_week(week: str) -> tuple[int, int]:
    """``"2026-W07" -> (2026, 7)``; raises ValueError for anything else."""
    try:
        y, w = week.split("-W")
        year, num = int(y), int(w)
        dt.date.fromisocalendar(year, num, 1)
    except (ValueError, AttributeError):
        raise ValueError(f"week {week!r} is not an ISO week like '2026-W07'") from None
    if week != f"{year:04d}-W{num:02d}":
        raise ValueError(f"week {week!r} is not an ISO week like '2026-W07' (two-digit week)")
    return year, num


def week_bounds(week: str) -> tuple[dt.date, dt.date]:
    """(Monday, Sunday) of ISO week ``week``."""
    year, num = parse_week(week)
    return dt.date.fromisocalendar(year, num, 1), dt.date.fromisocalendar(year, num, 7)


def run_window(week: str, span_weeks: int = 1) -> tuple[dt.date, dt.date]:
    """(first, last) day of a run's acquisition window: the ``span_weeks`` ISO weeks ending with ``week``.

    Raises ValueError for a bad week or ``span_weeks < 1``.
    """
    if int(span_weeks) < 1:
        raise ValueError(f"span_weeks={span_weeks} must be at least 1 (the number of weeks the run folded)")
    monday, sunday = week_bounds(week)
    return monday - dt.timedelta(weeks=int(span_weeks) - 1), sunday


def quiet_credit(clear_looks: float, span_weeks: int = 1) -> int:
    """Quiet clear weeks a run without fresh activity adds: ``min(span_weeks, clear_looks)``.

    ``clear_looks`` is the number of clear looks that at least ``min_clear_frac``
    of the footprint had in the run's window (NaN or negative: 0).  See the
    module docstring.
    """
    if clear_looks is None or not np.isfinite(clear_looks) or clear_looks < 1:
        return 0
    return int(min(int(span_weeks), int(clear_looks)))


def next_status(prev: str, *, active: bool, grown: bool, recurrence: bool, recovering: bool,
                inactive: bool) -> str:
    """Status after one week (the table in the module docstring).

    Parameters
    ----------
    prev
        Current status, one of :data:`STATUSES`.
    active, grown, recurrence, recovering, inactive
        The signals A, G, K, R and I.
    """
    if prev not in STATUSES:
        raise ValueError(f"unknown status {prev!r}; expected one of {STATUSES}")
    if active and recurrence:
        return "aktif_kembali"
    if active and prev in ("tidak_aktif", "rehabilitasi"):
        return "aktif_kembali"
    if active:
        return "meluas" if grown else "aktif"
    if recovering and prev != "rehabilitasi":
        return "rehabilitasi"
    if inactive and prev in LIVE:
        return "tidak_aktif"
    if prev in ("baru", "meluas", "aktif_kembali"):
        return "aktif"
    return prev
