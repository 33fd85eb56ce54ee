"""PETI evidence and the detection fold: the dask result is identical (bit for bit) to the numpy result."""

from __future__ import annotations

import numpy as np
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from sarolangun_geo import baseline, masking
from sarolangun_geo.change import mining
from sarolangun_geo.change.params import load_detection_params

P = load_detection_params()


def _random_state(rng: np.random.Generator, shape: tuple[int, int]) -> xr.Dataset:
    def da(a):
        return (("y", "x"), a)

    look = lambda: np.where(rng.random(shape) < 0.2, mining.LOOK_NONE,  # noqa: E731
                            rng.integers(-10_000, 10_001, shape)).astype("int16")
    return xr.Dataset({
        "n_confirm": da(rng.choice(np.array([0, 1, 2, 3, 255], "uint8"), shape)),
        "n_miss": da(rng.choice(np.array([0, 1, 2, 255], "uint8"), shape)),
        "first_detected": da(rng.choice(np.array([-1, 20_000], "int32"), shape)),
        "last_detected": da(rng.choice(np.array([-1, 20_010], "int32"), shape)),
        "kinds": da(rng.integers(0, 32, shape).astype("uint8")),
        "score": da(rng.random(shape).astype("float32")),
        "last_active": da(rng.choice(np.array([-1, 20_005], "int32"), shape)),
        "prev_ndvi": da(look()), "prev_mndwi": da(look()), "prev_ndti": da(look()),
    }, attrs={"acquisitions": "[]"})


def _random_evidence(rng: np.random.Generator, shape: tuple[int, int]) -> xr.Dataset:
    idx = lambda: np.where(rng.random(shape) < 0.1, np.nan, rng.uniform(-1.2, 1.2, shape)).astype("float32")  # noqa: E731
    return xr.Dataset({"candidate": (("y", "x"), rng.random(shape) < 0.5),
                       "kinds": (("y", "x"), rng.integers(0, 32, shape).astype("uint8")),
                       "score": (("y", "x"), rng.random(shape).astype("float32")),
                       "ndvi": (("y", "x"), idx()), "mndwi": (("y", "x"), idx()), "ndti": (("y", "x"), idx())})


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), looks=st.booleans())
def test_update_detection__dask_is_bitwise_numpy(seed, looks):
    rng = np.random.default_rng(seed)
    shape = (13, 11)
    state, ev = _random_state(rng, shape), _random_evidence(rng, shape)
    if not looks:
        ev = ev[["candidate", "kinds", "score"]]
    clear = xr.DataArray(rng.random(shape) < 0.7, dims=("y", "x"))
    ref = mining.update_detection(state, ev, clear, 20_020, P)
    lazy = mining.update_detection(state.chunk({"y": 5, "x": 4}), ev.chunk({"y": 5, "x": 4}),
                                   clear.chunk({"y": 5, "x": 4}), 20_020, P)
    assert lazy.n_confirm.chunks is not None
    out = lazy.compute()
    xr.testing.assert_identical(out, ref)
    for k in mining.STATE_VARS:
        assert out[k].values.tobytes() == ref[k].values.tobytes(), k
    before = _random_state(np.random.default_rng(seed), shape)
    xr.testing.assert_identical(state, before)  # the state is not changed in place


def test_update_detection__counters_saturate_and_reset():
    rng = np.random.default_rng(0)
    state = _random_state(rng, (1, 3))
    state["n_confirm"][:] = [[255, 1, 2]]
    state["n_miss"][:] = [[0, 1, 255]]
    ev = _random_evidence(rng, (1, 3))
    ev["candidate"][:] = [[True, False, False]]
    out = mining.update_detection(state, ev, xr.DataArray([[True, True, True]], dims=("y", "x")), 99, P)
    assert out.n_confirm.values.tolist() == [[255, 0, 2]]  # saturated; the second reset after 2 misses
    assert out.n_miss.values.tolist() == [[0, 0, 255]]
    assert out.last_detected.values[0, 0] == 99 and out.first_detected.values[0, 1] == -1


def test_peti_evidence__dask_is_bitwise_numpy(world):
    base, mon = world
    st = baseline.update_state(baseline.empty_state(base, P.baseline), base,
                               masking.clear_mask(base, P.masking), P.baseline)
    stats = baseline.baseline_stats(st, P.baseline, mon.time.values[0])
    clear = masking.clear_mask(mon, P.masking, baseline.reference_bands(stats))
    ref = mining.peti_evidence(mon.isel(time=[0, 1]), clear.isel(time=[0, 1]), stats, P)
    lazy = mining.peti_evidence(mon.isel(time=[0, 1]).chunk({"time": 1, "y": 25, "x": 25}),
                                clear.isel(time=[0, 1]).chunk({"time": 1, "y": 25, "x": 25}),
                                stats.chunk({"y": 25, "x": 25}), P)
    out = lazy.compute()
    xr.testing.assert_identical(out, ref)
    for k in out.data_vars:
        assert out[k].values.tobytes() == ref[k].values.tobytes(), k
    assert (ref.confidence.values > 0).any()  # the world's site is seen: the rules were exercised
