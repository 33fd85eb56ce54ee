"""Every lifecycle transition, as a table and over a multi-week registry sequence."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sites_synth import square, week_polygons

from sarolangun_geo.sites.lifecycle import STATUSES, next_status, week_bounds
from sarolangun_geo.sites.registry import Registry

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
A = (240_000.0, 9_740_000.0)
B = (242_000.0, 9_740_000.0)


def _status(reg: Registry) -> dict[str, str]:
    s = reg.sites()
    return dict(zip(s.site_id, s.status, strict=True))


@pytest.mark.parametrize(("prev", "signals", "expected"), [
    ("baru", dict(active=True), "aktif"),
    ("baru", dict(active=True, grown=True), "meluas"),
    ("aktif", dict(active=True, grown=True), "meluas"),
    ("meluas", dict(active=True), "aktif"),
    ("meluas", dict(), "aktif"),
    ("baru", dict(), "aktif"),
    ("aktif", dict(), "aktif"),
    ("aktif", dict(inactive=True), "tidak_aktif"),
    ("aktif_kembali", dict(inactive=True), "tidak_aktif"),
    ("aktif", dict(recovering=True), "rehabilitasi"),
    ("tidak_aktif", dict(recovering=True), "rehabilitasi"),
    ("tidak_aktif", dict(), "tidak_aktif"),
    ("rehabilitasi", dict(inactive=True), "rehabilitasi"),
    ("tidak_aktif", dict(active=True), "aktif_kembali"),
    ("rehabilitasi", dict(active=True, grown=True), "aktif_kembali"),
    ("aktif", dict(active=True, recurrence=True), "aktif_kembali"),
    ("aktif_kembali", dict(active=True), "aktif"),
    ("aktif_kembali", dict(), "aktif"),
])
def test_next_status__table(prev, signals, expected):
    kw = dict(active=False, grown=False, recurrence=False, recovering=False, inactive=False) | signals
    assert next_status(prev, **kw) == expected


def test_next_status__rejects_unknown_status():
    with pytest.raises(ValueError, match="unknown status"):
        next_status("stopped", active=False, grown=False, recurrence=False, recovering=False, inactive=False)


def test_week_bounds__iso_weeks():
    assert week_bounds("2026-W01") == (dt.date(2025, 12, 29), dt.date(2026, 1, 4))
    with pytest.raises(ValueError, match="ISO week"):
        week_bounds("2026-1")


def test_lifecycle__every_transition_over_twelve_weeks(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    sid = "SRL-PETI-000001"
    a1, a2 = square(*A, 100), square(*A, 150)
    seq = [
        ("2026-W01", [(a1, "2026-01-01")], None, "baru"),
        ("2026-W02", [(a1, "2026-01-08")], None, "aktif"),
        ("2026-W03", [(a2, "2026-01-15")], None, "meluas"),
        ("2026-W04", [], None, "aktif"),             # a cloudy week: keeps going
        ("2026-W05", [], None, "aktif"),
        ("2026-W06", [], None, "aktif"),
        ("2026-W07", [], None, "tidak_aktif"),       # 31 days since last_seen >= 4 weeks
        ("2026-W08", [], {sid: True}, "rehabilitasi"),
        ("2026-W09", [(a2, "2026-02-25")], None, "aktif_kembali"),
        ("2026-W10", [(a2, "2026-03-04")], None, "aktif"),
        ("2026-W11", [(a2, "2026-03-04")], None, "aktif"),  # detected, no new observation
    ]
    for week, polys, recovery, expected in seq:
        reg.upsert(week, week_polygons(polys), recovery=recovery, now=NOW)
        assert _status(reg) == {sid: expected}, week
    hist = reg.observations(sid)
    assert list(hist.status) == ["baru", "aktif", "meluas", "aktif", "tidak_aktif", "rehabilitasi",
                                 "aktif_kembali", "aktif", "aktif"]
    site = reg.sites().iloc[0]
    assert site.first_seen == "2026-01-01" and site.last_seen == "2026-03-04" and site.max_area_ha == 2.25
    assert "2026-01-15" in site.obs_dates and "2026-02-25" in site.obs_dates
    assert set(STATUSES) == set(hist.status)


def test_lifecycle__rehabilitation_from_footprint_stats(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    reg.upsert("2026-W01", week_polygons([(square(*A, 100), "2026-01-01")]), now=NOW)
    sid = "SRL-PETI-000001"
    still_bare = pd.DataFrame({"d_ndvi": [-0.35], "confidence": [1], "n_px": [100]}, index=[sid])
    reg.upsert("2026-W02", week_polygons([]), footprint_stats=still_bare, now=NOW)
    assert _status(reg)[sid] == "aktif"
    green = pd.DataFrame({"d_ndvi": [-0.02], "confidence": [0], "n_px": [100]}, index=[sid])
    reg.upsert("2026-W03", week_polygons([]), footprint_stats=green, now=NOW)
    assert _status(reg)[sid] == "rehabilitasi"
    assert reg.sites().iloc[0].footprint_d_ndvi == pytest.approx(-0.02)


def test_lifecycle__acted_on_then_new_activity_reactivates_with_higher_priority(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    b = square(*B, 100)
    reg.upsert("2026-W01", week_polygons([(b, "2026-01-01")]), now=NOW)
    reg.upsert("2026-W02", week_polygons([(b, "2026-01-08")]), now=NOW)
    before = reg.sites().iloc[0]
    rows = pd.DataFrame([{"site_id": "SRL-PETI-000001", "date": "2026-01-10", "team": "Polres", "outcome": "acted_on",
                          "note": "alat disita", "photo": "", "source": "t", "line": 2}])
    assert reg.add_verifications(rows) == (1, 0)
    reg.upsert("2026-W03", week_polygons([(b, "2026-01-14")]), now=NOW)
    after = reg.sites().iloc[0]
    assert after.status == "aktif_kembali" and after.recurrence == 1
    assert after.priority > before.priority
    reg.upsert("2026-W04", week_polygons([(b, "2026-01-21")]), now=NOW)
    later = reg.sites().iloc[0]
    assert later.status == "aktif" and later.recurrence == 1  # the recurrence weight stays


def test_lifecycle__acted_on_without_new_activity_does_not_reactivate(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    b = square(*B, 100)
    reg.upsert("2026-W01", week_polygons([(b, "2026-01-01")]), now=NOW)
    rows = pd.DataFrame([{"site_id": "SRL-PETI-000001", "date": "2026-01-05", "team": "Polres",
                          "outcome": "acted_on", "note": "", "photo": "", "source": "t", "line": 2}])
    reg.add_verifications(rows)
    reg.upsert("2026-W02", week_polygons([(b, "2026-01-01")]), now=NOW)  # old observation only
    assert _status(reg)["SRL-PETI-000001"] == "aktif"


SID = "SRL-PETI-000001"


def _seen(clear_frac: float | None) -> pd.DataFrame | None:
    """Footprint statistics of the site: still bare, observed over ``clear_frac`` of its footprint."""
    if clear_frac is None:
        return None
    return pd.DataFrame({"d_ndvi": [-0.35], "confidence": [1], "n_px": [100], "clear_frac": [clear_frac]},
                        index=pd.Index([SID], name="site_id"))


def _quiet_weeks(reg: Registry) -> int:
    return int(reg.sites().set_index("site_id").at[SID, "quiet_clear_weeks"])


def _weeks(start: int, n: int) -> list[str]:
    return [f"2026-W{w:02d}" for w in range(start, start + n)]


def test_inactivity__live_site_stays_aktif_through_six_cloudy_weeks(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    reg.upsert("2026-W01", week_polygons([(square(*A, 100), "2026-01-01")]), now=NOW)
    for week in _weeks(2, 6):  # the calendar rule alone would give tidak_aktif from W05 on
        reg.upsert(week, week_polygons([]), footprint_stats=_seen(0.1), now=NOW)
        assert _status(reg) == {SID: "aktif"}, week
        assert _quiet_weeks(reg) == 0
    # the site is still detected (evidence kept) but not observed again: no activity, still cloudy
    reg.upsert("2026-W08", week_polygons([(square(*A, 100), "2026-01-01")]), footprint_stats=_seen(0.0), now=NOW)
    assert _status(reg) == {SID: "aktif"} and _quiet_weeks(reg) == 0


def test_inactivity__four_clear_weeks_without_activity_make_tidak_aktif(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    reg.upsert("2026-W01", week_polygons([(square(*A, 100), "2026-01-01")]), now=NOW)
    for i, week in enumerate(_weeks(2, 4), start=1):
        reg.upsert(week, week_polygons([]), footprint_stats=_seen(1.0), now=NOW)
        assert _quiet_weeks(reg) == i
        assert _status(reg) == {SID: "tidak_aktif" if i == 4 else "aktif"}, week
    reg.upsert("2026-W06", week_polygons([(square(*A, 100), "2026-02-04")]), footprint_stats=_seen(1.0), now=NOW)
    assert _status(reg) == {SID: "aktif_kembali"} and _quiet_weeks(reg) == 0  # activity resets the count


def test_inactivity__a_mix_counts_only_the_clear_weeks(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    a = square(*A, 100)
    reg.upsert("2026-W01", week_polygons([(a, "2026-01-01")]), now=NOW)
    seq = [  # (clear_frac, detected with the old observation, expected count, expected status)
        (0.0, False, 0, "aktif"),
        (1.0, False, 1, "aktif"),
        (0.49, False, 1, "aktif"),   # under min_clear_frac = 0.5: cloudy
        (0.5, True, 2, "aktif"),     # detected, but nothing new: a quiet clear week
        (0.2, False, 2, "aktif"),
        (0.9, False, 3, "aktif"),
        (0.0, False, 3, "aktif"),
        (0.8, False, 4, "tidak_aktif"),
    ]
    for week, (frac, detected, count, status) in zip(_weeks(2, len(seq)), seq, strict=True):
        polys = week_polygons([(a, "2026-01-01")] if detected else [])
        reg.upsert(week, polys, footprint_stats=_seen(frac), now=NOW)
        assert (_quiet_weeks(reg), _status(reg)[SID]) == (count, status), week


def test_inactivity__calendar_fallback_without_clear_information(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    reg.upsert("2026-W01", week_polygons([(square(*A, 100), "2026-01-01")]), now=NOW)
    no_clear = _seen(1.0).drop(columns="clear_frac")
    for week in _weeks(2, 3):
        reg.upsert(week, week_polygons([]), footprint_stats=no_clear, now=NOW)
        assert _status(reg) == {SID: "aktif"}
    reg.upsert("2026-W05", week_polygons([]), footprint_stats=no_clear, now=NOW)  # 31 days since last_seen
    assert _status(reg) == {SID: "tidak_aktif"} and _quiet_weeks(reg) == 0


def test_inactivity__rerun_of_a_week_does_not_count_twice(tmp_path):
    path = tmp_path / "reg.gpkg"
    reg = Registry(path)
    reg.upsert("2026-W01", week_polygons([(square(*A, 100), "2026-01-01")]), now=NOW)
    for week in _weeks(2, 3):
        reg.upsert(week, week_polygons([]), footprint_stats=_seen(1.0), now=NOW)
    assert _quiet_weeks(reg) == 3
    once = path.read_bytes()
    for _ in range(3):  # rerun the latest week: restored from the snapshot, counted once
        reg.upsert("2026-W04", week_polygons([]), footprint_stats=_seen(1.0), now=NOW)
        assert _quiet_weeks(reg) == 3 and _status(reg) == {SID: "aktif"}
        assert path.read_bytes() == once
    reg.upsert("2026-W04", week_polygons([]), footprint_stats=_seen(0.0), now=NOW)  # rerun, now cloudy
    assert _quiet_weeks(reg) == 2
    reg.upsert("2026-W04", week_polygons([]), footprint_stats=_seen(1.0), now=NOW)
    assert path.read_bytes() == once
    reg.upsert("2026-W05", week_polygons([]), footprint_stats=_seen(1.0), now=NOW)
    assert _quiet_weeks(reg) == 4 and _status(reg) == {SID: "tidak_aktif"}
