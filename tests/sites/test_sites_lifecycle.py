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
