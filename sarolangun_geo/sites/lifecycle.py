"""Site status lifecycle: the weekly transition table.

Statuses (docs §4): ``baru`` (new), ``aktif`` (active), ``meluas`` (expanding),
``tidak_aktif`` (inactive), ``rehabilitasi`` (revegetating), ``aktif_kembali``
(reactivated).

Signals computed each week for each site:

* **A** (new activity): the site was detected this week (a polygon matched it)
  and either its latest confirming observation (``last_detected``, docs §3) is
  later than the site's ``last_seen``, or its area grew (**G**).
* **G** (growth): detected with ``area_ha > growth_factor x`` the area at its
  previous detection.
* **K** (recurrence): **A**, the site's latest field verification is
  ``acted_on`` and the new observation is later than that visit, and the
  recurrence was not already counted.
* **R** (recovery): not **A**, and the mean ``d_ndvi`` on the site's footprint
  this week is ``>= rehab_d_ndvi`` (NDVI back near the baseline) while no
  footprint pixel reaches the site threshold.  Taken from
  :attr:`EvidenceVectors.footprint_stats` or an explicit ``recovery`` input.
* **I** (inactive): not **A**, and the site has had ``quiet_clear_weeks >=
  inactive_weeks``: only weeks in which its footprint was actually observed
  count.  ``quiet_clear_weeks`` (a ``sites`` column) is reset to 0 by **A**,
  goes up by one in a week without **A** whose footprint was seen clear
  (``clear_frac >= min_clear_frac`` in :attr:`EvidenceVectors.footprint_stats`,
  the share of footprint pixels with ``n_clear > 0``), and stays unchanged in a
  cloudy week, so a wet season of clouds does not retire live mines.  It is
  derived from the state before the week, so a rerun does not count twice.
  Fallback when the footprint statistics carry no ``clear_frac`` (none given,
  or evidence without ``n_clear``): calendar weeks, ``week_end - last_seen >=
  7 x inactive_weeks`` days (the count is then left unchanged).

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

So ``baru``, ``meluas`` and ``aktif_kembali`` last one week unless repeated;
a site keeps its status through cloudy weeks and only becomes ``tidak_aktif``
after ``inactive_weeks`` clear weeks without activity (settings
``[lifecycle] inactive_weeks`` and ``min_clear_frac`` in
``data/config/sites.toml``).
"""

from __future__ import annotations

import datetime as dt

__all__ = [
    "LIVE",
    "STATUSES",
    "next_status",
    "parse_week",
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
