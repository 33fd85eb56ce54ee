"""Observed activity: only fresh evidence in a run's window keeps a site active (docs §4, lifecycle).

The detection state accumulates, so a confirmed site is covered by a polygon
every week forever; these tests feed such stale polygons and check that the
lifecycle moves on clear weeks, stands still on cloudy ones, and that
catch-up spans count only the clear looks they had.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sites_synth import make_evidence, square, week_polygons

from sarolangun_geo.errors import SitesInputError
from sarolangun_geo.sites import Registry, vectorize
from sarolangun_geo.sites.lifecycle import quiet_credit, run_window
from sarolangun_geo.sites.polygonize import clear_looks

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
A = (240_000.0, 9_740_000.0)
B = (240_500.0, 9_740_000.0)
SID = "SRL-PETI-000001"
SITE = square(*A, 100)


def _fs(clear_frac: float, looks: float | None = None, *, d_ndvi: float = -0.35, confidence: int = 3,
        sids: tuple[str, ...] = (SID,)) -> pd.DataFrame:
    """Footprint statistics: still bare, seen clear over ``clear_frac`` of the footprint, ``looks`` times."""
    n = len(sids)
    df = pd.DataFrame({"d_ndvi": [d_ndvi] * n, "confidence": [confidence] * n, "n_px": [100] * n,
                       "clear_frac": [clear_frac] * n}, index=pd.Index(list(sids), name="site_id"))
    if looks is not None:
        df["clear_looks"] = float(looks)
    return df


def _site(reg: Registry, sid: str = SID) -> pd.Series:
    return reg.sites(include_retired=True).set_index("site_id").loc[sid]


def _state(reg: Registry, sid: str = SID) -> tuple[str, int]:
    s = _site(reg, sid)
    return s.status, int(s.quiet_clear_weeks)


def _stale(date: str = "2026-01-01"):
    """This run's polygon of the site, whose newest confirming observation is ``date``."""
    return week_polygons([(SITE, date)])


def _start(reg: Registry) -> None:
    reg.upsert("2026-W01", _stale("2026-01-01"), now=NOW)
    assert _state(reg) == ("baru", 0)


# ----------------------------------------------------------------------------- pure rules
@pytest.mark.parametrize(("looks", "span", "credit"), [
    (0, 1, 0), (1, 1, 1), (3, 1, 1),          # a weekly run counts one clear week at most
    (0, 6, 0), (2, 6, 2), (6, 6, 6), (9, 6, 6),  # a span: one week per clear look, at most its weeks
    (float("nan"), 6, 0), (-1, 6, 0), (2.0, 6, 2),
])
def test_quiet_credit__min_of_span_and_clear_looks(looks, span, credit):
    assert quiet_credit(looks, span) == credit


def test_run_window__span_of_weeks_ending_with_the_week():
    assert run_window("2026-W10") == (dt.date(2026, 3, 2), dt.date(2026, 3, 8))
    assert run_window("2026-W10", 6) == (dt.date(2026, 1, 26), dt.date(2026, 3, 8))
    assert run_window("2026-W02", 3) == (dt.date(2025, 12, 22), dt.date(2026, 1, 11))  # across the year
    with pytest.raises(ValueError, match="span_weeks"):
        run_window("2026-W10", 0)


def test_clear_looks__share_of_the_footprint_with_k_looks():
    # columns: pixels with 0, 1, 2, 3 clear looks
    hist = np.array([[0, 0, 0, 10],   # all 3 looks
                     [5, 0, 0, 5],    # half had 3 -> 3 at 0.5
                     [6, 0, 0, 4],    # 40 % seen at all -> 0
                     [0, 2, 4, 4],    # >= 2 on 80 %, >= 3 on 40 % -> 2
                     [0, 0, 0, 0]])   # no pixels -> NaN
    got = clear_looks(hist, 0.5)
    assert got[:4].tolist() == [3.0, 3.0, 0.0, 2.0] and np.isnan(got[4])
    assert clear_looks(hist, 0.9)[:4].tolist() == [3.0, 0.0, 0.0, 1.0]


def test_vectorize__footprint_clear_looks_from_n_clear():
    conf = np.zeros((200, 200), "uint8")
    conf[10:30, 10:30] = 3
    ds = make_evidence(conf)
    fp = vectorize(ds).sites.assign(site_id=[SID])
    n_clear = np.zeros((200, 200), "uint8")
    n_clear[10:20, 10:30] = 5  # north half: 5 looks
    n_clear[20:25, 10:30] = 2  # next quarter: 2 looks, the rest none
    ev = ds.assign(n_clear=(("y", "x"), n_clear))
    stats = vectorize(ev, footprints=fp).footprint_stats
    assert stats.loc[SID, "clear_frac"] == pytest.approx(0.75)
    assert stats.loc[SID, "clear_looks"] == 5.0  # 5 looks over half the footprint
    assert vectorize(ev, footprints=fp, min_clear_frac=0.7).footprint_stats.loc[SID, "clear_looks"] == 2.0
    assert vectorize(ev, footprints=fp, min_clear_frac=0.8).footprint_stats.loc[SID, "clear_looks"] == 0.0
    chunked = vectorize(ev.chunk({"y": 64, "x": 64}), footprints=fp).footprint_stats
    pd.testing.assert_frame_equal(chunked, stats)


# ----------------------------------------------------------------------------- weekly runs
def test_activity__stale_evidence_goes_tidak_aktif_over_four_clear_weeks(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    _start(reg)
    expected = [("aktif", 1), ("aktif", 2), ("aktif", 3), ("tidak_aktif", 4), ("tidak_aktif", 5)]
    for week, state in zip(["2026-W02", "2026-W03", "2026-W04", "2026-W05", "2026-W06"], expected, strict=True):
        reg.upsert(week, _stale(), footprint_stats=_fs(1.0, 1), now=NOW)  # still covered, nothing new
        assert _state(reg) == state, week
    hist = reg.observations(SID)
    assert list(hist.event) == ["new"] + ["continue"] * 5  # the polygon still matches every week ...
    assert list(hist.detected) == [1, 0, 0, 0, 0, 0]        # ... but the site was observed active only once
    assert _site(reg).last_seen == "2026-01-01"


def test_activity__cloudy_weeks_do_not_count(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    _start(reg)
    seq = [(0.0, 0, 0), (0.3, 1, 0), (1.0, 1, 1), (0.0, 0, 1), (0.49, 2, 1), (0.6, 1, 2), (0.0, 0, 2),
           (0.0, 0, 2), (0.0, 0, 2), (0.5, 1, 3)]  # (clear_frac, clear_looks, expected count)
    for i, (frac, looks, count) in enumerate(seq, start=2):
        reg.upsert(f"2026-W{i:02d}", _stale(), footprint_stats=_fs(frac, looks), now=NOW)
        assert _state(reg) == ("aktif", count), i  # 10 weeks, 3 of them clear: still aktif
    reg.upsert("2026-W12", _stale(), footprint_stats=_fs(0.9, 1), now=NOW)
    assert _state(reg) == ("tidak_aktif", 4)


def test_activity__no_footprint_statistics_for_the_site_counts_as_unobserved(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    _start(reg)
    other = _fs(1.0, 1, sids=("SRL-PETI-000099",))
    for i in range(2, 8):
        reg.upsert(f"2026-W{i:02d}", _stale(), footprint_stats=other, now=NOW)
    assert _state(reg) == ("aktif", 0)


def test_activity__fresh_evidence_keeps_aktif(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    _start(reg)
    for i, day in enumerate(["2026-01-07", "2026-01-13", "2026-01-24", "2026-01-27", "2026-02-06", "2026-02-12"],
                            start=2):
        reg.upsert(f"2026-W{i:02d}", _stale(day), footprint_stats=_fs(1.0, 2), now=NOW)
        assert _state(reg) == ("aktif", 0), i
        assert _site(reg).last_seen == day
    assert list(reg.observations(SID).detected) == [1] * 7


def test_activity__evidence_before_the_window_is_not_fresh(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    _start(reg)
    reg.upsert("2026-W02", _stale("2026-01-07"), footprint_stats=_fs(1.0, 1), now=NOW)
    # W04: the newest observation is in W03 (a week the registry skipped): not this run's window
    reg.upsert("2026-W04", _stale("2026-01-14"), footprint_stats=_fs(1.0, 1), now=NOW)
    assert _state(reg) == ("aktif", 1) and _site(reg).last_seen == "2026-01-07"
    # a 2-week span W05..W06 whose first week had evidence: fresh
    reg.upsert("2026-W06", _stale("2026-01-27"), footprint_stats=_fs(1.0, 3), span_weeks=2, now=NOW)
    assert _state(reg) == ("aktif", 0) and _site(reg).last_seen == "2026-01-27"


def test_activity__growth_without_fresh_evidence_is_not_meluas(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    _start(reg)
    big = week_polygons([(square(*A, 150), "2026-01-01")])  # larger polygon, same old observation
    reg.upsert("2026-W02", big, footprint_stats=_fs(1.0, 1), now=NOW)
    assert _state(reg) == ("aktif", 1)
    bigger = week_polygons([(square(*A, 200), "2026-01-13")])  # with fresh evidence it is growth
    reg.upsert("2026-W03", bigger, footprint_stats=_fs(1.0, 1), now=NOW)
    assert _state(reg) == ("meluas", 0)


def test_activity__merge_with_an_older_stale_site_is_not_activity(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    a, b = square(*A, 100), square(A[0] + 100, A[1], 100)
    reg.upsert("2026-W01", week_polygons([(a, "2026-01-01")]), now=NOW)     # SID: A
    reg.upsert("2026-W02", week_polygons([(a, "2026-01-01"), (b, "2026-01-08")]), now=NOW)  # B new
    both = ("SRL-PETI-000001", "SRL-PETI-000002")
    merged = week_polygons([(a.union(b).envelope, "2026-01-08")])  # no newer evidence than B's
    reg.upsert("2026-W03", merged, footprint_stats=_fs(1.0, 1, sids=both), now=NOW)
    assert _site(reg, "SRL-PETI-000002").merged_into == SID
    assert _state(reg) == ("aktif", 1)  # B's evidence is older than this run's window


# ----------------------------------------------------------------------------- catch-up spans
@pytest.mark.parametrize(("looks", "count", "status"), [
    (0, 0, "aktif"),         # six cloudy weeks
    (2, 2, "aktif"),         # two clear looks: two weeks' worth
    (4, 4, "tidak_aktif"),
    (6, 6, "tidak_aktif"),
    (11, 6, "tidak_aktif"),  # never more weeks than the span has
])
def test_span__counts_one_week_per_clear_look_up_to_its_length(tmp_path, looks, count, status):
    reg = Registry(tmp_path / "reg.gpkg")
    _start(reg)
    reg.upsert("2026-W07", _stale(), footprint_stats=_fs(1.0 if looks else 0.0, looks), span_weeks=6, now=NOW)
    assert _state(reg) == (status, count)


def test_span__without_clear_looks_counts_one_week(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    _start(reg)
    reg.upsert("2026-W07", _stale(), footprint_stats=_fs(1.0), span_weeks=6, now=NOW)  # clear_frac only
    assert _state(reg) == ("aktif", 1)


def test_span__fresh_evidence_anywhere_in_the_span_resets(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    _start(reg)
    reg.upsert("2026-W04", _stale(), footprint_stats=_fs(1.0, 3), span_weeks=3, now=NOW)
    assert _state(reg) == ("aktif", 3)
    reg.upsert("2026-W10", _stale("2026-01-28"), footprint_stats=_fs(1.0, 8), span_weeks=6, now=NOW)  # W05
    assert _state(reg) == ("aktif", 0)


def test_span__rerun_is_byte_identical_and_counted_once(tmp_path):
    path = tmp_path / "reg.gpkg"
    reg = Registry(path)
    _start(reg)
    reg.upsert("2026-W07", _stale(), footprint_stats=_fs(1.0, 3), span_weeks=6, now=NOW)
    once = path.read_bytes()
    reg.upsert("2026-W07", _stale(), footprint_stats=_fs(1.0, 3), span_weeks=6, now=NOW)
    assert path.read_bytes() == once and _state(reg) == ("aktif", 3)
    reg.upsert("2026-W07", _stale(), footprint_stats=_fs(1.0, 3), span_weeks=1, now=NOW)  # another input
    assert _state(reg) == ("aktif", 1)


def test_span__must_be_positive(tmp_path):
    with pytest.raises(SitesInputError, match="span_weeks"):
        Registry(tmp_path / "reg.gpkg").upsert("2026-W07", _stale(), span_weeks=0, now=NOW)


# ----------------------------------------------------------------------------- reactivation, recovery
def test_reactivation__fresh_evidence_after_tidak_aktif(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    _start(reg)
    reg.upsert("2026-W07", _stale(), footprint_stats=_fs(1.0, 5), span_weeks=6, now=NOW)
    assert _state(reg) == ("tidak_aktif", 5)
    reg.upsert("2026-W08", _stale(), footprint_stats=_fs(0.0, 0), now=NOW)  # cloudy: stays
    assert _state(reg) == ("tidak_aktif", 5)
    reg.upsert("2026-W09", _stale("2026-02-25"), footprint_stats=_fs(1.0, 1), now=NOW)
    assert _state(reg) == ("aktif_kembali", 0) and _site(reg).last_seen == "2026-02-25"
    reg.upsert("2026-W10", _stale("2026-03-04"), footprint_stats=_fs(1.0, 1), now=NOW)
    assert _state(reg) == ("aktif", 0)
    hist = reg.observations(SID)
    assert list(hist.status) == ["baru", "tidak_aktif", "tidak_aktif", "aktif_kembali", "aktif"]
    assert list(hist.detected) == [1, 0, 0, 1, 1]


def test_recovery__stale_site_seen_clear_with_ndvi_back_is_rehabilitasi(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    _start(reg)
    green = dict(d_ndvi=-0.02, confidence=3)  # confirmed pixels keep their confidence
    reg.upsert("2026-W02", _stale(), footprint_stats=_fs(0.0, 0, **green), now=NOW)
    assert _state(reg) == ("aktif", 0)  # not seen clear: no recovery from a stale d_ndvi
    reg.upsert("2026-W03", _stale(), footprint_stats=_fs(1.0, 1, **green), now=NOW)
    assert _state(reg)[0] == "rehabilitasi"
    reg.upsert("2026-W04", _stale("2026-01-20"), footprint_stats=_fs(1.0, 1), now=NOW)
    assert _state(reg) == ("aktif_kembali", 0)


def test_recovery__fresh_evidence_wins_over_green_footprint(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    _start(reg)
    reg.upsert("2026-W02", _stale("2026-01-08"), footprint_stats=_fs(1.0, 1, d_ndvi=0.0), now=NOW)
    assert _state(reg) == ("aktif", 0)


# ----------------------------------------------------------------------------- from the evidence raster
def test_flow__stale_evidence_raster_to_tidak_aktif_and_back(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg")
    conf = np.zeros((200, 200), "uint8")
    conf[40:60, 40:60] = 3

    def run(week: str, last_day: int, n_clear: int, span: int = 1) -> None:
        ev = make_evidence(conf, last_day=last_day).assign(
            n_clear=(("y", "x"), np.full((200, 200), n_clear, "uint8")))
        vec = vectorize(ev, reg.config.polygonize, footprints=reg.sites(),
                        min_clear_frac=reg.config.lifecycle.min_clear_frac)
        reg.upsert(week, vec.sites, footprint_stats=vec.footprint_stats, span_weeks=span, now=NOW)

    run("2026-W02", 20460, 1)   # 2026-01-07: new
    run("2026-W08", 20460, 2, span=6)  # catch-up W03..W08, two clear looks, no new evidence
    assert _state(reg) == ("aktif", 2)
    run("2026-W09", 20460, 0)   # cloudy
    assert _state(reg) == ("aktif", 2)
    run("2026-W10", 20460, 1)
    run("2026-W11", 20460, 1)
    assert _state(reg) == ("tidak_aktif", 4)
    run("2026-W12", 20528, 1)   # 2026-03-16: digging again
    assert _state(reg) == ("aktif_kembali", 0)
