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
