"""PETI evidence: the §3 contract, persistence/confidence, and every confounder explicitly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from synth_world import R, region_mask

from sarolangun_geo import baseline, masking
from sarolangun_geo.change import mining
from sarolangun_geo.change.params import DetectionParams, load_detection_params

P = load_detection_params()
CONTRACT = {"confidence": "uint8", "score": "float32", "n_confirm": "uint8", "first_detected": "int32",
            "last_detected": "int32", "kinds": "uint8", "d_ndvi": "float32", "d_bsi": "float32",
            "d_mndwi": "float32", "d_ndti": "float32", "permanent_water": "bool"}


@pytest.fixture(scope="module")
def run(world):
    """Baseline from the 2025 history, then the monitoring looks one week call at a time."""
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


def conf(out, name):
    return out.confidence.values[region_mask(name)]


def test_peti_evidence__contract_vars_and_dtypes(run):
    out = run[2][-1]
    for k, dt in CONTRACT.items():
        assert str(out[k].dtype) == dt, k
    assert out.confidence.dims == ("y", "x") and out.odc.geobox is not None


def test_peti_evidence__site_confidence_grows_with_persistence(run):
    outs = run[2]
    # one look: at least low everywhere on the site, medium where all four kinds agree (ponds + tailings)
    assert np.mean(conf(outs[0], "peti") >= 1) > 0.95
    assert np.mean(conf(outs[1], "peti") >= 3) > 0.9  # confirmed (high) on the second look
    assert np.mean(conf(outs[-1], "peti") == 4) > 0.05  # highest where ponds/tailings mix
    assert int(outs[-1].n_confirm.values[region_mask("peti")].max()) == len(outs)


def test_peti_evidence__kinds_and_dates(run):
    out = run[2][-1]
    ys, xs = R["peti_ponds"][0]
    k = int(out.kinds.values[ys, xs][0, 0])
    assert k & mining.KIND_VEG_LOSS and k & mining.KIND_WATER and k & mining.KIND_NEAR_WATER
    first = out.first_detected.values[region_mask("peti")]
    assert (first == mining.epoch_day("2026-01-05")).mean() > 0.95
    assert (out.last_detected.values[region_mask("peti")] > first).all() | (first < 0).any()
    assert (out.first_detected.values[~region_mask("peti")] <= out.last_detected.values[~region_mask("peti")]).all()
    assert float(out.d_ndvi.values[15, 15]) < -0.5


def test_peti_evidence__tailings_flagged_as_cloud_still_seen(run):
    # on the second look SCL calls the tailings cloud; the rescue keeps them clear
    clear = run[1]
    assert clear.isel(time=1).values[region_mask("peti")].all()


@pytest.mark.parametrize("confounder", ["clearing", "rice", "sandbar", "landslide", "village", "road_damage"])
def test_confounder__never_alerts(run, confounder):
    for out in run[2]:
        assert conf(out, confounder).max() == 0, confounder


def test_confounder__missed_cloud_and_shadow_are_masked(run):
    clear = run[1]
    assert not clear.isel(time=0).values[region_mask("cloud")].any()
    assert not clear.isel(time=0).values[region_mask("shadow")].any()
    for out in run[2]:
        assert conf(out, "cloud").max() == 0 and conf(out, "shadow").max() == 0


def test_confounder__permanent_river_known(run):
    out = run[2][-1]
    assert out.permanent_water.values[:, :4].mean() > 0.7
    assert not out.permanent_water.values[:, 10:].any()


def test_confounder__rice_water_is_seasonal_in_baseline(run):
    stats = run[0]
    assert bool(stats.seasonal_water.values[region_mask("rice")].all())


def test_peti_evidence__no_false_alerts_elsewhere(run):
    out = run[2][-1]
    assert (out.confidence.values[~region_mask("peti")] >= 2).sum() == 0


def test_peti_evidence__rerun_is_idempotent(world, run):
    _base, mon = world
    stats, clear, outs = run
    again = mining.peti_evidence(mon.isel(time=[len(outs) - 1]), clear.isel(time=[len(outs) - 1]), stats, P,
                                 outs[-1])
    for k in (*mining.STATE_VARS, "confidence"):
        np.testing.assert_array_equal(again[k].values, outs[-1][k].values)
    assert json.loads(again.attrs["acquisitions"]) == json.loads(outs[-1].attrs["acquisitions"])


def test_peti_evidence__dask_lazy_equals_numpy(world, run):
    _base, mon = world
    stats, clear, _outs = run
    lazy = mining.peti_evidence(mon.isel(time=[0, 1]).chunk({"time": 1, "y": 25, "x": 25}),
                                clear.isel(time=[0, 1]).chunk({"time": 1, "y": 25, "x": 25}),
                                stats.chunk({"y": 25, "x": 25}), P)
    assert lazy.confidence.chunks is not None
    ref = mining.peti_evidence(mon.isel(time=[0, 1]), clear.isel(time=[0, 1]), stats, P)
    xr.testing.assert_allclose(lazy.compute(), ref)


def _state_1px():
    tmpl = xr.DataArray(np.zeros((1, 1), "float32"), dims=("y", "x"))
    return mining.empty_detection_state(tmpl)


def _ev(candidate: bool, kinds: int = 3, score: float = 0.5):
    return xr.Dataset({"candidate": (("y", "x"), [[candidate]]), "kinds": (("y", "x"), np.array([[kinds]], "uint8")),
                       "score": (("y", "x"), np.array([[score]], "float32"))})


CLEAR = xr.DataArray([[True]], dims=("y", "x"))
CLOUDY = xr.DataArray([[False]], dims=("y", "x"))


def test_update_detection__transient_candidate_is_dropped():
    st = mining.update_detection(_state_1px(), _ev(True), CLEAR, 100, P)  # e.g. a missed cloud edge
    assert mining.confidence_level(st, P).item() == 1
    for day in (105, 110):
        st = mining.update_detection(st, _ev(False), CLEAR, day, P)
    assert st.n_confirm.item() == 0 and st.first_detected.item() == -1 and mining.confidence_level(st, P).item() == 0


def test_update_detection__cloudy_looks_change_nothing():
    st = mining.update_detection(_state_1px(), _ev(True), CLEAR, 100, P)
    st2 = mining.update_detection(st, _ev(False), CLOUDY, 105, P)
    for k in mining.STATE_VARS:
        assert st2[k].item() == st[k].item()


def test_update_detection__confirmed_site_keeps_history_when_it_stops():
    st = _state_1px()
    for day in (100, 105):
        st = mining.update_detection(st, _ev(True), CLEAR, day, P)
    for day in (110, 115, 120):
        st = mining.update_detection(st, _ev(False), CLEAR, day, P)
    assert st.n_confirm.item() == 2 and st.first_detected.item() == 100 and st.last_detected.item() == 105


@pytest.mark.parametrize("n,kinds,expect", [(0, 0, 0), (1, 3, 1), (1, 15, 2), (2, 3, 2), (2, 7, 3), (3, 3, 3),
                                            (3, 15, 4), (3, 31, 4)])
def test_confidence_level__table(n, kinds, expect):
    st = _state_1px()
    st["n_confirm"][:] = n
    st["kinds"][:] = kinds
    assert mining.confidence_level(st, P).item() == expect


def test_count_kinds__ignores_near_water_bit():
    assert int(mining.count_kinds(xr.DataArray(np.uint8(31)))) == 4


def test_detection_params__defaults_match_toml():
    assert load_detection_params() == DetectionParams()


def test_hypothesis__acquisition_evidence_dask_equals_numpy(run, world):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    stats = run[0]
    _base, mon = world

    @settings(max_examples=6, deadline=None)
    @given(seed=st.integers(0, 10_000))
    def check(seed):
        rng = np.random.default_rng(seed)
        obs = mon.isel(time=0, drop=True)[["blue", "green", "red", "nir", "swir16"]].copy(deep=True)
        for b in obs.data_vars:
            obs[b].values[:] = obs[b].values * rng.uniform(0.5, 1.5, obs[b].shape).astype("float32")
        ref = mining.acquisition_evidence(obs, stats, P)
        lazy = mining.acquisition_evidence(obs.chunk({"y": 17, "x": 23}), stats.chunk({"y": 17, "x": 23}), P)
        assert lazy.candidate.chunks is not None
        xr.testing.assert_allclose(lazy.compute(), ref)

    check()


# --------------------------------------------------------------------------- tailings-only sites (issue #4)

SPOIL = (0.20, 0.24, 0.28, 0.32, 0.39, 0.32)  # washed quartz-sand tailings, wet season
HAZY_SOIL = (0.13, 0.15, 0.17, 0.26, 0.30, 0.22)  # lateritic soil on a sunlit slope under smoke haze


def _paint(cube, region, spectrum):
    """A copy of ``cube`` with ``spectrum`` (6 bands) on ``region`` at every time step."""
    out = cube.copy(deep=True)
    ys, xs = region
    for b, v in zip(("blue", "green", "red", "nir", "swir16", "swir22"), spectrum, strict=True):
        out[b][:, ys, xs] = v
    return out


def _spoil_only(mon):
    """The PETI site dug into spoil only: its ponds are tailings too (no water anywhere)."""
    out = mon
    for reg in R["peti_ponds"]:
        out = _paint(out, reg, SPOIL)
    return _paint(out, R["peti"], SPOIL)


def _run_cube(mon, stats, params):
    clear = masking.clear_mask(mon, params.masking, baseline.reference_bands(stats))
    outs, det = [], None
    for k in range(mon.sizes["time"]):
        det = mining.peti_evidence(mon.isel(time=[k]), clear.isel(time=[k]), stats, params, det)
        outs.append(det)
    return outs


def test_bright_tailings__colour_of_washed_sand_only():
    mp = P.mining
    px = {"spoil": SPOIL, "hazy_soil": HAZY_SOIL, "landslide": (0.085, 0.115, 0.16), "roof": (0.11, 0.12, 0.13),
          "cloud_remnant": (0.30, 0.30, 0.31), "nodata": (np.nan, np.nan, np.nan)}
    b, g, r = (xr.DataArray(np.array([[v[i] for v in px.values()]], "float32"), dims=("y", "x")) for i in range(3))
    got = dict(zip(px, mining.bright_tailings(b, g, r, mp).values[0].tolist(), strict=True))
    assert got == {"spoil": True, "hazy_soil": False, "landslide": False, "roof": False, "cloud_remnant": False,
                   "nodata": False}


def test_tailings_deposit__isolated_bright_pixel_dropped():
    t = np.zeros((20, 20), bool)
    t[2:9, 2:9] = True  # a 0.5 ha spoil heap
    t[15, 15] = True  # one bright mixed pixel
    dep = mining.tailings_deposit(xr.DataArray(t, dims=("y", "x")), P.mining).values
    assert dep[2:9, 2:9].all() and not dep[15, 15] and not dep[~t].any()


def test_peti_evidence__spoil_only_site_alerts_after_two_looks(world, run):
    stats = run[0]
    outs = _run_cube(_spoil_only(world[1]), stats, P)
    site = region_mask("peti")
    assert np.mean(outs[0].confidence.values[site] >= 1) > 0.95
    assert np.mean(outs[1].confidence.values[site] >= 2) > 0.95  # confirmed on the second look
    k = outs[-1].kinds.values[site]
    assert ((k & mining.KIND_BARE) > 0).all() and not (k & mining.KIND_WATER).any()
    assert (outs[-1].confidence.values[~site] >= 2).sum() == 0


def test_peti_evidence__spoil_far_from_rivers_is_not_peti(world, run):
    from dataclasses import replace

    stats = run[0]
    # the site (cols 10..19) is >= 70 m from the river (cols 0..3): out of reach of a 50 m context
    far = replace(P, water=replace(P.water, near_water_m=50.0))
    outs = _run_cube(_spoil_only(world[1]), stats, far)
    assert outs[-1].n_confirm.values[region_mask("peti")].max() == 0


def test_confounder__hazy_sunlit_clearing_is_not_tailings(world, run):
    stats = run[0]
    mon = _paint(world[1], R["clearing"], HAZY_SOIL)
    mon = _paint(mon, (slice(40, 41), slice(40, 41)), SPOIL)  # one bright pixel in the clearing
    for out in _run_cube(mon, stats, P):
        assert out.confidence.values[region_mask("clearing")].max() == 0


def test_hypothesis__tailings_deposit_dask_equals_numpy():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=10, deadline=None)
    @given(seed=st.integers(0, 10_000))
    def check(seed):
        rng = np.random.default_rng(seed)
        t = xr.DataArray(rng.random((23, 19)) > rng.uniform(0.3, 0.9), dims=("y", "x"))
        ref = mining.tailings_deposit(t, P.mining)
        lazy = mining.tailings_deposit(t.chunk({"y": 7, "x": 6}), P.mining)
        assert lazy.chunks is not None
        np.testing.assert_array_equal(lazy.values, ref.values)

    check()
