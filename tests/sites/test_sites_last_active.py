"""Activity, not evidence (issue #4): the polygon's ``last_active`` drives signal A of the lifecycle.

With ``[lifecycle] activity = "change"``, an abandoned pit keeps confirming evidence on every clear look (its
``last_detected`` moves every week) but shows no change (its ``last_active``
stays); it must go ``tidak_aktif`` after ``inactive_weeks`` clear weeks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sites_synth import make_evidence, square, week_polygons

from sarolangun_geo.errors import ConfigError
from sarolangun_geo.sites import Registry, load_sites_config, vectorize
from sarolangun_geo.sites.params import LifecycleConfig, PolygonizeConfig
from sarolangun_geo.sites.polygonize import active_day

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
A = (240_000.0, 9_740_000.0)
SID = "SRL-PETI-000001"
SITE = square(*A, 100)
WEEKS = [f"2026-W{w:02d}" for w in range(2, 9)]
#: The shipped settings with ``[lifecycle] activity = "change"`` (the default is "evidence").
CHANGE = dataclasses.replace(load_sites_config(),
                             lifecycle=dataclasses.replace(load_sites_config().lifecycle, activity="change"))


def _fs(clear_frac: float, looks: float) -> pd.DataFrame:
    """Footprint statistics of the site: still bare, seen clear over ``clear_frac``, ``looks`` times."""
    return pd.DataFrame({"d_ndvi": [-0.35], "confidence": [3], "n_px": [100], "clear_frac": [clear_frac],
                         "clear_looks": [float(looks)]}, index=pd.Index([SID], name="site_id"))


def _sunday(week: str) -> str:
    return dt.date.fromisocalendar(int(week[:4]), int(week[6:]), 7).isoformat()


def _poly(detected: str, active: str):
    return week_polygons([(SITE, detected)], last_active=[active])


def _state(reg: Registry) -> tuple[str, int, str]:
    s = reg.sites().set_index("site_id").loc[SID]
    return s.status, int(s.quiet_clear_weeks), s.last_seen


# ----------------------------------------------------------------------------- polygon activity date
@pytest.mark.parametrize(("days", "n_px", "min_px", "frac", "expect"), [
    ([], 10, 5, 0.01, -1),
    ([9, 9, 9, 9, 3, 3, 3, 3], 400, 5, 0.01, 3),     # 4 pixels on day 9 < 5: the 5th latest is day 3
    ([9, 9, 9, 9, 9, 3, 3, 3], 400, 5, 0.01, 9),
    ([9] * 30 + [3] * 100, 3600, 5, 0.01, 3),       # a big site needs 1 % of its pixels: 36
    ([9] * 40 + [3] * 100, 3600, 5, 0.01, 9),
    ([9, 9, 3], 3, 5, 0.01, 3),                     # never more pixels than the polygon has
    ([-1] * 20, 20, 5, 0.01, -1),
])
def test_active_day__kth_latest_pixel(days, n_px, min_px, frac, expect):
    assert active_day(np.array(days), n_px, min_px, frac) == expect


def _evidence_with_activity(conf: np.ndarray, active: np.ndarray, *, chunks: int | None = None):
    ds = make_evidence(conf)
    la = np.where(conf > 0, 20400, -1).astype("int32")
    la[active] = 20460
    ds = ds.assign(last_active=(("y", "x"), la))
    return ds.chunk({"y": chunks, "x": chunks}) if chunks else ds


CFG = PolygonizeConfig(active_min_px=5, active_min_frac=0.01)


def test_vectorize__last_active_needs_several_pixels():
    conf = np.zeros((200, 200), "uint8")
    conf[10:30, 10:30] = 3  # 400 px
    few = np.zeros_like(conf, bool)
    few[12, 12:16] = True  # 4 pixels changed: noise
    many = few.copy()
    many[13, 12:15] = True  # 7 pixels
    assert vectorize(_evidence_with_activity(conf, few), CFG).sites.last_active.tolist() == ["2025-11-08"]
    assert vectorize(_evidence_with_activity(conf, many), CFG).sites.last_active.tolist() == ["2026-01-07"]
    loose = PolygonizeConfig(active_min_px=3, active_min_frac=0.01)
    assert vectorize(_evidence_with_activity(conf, few), loose).sites.last_active.tolist() == ["2026-01-07"]
    share = PolygonizeConfig(active_min_px=5, active_min_frac=0.02)  # 2 % of 400 px: 8 needed
    assert vectorize(_evidence_with_activity(conf, many), share).sites.last_active.tolist() == ["2025-11-08"]


def test_vectorize__last_active_exact_across_tile_seams():
    conf = np.zeros((200, 200), "uint8")
    conf[90:110, 90:110] = 3  # straddles the corner of four canonical tiles
    act = np.zeros_like(conf, bool)
    for r, c in ((95, 95), (95, 105), (105, 95), (105, 105)):
        act[r, c:c + 2] = True  # 2 changed pixels per tile, 8 in all: only together >= 5
    vec = vectorize(_evidence_with_activity(conf, act), CFG)
    assert len(vec.sites) == 1 and len(vec.sites.tiles[0].split(",")) == 4
    assert vec.sites.last_active[0] == "2026-01-07"
    lazy = vectorize(_evidence_with_activity(conf, act, chunks=64), CFG)
    assert lazy.sites.last_active.tolist() == vec.sites.last_active.tolist()


def test_vectorize__no_last_active_column_without_it_in_the_evidence():
    conf = np.zeros((200, 200), "uint8")
    conf[10:30, 10:30] = 3
    sites = vectorize(make_evidence(conf)).sites
    assert "last_active" not in sites.columns and sites.last_detected[0] == "2026-01-07"


def test_sites_config__activity_keys_match_toml():
    assert load_sites_config().polygonize == PolygonizeConfig()


# ----------------------------------------------------------------------------- lifecycle
def test_lifecycle__abandoned_pit_with_fresh_evidence_goes_tidak_aktif(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg", CHANGE)
    reg.upsert("2026-W01", _poly("2026-01-01", "2026-01-01"), now=NOW)
    n = load_sites_config().lifecycle.inactive_weeks
    for i, w in enumerate(WEEKS, start=1):
        # every clear look confirms the pit again (last_detected this week); nothing changes on it
        reg.upsert(w, _poly(_sunday(w), "2026-01-01"), footprint_stats=_fs(1.0, 1), now=NOW)
        assert _state(reg) == ("tidak_aktif" if i >= n else "aktif", i, "2026-01-01"), w
    s = reg.sites().set_index("site_id").loc[SID]
    assert _sunday(WEEKS[-1]) in s.obs_dates.split(",")  # confirming observations are still recorded
    assert list(reg.observations(SID).detected) == [1] + [0] * len(WEEKS)


def test_lifecycle__site_with_fresh_activity_stays_aktif(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg", CHANGE)
    reg.upsert("2026-W01", _poly("2026-01-01", "2026-01-01"), now=NOW)
    for w in WEEKS:
        day = _sunday(w)
        reg.upsert(w, _poly(day, day), footprint_stats=_fs(1.0, 1), now=NOW)
        assert _state(reg) == ("aktif", 0, day), w


def test_lifecycle__no_activity_in_the_polygon_is_not_fresh(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg", CHANGE)
    reg.upsert("2026-W01", _poly("2026-01-01", "2026-01-01"), now=NOW)
    reg.upsert("2026-W02", _poly("2026-01-08", ""), footprint_stats=_fs(1.0, 1), now=NOW)
    assert _state(reg) == ("aktif", 1, "2026-01-01")


def test_lifecycle__cloudy_runs_change_nothing(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg", CHANGE)
    reg.upsert("2026-W01", _poly("2026-01-01", "2026-01-01"), now=NOW)
    reg.upsert("2026-W02", _poly("2026-01-08", "2026-01-01"), footprint_stats=_fs(1.0, 1), now=NOW)
    before = _state(reg)
    for w in WEEKS[1:]:
        reg.upsert(w, _poly("2026-01-08", "2026-01-01"), footprint_stats=_fs(0.0, 0), now=NOW)
        assert _state(reg) == before == ("aktif", 1, "2026-01-01"), w


def test_lifecycle__catch_up_span_credits_only_clear_looks(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg", CHANGE)
    reg.upsert("2026-W01", _poly("2026-01-01", "2026-01-01"), now=NOW)
    reg.upsert("2026-W07", _poly("2026-02-13", "2026-01-01"), footprint_stats=_fs(1.0, 2), span_weeks=6, now=NOW)
    assert _state(reg) == ("aktif", 2, "2026-01-01")  # 6 weeks of fresh evidence, 2 clear looks, no change
    reg.upsert("2026-W13", _poly("2026-03-27", "2026-02-20"), footprint_stats=_fs(1.0, 5), span_weeks=6, now=NOW)
    assert _state(reg) == ("aktif", 0, "2026-02-20")  # activity inside the span resets


def test_lifecycle__activity_after_tidak_aktif_is_aktif_kembali(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg", CHANGE)
    reg.upsert("2026-W01", _poly("2026-01-01", "2026-01-01"), now=NOW)
    reg.upsert("2026-W07", _poly("2026-02-13", "2026-01-01"), footprint_stats=_fs(1.0, 6), span_weeks=6, now=NOW)
    assert _state(reg)[0] == "tidak_aktif"
    reg.upsert("2026-W08", _poly("2026-02-18", "2026-02-18"), footprint_stats=_fs(1.0, 1), now=NOW)
    assert _state(reg) == ("aktif_kembali", 0, "2026-02-18")


def test_lifecycle__without_last_active_falls_back_to_last_detected(tmp_path):
    reg = Registry(tmp_path / "reg.gpkg", CHANGE)
    reg.upsert("2026-W01", week_polygons([(SITE, "2026-01-01")]), now=NOW)
    for w in WEEKS:
        reg.upsert(w, week_polygons([(SITE, _sunday(w))]), footprint_stats=_fs(1.0, 1), now=NOW)
        assert _state(reg) == ("aktif", 0, _sunday(w))  # the former rule: evidence counts as activity


def test_lifecycle__rerun_with_activity_is_byte_identical(tmp_path):
    path = tmp_path / "reg.gpkg"
    reg = Registry(path, CHANGE)
    reg.upsert("2026-W01", _poly("2026-01-01", "2026-01-01"), now=NOW)
    reg.upsert("2026-W02", _poly("2026-01-08", "2026-01-01"), footprint_stats=_fs(1.0, 1), now=NOW)
    once = path.read_bytes()
    reg.upsert("2026-W02", _poly("2026-01-08", "2026-01-01"), footprint_stats=_fs(1.0, 1), now=NOW)
    assert path.read_bytes() == once and _state(reg) == ("aktif", 1, "2026-01-01")


def test_lifecycle__default_evidence_mode_keeps_a_confirmed_pit_aktif(tmp_path):
    assert load_sites_config().lifecycle.activity == "evidence"
    reg = Registry(tmp_path / "reg.gpkg")
    reg.upsert("2026-W01", _poly("2026-01-01", "2026-01-01"), now=NOW)
    for w in WEEKS:  # fresh confirming evidence every week, no change: "evidence" counts it as activity
        reg.upsert(w, _poly(_sunday(w), "2026-01-01"), footprint_stats=_fs(1.0, 1), now=NOW)
        assert _state(reg) == ("aktif", 0, _sunday(w)), w


def test_lifecycle_config__unknown_activity_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="activity"):
        LifecycleConfig(activity="vibes")
