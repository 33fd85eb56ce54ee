"""Activity (issue #4): ``last_active`` marks looks that *changed*, not looks that still confirm a pit.

Per-pixel rules of :func:`mining.update_detection`, the fallback for detection
states stored before the activity variables existed, and the whole chain
(evidence -> polygons -> registry lifecycle) on the synthetic world: an
abandoned, stable pit goes ``tidak_aktif`` after the configured clear weeks,
while a site that grows or whose ponds are stirred stays active.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from synth_world import R, make_world, region_mask

from sarolangun_geo import baseline, masking
from sarolangun_geo.change import mining
from sarolangun_geo.change.params import load_detection_params
from sarolangun_geo.sites import Registry, load_sites_config, vectorize

P = load_detection_params()
CLEAR = xr.DataArray([[True]], dims=("y", "x"))
CLOUDY = xr.DataArray([[False]], dims=("y", "x"))
POND = (0.060, 0.105, 0.125, 0.075, 0.028, 0.018)  # the synthetic world's ochre pond
STIRRED = (0.075, 0.110, 0.190, 0.110, 0.035, 0.022)  # the same pond with fresh slurry: redder, turbid
MUD = (0.055, 0.075, 0.095, 0.140, 0.160, 0.125)  # freshly dug ground next to the site


def _px(candidate: bool = True, *, ndvi: float = 0.1, mndwi: float = -0.3, ndti: float = 0.1,
        kinds: int = 3) -> xr.Dataset:
    """One pixel's acquisition evidence with its look indices (default: bare, vegetation lost)."""
    one = lambda v, dt_="float32": (("y", "x"), np.array([[v]], dt_))  # noqa: E731
    return xr.Dataset({"candidate": one(candidate, "bool"), "kinds": one(kinds, "uint8"), "score": one(0.5),
                       "ndvi": one(ndvi), "mndwi": one(mndwi), "ndti": one(ndti)})


def _empty():
    return mining.empty_detection_state(xr.DataArray(np.zeros((1, 1), "float32"), dims=("y", "x")))


def _confirmed(**look) -> xr.Dataset:
    """A pixel seen as forest on day 95, then dug: confirmed on days 100 and 105 with the same look."""
    st = mining.update_detection(_empty(), _px(False, ndvi=0.8, mndwi=-0.5, ndti=-0.3, kinds=0), CLEAR, 95, P)
    for day in (100, 105):
        st = mining.update_detection(st, _px(**look), CLEAR, day, P)
    return st


# ----------------------------------------------------------------------------- per-pixel rules
def test_update_detection__entering_pixel_is_active_then_a_stable_pit_is_not():
    st = _confirmed()
    assert st.last_active.item() == 105  # both looks that brought it into the evidence
    for day in (110, 115, 120):
        st = mining.update_detection(st, _px(), CLEAR, day, P)  # the same bare pit, confirmed again
    assert st.last_detected.item() == 120 and st.n_confirm.item() == 5
    assert st.last_active.item() == 105  # ... but nothing happened on it


def test_update_detection__new_ground_enters_as_activity():
    st = mining.update_detection(_empty(), _px(False, ndvi=0.8, kinds=0), CLEAR, 95, P)  # forest
    assert st.prev_ndvi.item() == 8000 and st.last_active.item() == -1
    st = mining.update_detection(st, _px(), CLEAR, 100, P)  # dug: NDVI 0.8 -> 0.1
    assert st.last_active.item() == 100
    st = mining.update_detection(st, _px(), CLEAR, 105, P)  # the look that confirms it counts too
    assert st.last_active.item() == 105 and st.prev_ndvi.item() == 1000


def test_update_detection__late_evidence_on_old_ground_is_not_activity():
    # the rim of an old pit: bare and vegetation-lost for many looks, never a candidate (no pond near)
    st = _empty()
    for day in (80, 85, 90, 95):
        st = mining.update_detection(st, _px(False), CLEAR, day, P)
    for day in (100, 105, 110):  # a pond's support reaches it now: confirmed, but nothing changed
        st = mining.update_detection(st, _px(), CLEAR, day, P)
    assert st.n_confirm.item() == 3 and st.last_detected.item() == 110
    assert st.last_active.item() == -1
    # ... until the ground itself changes: a pond dug into it
    st = mining.update_detection(st, _px(mndwi=0.3, ndti=0.2, kinds=7), CLEAR, 115, P)
    assert st.last_active.item() == 115


def test_update_detection__cloudy_looks_keep_the_previous_look():
    st = mining.update_detection(_empty(), _px(False, ndvi=0.8, kinds=0), CLEAR, 95, P)
    st = mining.update_detection(st, _px(False), CLOUDY, 100, P)
    assert st.prev_ndvi.item() == 8000  # the last *clear* look was forest
    st = mining.update_detection(st, _px(), CLEAR, 105, P)
    assert st.last_active.item() == 105


@pytest.mark.parametrize(("before", "after", "active"), [
    ({"ndti": 0.05, "mndwi": 0.3}, {"ndti": 0.25, "mndwi": 0.3}, True),    # pond stirred: turbidity up
    ({"ndti": 0.25, "mndwi": 0.3}, {"ndti": 0.05, "mndwi": 0.3}, False),   # pond settling: turbidity down
    ({"ndti": 0.05, "mndwi": 0.3}, {"ndti": 0.12, "mndwi": 0.3}, False),   # small step: noise, haze
    ({"mndwi": -0.3}, {"mndwi": 0.25, "ndti": 0.2}, True),                 # pit flooded / dug to water
    ({"mndwi": 0.3}, {"mndwi": -0.2}, True),                               # pond pumped dry / filled
    ({"mndwi": -0.05}, {"mndwi": 0.05}, False),                            # a mixed edge pixel flickering
    ({"ndvi": 0.45}, {"ndvi": 0.15}, True),                                # regrowth cleared again
    ({"ndvi": 0.15}, {"ndvi": 0.45}, False),                               # spoil revegetating
    ({"ndvi": 0.20}, {"ndvi": 0.05}, False),                               # moisture on bare soil
    ({"ndvi": 0.40, "mndwi": 0.2}, {"ndvi": 0.05, "mndwi": 0.25}, False),  # algae on a pond (not land)
])
def test_update_detection__change_since_the_previous_clear_look(before, after, active):
    st = _confirmed(**before)
    st = mining.update_detection(st, _px(**after), CLEAR, 110, P)
    assert (st.last_active.item() == 110) is active
    assert st.last_detected.item() == 110
    assert st.prev_mndwi.item() == round(after.get("mndwi", -0.3) * mining.LOOK_SCALE)


def test_update_detection__change_thresholds_come_from_the_params():
    st = _confirmed(ndti=0.05, mndwi=0.3)
    strict = replace(P, mining=replace(P.mining, active_ndti_rise=0.3))
    assert mining.update_detection(st, _px(ndti=0.25, mndwi=0.3), CLEAR, 110, strict).last_active.item() == 105
    assert mining.update_detection(st, _px(ndti=0.25, mndwi=0.3), CLEAR, 110, P).last_active.item() == 110


def test_update_detection__change_without_confirming_evidence_is_not_activity():
    st = _confirmed(ndvi=0.45)
    st = mining.update_detection(st, _px(False, ndvi=0.05), CLEAR, 110, P)  # dropped, but not a candidate
    assert st.last_active.item() == 105 and st.last_detected.item() == 105
    assert st.prev_ndvi.item() == 500  # the look is still the reference for the next one


def test_update_detection__previous_look_is_the_latest_clear_one():
    st = _confirmed(ndvi=0.45)
    st = mining.update_detection(st, _px(ndvi=0.40), CLEAR, 110, P)  # small step: reference now 0.40
    st = mining.update_detection(st, _px(ndvi=0.05), CLOUDY, 115, P)  # cloudy: ignored
    assert st.prev_ndvi.item() == 4000 and st.last_active.item() == 105
    st = mining.update_detection(st, _px(ndvi=0.15), CLEAR, 120, P)  # 0.40 -> 0.15: cleared again
    assert st.last_active.item() == 120


def test_update_detection__cloudy_look_changes_no_activity_variable():
    st = _confirmed(ndti=0.05, mndwi=0.3)
    st2 = mining.update_detection(st, _px(ndti=0.4, mndwi=0.3), CLOUDY, 110, P)
    for k in mining.STATE_VARS:
        assert st2[k].item() == st[k].item(), k


def test_update_detection__reset_clears_activity_not_the_previous_look():
    st = mining.update_detection(_empty(), _px(False, ndvi=0.8, kinds=0), CLEAR, 95, P)
    st = mining.update_detection(st, _px(), CLEAR, 100, P)  # a transient candidate
    assert st.last_active.item() == 100 and st.prev_ndvi.item() == 1000
    for day, ndvi in ((105, 0.5), (110, 0.6)):
        st = mining.update_detection(st, _px(False, ndvi=ndvi), CLEAR, day, P)
    assert st.n_confirm.item() == 0 and st.last_active.item() == -1
    assert st.prev_ndvi.item() == 6000  # every clear look is the next one's reference


def test_update_detection__every_clear_look_is_the_reference():
    st = mining.update_detection(_empty(), _px(False, ndvi=0.75, mndwi=-0.5, ndti=-0.3), CLEAR, 100, P)
    assert (st.prev_ndvi.item(), st.prev_mndwi.item(), st.prev_ndti.item()) == (7500, -5000, -3000)
    assert st.last_active.item() == -1 and st.n_confirm.item() == 0


def test_update_detection__without_an_earlier_look_there_is_no_activity():
    st = _empty()
    for day in (100, 105, 110):  # first seen already dug (e.g. masked as shadow for months): unknown
        st = mining.update_detection(st, _px(), CLEAR, day, P)
    assert st.n_confirm.item() == 3 and st.last_active.item() == -1 and st.prev_ndvi.item() == 1000


def test_update_detection__evidence_without_look_indices_shows_no_activity():
    st = _confirmed()
    ev = _px(ndvi=0.8).drop_vars(["ndvi", "mndwi", "ndti"])
    st2 = mining.update_detection(st, ev, CLEAR, 110, P)
    assert st2.last_detected.item() == 110 and st2.last_active.item() == 105
    assert st2.prev_ndvi.item() == st.prev_ndvi.item()


# ----------------------------------------------------------------------------- old stored states
def test_with_activity_state__old_state_gets_last_active_from_last_detected():
    old = _confirmed().drop_vars(["last_active", "prev_ndvi", "prev_mndwi", "prev_ndti"])
    old["last_detected"][:] = 130
    new = mining.with_activity_state(old)
    assert new.last_active.item() == 130 and new.last_active.dtype == "int32"
    assert new.prev_ndvi.item() == mining.LOOK_NONE and new.prev_ndvi.dtype == "int16"
    assert "last_active" not in old  # not changed in place


def test_peti_evidence__old_state_without_activity_variables(world, run_state):
    stats, clear, outs = run_state
    _base, mon = world
    old = outs[1].drop_vars(["last_active", "prev_ndvi", "prev_mndwi", "prev_ndti"])
    new = mining.peti_evidence(mon.isel(time=[2]), clear.isel(time=[2]), stats, P, old)
    site = region_mask("peti")
    day1, day2 = (mining.epoch_day(mon.time.values[k]) for k in (1, 2))
    # the fallback keeps the old meaning (last_active = last_detected) until the next look ...
    assert (new.last_active.values[site] == day1).all()
    assert (new.last_detected.values[site] == day2).all()
    # ... which now sets the reference values wherever it was clear, so the look after can be compared
    ck = clear.isel(time=2).values
    assert (new.prev_ndvi.values[ck] != mining.LOOK_NONE).all()
    assert (new.prev_ndvi.values[~ck] == mining.LOOK_NONE).all()


# ----------------------------------------------------------------------------- the synthetic world
@pytest.fixture(scope="module")
def run_state(world):
    """(stats, clear, outputs per look) of the synthetic world's four monitoring looks."""
    base, mon = world
    st = baseline.update_state(baseline.empty_state(base, P.baseline), base,
                               masking.clear_mask(base, P.masking), P.baseline)
    stats = baseline.baseline_stats(st, P.baseline, mon.time.values[0])
    clear = masking.clear_mask(mon, P.masking, baseline.reference_bands(stats))
    outs, det = [], None
    for k in range(mon.sizes["time"]):
        det = mining.peti_evidence(mon.isel(time=[k]), clear.isel(time=[k]), stats, P, det)
        outs.append(det)
    return stats, clear, outs


def test_peti_evidence__contract_of_the_activity_variables(run_state):
    out = run_state[2][-1]
    assert str(out.last_active.dtype) == "int32"
    for k in ("prev_ndvi", "prev_mndwi", "prev_ndti"):
        assert str(out[k].dtype) == "int16"
    assert set(mining.STATE_VARS) <= set(out.data_vars)


def test_peti_evidence__stable_site_stops_being_active_after_entering(world, run_state):
    _base, mon = world
    outs = run_state[2]
    site = region_mask("peti")
    days = [mining.epoch_day(t) for t in mon.time.values]
    assert (outs[0].last_active.values[site] == days[0]).all()  # entering
    assert (outs[1].last_active.values[site] == days[1]).all()  # confirmed
    # looks 3 and 4 confirm the unchanged pit again: evidence, not activity
    assert (outs[3].last_detected.values[site] == days[3]).all()
    assert (outs[3].last_active.values[site] == days[1]).all()
    assert (outs[3].last_active.values[~site] < 0).all()


def _paint(cube: xr.Dataset, region, spectrum, from_k: int) -> xr.Dataset:
    out = cube.copy(deep=True)
    ys, xs = region
    for b, v in zip(("blue", "green", "red", "nir", "swir16", "swir22"), spectrum, strict=True):
        out[b][from_k:, ys, xs] = v
    return out


def _evidence(mon: xr.Dataset, stats: xr.Dataset) -> list[xr.Dataset]:
    clear = masking.clear_mask(mon, P.masking, baseline.reference_bands(stats))
    outs, det = [], None
    for k in range(mon.sizes["time"]):
        det = mining.peti_evidence(mon.isel(time=[k]), clear.isel(time=[k]), stats, P, det)
        outs.append(det)
    return outs


def test_peti_evidence__stirred_pond_is_active(world, run_state):
    stats = run_state[0]
    _base, mon = world
    ponds = R["peti_ponds"][1]
    outs = _evidence(_paint(mon, ponds, STIRRED, 3), stats)
    day3 = mining.epoch_day(mon.time.values[3])
    la = outs[3].last_active.values
    assert (la[ponds] == day3).mean() > 0.9
    assert (la[R["peti_ponds"][0]] < day3).all()  # the other pond did not change


def test_peti_evidence__growing_site_is_active(world, run_state):
    stats = run_state[0]
    _base, mon = world
    strip = (slice(10, 20), slice(20, 23))  # 30 px dug east of the site on the third look, with a pit
    grown = _paint(_paint(mon, strip, MUD, 2), (slice(14, 16), slice(21, 23)), POND, 2)
    outs = _evidence(grown, stats)
    day2 = mining.epoch_day(mon.time.values[2])
    new = outs[-1].last_active.values[strip][outs[-1].n_confirm.values[strip] > 0]
    assert new.size >= 10 and (new >= day2).all()


# ----------------------------------------------------------------------------- through the lifecycle
WEEKS = [f"2026-W{w:02d}" for w in range(2, 11)]  # Jan 5 .. Mar 8, 2026


@pytest.fixture(scope="module")
def season():
    """A longer synthetic season: baseline 2025 and a look every 5 days for 9 ISO weeks."""
    base, mon = make_world(n_monitor=13)
    st = baseline.update_state(baseline.empty_state(base, P.baseline), base,
                               masking.clear_mask(base, P.masking), P.baseline)
    stats = baseline.baseline_stats(st, P.baseline, mon.time.values[0])
    return stats, mon


def _lifecycle(tmp_path, mon: xr.Dataset, stats: xr.Dataset, *, cloudy_weeks=(), drop_activity=False,
               activity="change"):
    """Weekly evidence -> polygons -> registry; returns [(week, status, quiet_clear_weeks)].

    ``activity``: the ``[lifecycle] activity`` mode (the shipped default is "evidence")."""
    scfg = load_sites_config()
    scfg = replace(scfg, lifecycle=replace(scfg.lifecycle, activity=activity))
    reg = Registry(tmp_path / "reg.gpkg", scfg)
    clear = masking.clear_mask(mon, P.masking, baseline.reference_bands(stats))
    days = pd.DatetimeIndex(mon.time.values)
    det, out = None, []
    now = dt.datetime(2026, 3, 9, tzinfo=dt.UTC)
    for w in WEEKS:
        monday = dt.date.fromisocalendar(int(w[:4]), int(w[6:]), 1)
        sel = np.flatnonzero((days.date >= monday) & (days.date < monday + dt.timedelta(days=7)))
        ck = clear.isel(time=sel)
        if w in cloudy_weeks:
            ck = xr.zeros_like(ck)
        det = mining.peti_evidence(mon.isel(time=sel), ck, stats, P, det)
        ev = det.drop_vars(["last_active"]) if drop_activity else det
        fp = reg.sites() if (tmp_path / "reg.gpkg").exists() else None
        vec = vectorize(ev, scfg.polygonize, footprints=fp, min_clear_frac=scfg.lifecycle.min_clear_frac)
        reg.upsert(w, vec.sites, footprint_stats=vec.footprint_stats, now=now)
        s = reg.sites().iloc[0]
        out.append((w, s.status, int(s.quiet_clear_weeks)))
    return out


def test_lifecycle__abandoned_stable_pit_goes_tidak_aktif(tmp_path, season):
    stats, mon = season
    hist = _lifecycle(tmp_path, mon, stats)
    n = load_sites_config().lifecycle.inactive_weeks
    assert [s for _, s, _ in hist[:2]] == ["baru", "aktif"]  # entering the evidence over two looks
    retired = next(i for i, (_, s, _) in enumerate(hist) if s == "tidak_aktif")
    assert hist[retired][2] == n  # after exactly inactive_weeks quiet clear weeks
    assert all(s == "aktif" for _, s, _ in hist[1:retired])
    assert all(s == "tidak_aktif" for _, s, _ in hist[retired:])


def test_lifecycle__old_rule_keeps_the_dead_pit_aktif(tmp_path, season):
    """Without ``last_active`` (a state stored before it) the lifecycle falls back to last_detected."""
    stats, mon = season
    hist = _lifecycle(tmp_path, mon, stats, drop_activity=True)
    assert all(s == "aktif" and q == 0 for _, s, q in hist[1:])  # the issue #4 behaviour, kept as a fallback


def test_lifecycle__default_evidence_mode_keeps_the_dead_pit_aktif(tmp_path, season):
    """The shipped ``activity = "evidence"``: every confirming look counts as activity."""
    stats, mon = season
    hist = _lifecycle(tmp_path, mon, stats, activity=load_sites_config().lifecycle.activity)
    assert load_sites_config().lifecycle.activity == "evidence"
    assert all(s == "aktif" and q == 0 for _, s, q in hist[1:])


def test_lifecycle__cloudy_weeks_change_nothing(tmp_path, season):
    stats, mon = season
    hist = _lifecycle(tmp_path, mon, stats, cloudy_weeks=("2026-W05", "2026-W06", "2026-W07"))
    by_week = {w: (s, q) for w, s, q in hist}
    assert by_week["2026-W05"] == by_week["2026-W06"] == by_week["2026-W07"] == by_week["2026-W04"]
    assert by_week["2026-W04"][0] == "aktif"
    assert by_week["2026-W10"][0] == "tidak_aktif"


def test_lifecycle__growing_site_stays_active(tmp_path, season):
    stats, mon = season
    grown = mon
    for k in range(2, mon.sizes["time"]):  # a new 3-px-wide strip dug every look, eastwards, with a pit
        c0 = 20 + 3 * (k - 2)
        grown = _paint(grown, (slice(10, 20), slice(c0, c0 + 3)), MUD, k)
        grown = _paint(grown, (slice(14, 16), slice(c0 + 1, c0 + 3)), POND, k)
    hist = _lifecycle(tmp_path, grown, stats)
    assert all(s in ("aktif", "meluas") for _, s, _ in hist[1:]), hist
    # new ground joins the polygon once confirmed (its second look): at most one quiet week in between
    assert max(q for _, _, q in hist) <= 1 and hist[-1][2] == 0
    assert "meluas" in {s for _, s, _ in hist}


def test_lifecycle__stirred_ponds_keep_the_site_active(tmp_path, season):
    stats, mon = season
    worked = mon
    for k in range(2, mon.sizes["time"], 2):  # the ponds turn red with fresh slurry on every other look
        for ys, xs in R["peti_ponds"]:
            worked = _paint(worked, (ys, xs), STIRRED, k)
            worked = _paint(worked, (ys, xs), POND, k + 1)
    hist = _lifecycle(tmp_path, worked, stats)
    assert all(s == "aktif" for _, s, _ in hist[1:]), hist
