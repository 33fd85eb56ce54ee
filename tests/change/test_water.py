"""Water evidence: new turbid water, near permanent water, pit texture; numpy == dask."""

from __future__ import annotations

import numpy as np
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from sarolangun_geo.change import water
from sarolangun_geo.change.params import WaterParams

WP = WaterParams()


def da2(a):
    return xr.DataArray(np.asarray(a), dims=("y", "x"))


def test_new_water__needs_rise_above_baseline_and_no_seasonal_water():
    mndwi = da2([[0.5, 0.5, 0.5, -0.3]])
    p90 = da2([[-0.4, 0.45, -0.4, -0.4]])  # second: was already water
    wfmax = da2([[0.0, 0.0, 0.5, 0.0]])  # third: floods seasonally (rice)
    assert water.new_water(mndwi, p90, wfmax, WP).values.tolist() == [[True, False, False, False]]


def test_new_water__nan_baseline_is_never_new():
    assert not water.new_water(da2([[0.5]]), da2([[np.nan]]), da2([[np.nan]]), WP).item()


def test_is_turbid__red_above_green():
    assert water.is_turbid(da2([[0.1, -0.2]]), WP).values.tolist() == [[True, False]]


def test_near_water__distance():
    pw = np.zeros((1, 120), bool)
    pw[0, 0] = True
    near = water.near_water(da2(pw), WaterParams(near_water_m=500.0)).values[0]
    assert near[50] and not near[52]


def test_pit_texture__mix_needed():
    w = np.zeros((20, 20), bool)
    b = np.zeros((20, 20), bool)
    w[8:10, 8:10] = True
    b[6:14, 6:14] = True
    b[8:10, 8:10] = False
    tex = water.pit_texture(da2(w), da2(b), WP).values
    assert tex[9, 9] and tex[7, 7]
    assert not water.pit_texture(da2(np.zeros_like(w)), da2(b), WP).values.any()  # clearing, no ponds
    assert not water.pit_texture(da2(w), da2(np.zeros_like(b)), WP).values.any()  # flood, no bare


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_hypothesis__pit_texture_dask_equals_numpy(seed):
    rng = np.random.default_rng(seed)
    w, b = da2(rng.random((23, 19)) > 0.8), da2(rng.random((23, 19)) > 0.6)
    ref = water.pit_texture(w, b, WP)
    lazy = water.pit_texture(w.chunk({"y": 7, "x": 6}), b.chunk({"y": 7, "x": 6}), WP)
    assert lazy.chunks is not None
    np.testing.assert_array_equal(lazy.values, ref.values)
