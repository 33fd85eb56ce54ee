"""Road damage: fixed segments, segment raster, per-pixel evidence, per-segment scores (§3)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import xarray as xr
from shapely.geometry import LineString, MultiLineString

from sarolangun_geo import baseline, composites, masking
from sarolangun_geo.change import roads
from sarolangun_geo.change.params import RoadParams, load_detection_params, load_road_params

P = load_detection_params()
RP = load_road_params()


def road_gdf(world) -> gpd.GeoDataFrame:
    base, _ = world
    y = float(base.y[5])
    x0, x1 = float(base.x[4]) - 5, float(base.x[59]) + 5
    return gpd.GeoDataFrame({"road_id": ["R1"]}, geometry=[LineString([(x0, y), (x1, y)])], crs="EPSG:32748")


@pytest.fixture(scope="module")
def scored(world):
    """Two monitoring weeks scored in turn (the second carries the first's state)."""
    base, mon = world
    st = baseline.update_state(baseline.empty_state(base, P.baseline), base,
                               masking.clear_mask(base, P.masking), P.baseline)
    stats = baseline.baseline_stats(st, P.baseline, mon.time.values[0])
    clear = masking.clear_mask(mon, P.masking, baseline.reference_bands(stats))
    comp = composites.weekly_composite(mon, clear)
    segs = roads.split_segments(road_gdf(world), RP.segment_length_m)
    w1, w2 = (str(w) for w in comp.week.values[:2])
    first = roads.score_segments(segs, comp.sel(week=w1), stats, RP, w1)
    second = roads.score_segments(segs, comp.sel(week=w2), stats, RP, w2, previous=first)
    return segs, second, stats, comp, first


def test_split_segments__fixed_length_ids_and_crs():
    line = LineString([(0, 0), (250, 0)])
    g = gpd.GeoDataFrame({"road_id": ["J7"]}, geometry=[line], crs="EPSG:32748")
    s = roads.split_segments(g, 100.0)
    assert list(s.segment_id) == ["J7-0000", "J7-0001", "J7-0002"]
    np.testing.assert_allclose(s.length.values, [100, 100, 50])
    assert s.crs.to_epsg() == 32748


def test_split_segments__multilinestring_and_reprojection():
    ml = MultiLineString([[(102.40, -2.50), (102.401, -2.50)], [(102.41, -2.50), (102.4105, -2.50)]])
    s = roads.split_segments(gpd.GeoDataFrame({"road_id": ["A"]}, geometry=[ml], crs="EPSG:4326"), 100.0)
    assert list(s.segment_id) == ["A-0000", "A-0001", "A-0002"]  # 111 m -> 2 pieces, 55 m -> 1
    assert s.crs.to_epsg() == 32748


def test_split_segments__no_crs_raises():
    with pytest.raises(ValueError, match="CRS"):
        roads.split_segments(gpd.GeoDataFrame({"road_id": ["A"]}, geometry=[LineString([(0, 0), (1, 1)])]))


def test_segment_raster__corridor_width(world):
    base, _ = world
    segs = roads.split_segments(road_gdf(world), 100.0)
    r = roads.segment_raster(segs, base, 10.0)
    assert r.dtype == np.int32 and r.dims == ("y", "x")
    col = r.values[:, 30]
    assert set(np.flatnonzero(col)) == {4, 5, 6}  # centre row +- 1 px (10 m half-width)
    assert int(r.values[5, 30]) == 3  # segment 2 (cols 24-33) -> id 3


def test_score_segments__contract(scored):
    _, out, _, _, _ = scored
    assert list(out.columns) == roads.SEGMENT_COLUMNS + roads.STATE_COLUMNS + roads.STATE_EXTRA_COLUMNS
    assert out.crs.to_epsg() == 32748
    assert out.week.iloc[0].startswith("2026-W")
    assert out.score.between(0, 1).all() and out.confidence.between(0, 4).all()


def test_score_segments__one_look_is_evidence_not_yet_damage(scored):
    *_, first = scored
    ev = dict(zip(first.segment_id, first.evidence, strict=False))
    assert ev["R1-0002"] and ev["R1-0003"] and ev["R1-0004"]
    assert not first.damaged.any() and (first.confidence == 0).all()


def test_score_segments__damage_found_and_clean_road_quiet(scored):
    _, out, _, _, _ = scored
    dmg = dict(zip(out.segment_id, out.damaged, strict=False))
    assert dmg["R1-0002"]  # standing muddy water
    assert dmg["R1-0003"] and dmg["R1-0004"]  # landslide across the road
    assert not dmg["R1-0000"] and not dmg["R1-0005"]
    row = out.set_index("segment_id").loc["R1-0002"]
    assert row.water > 0.2 and row.confidence >= 2
    row = out.set_index("segment_id").loc["R1-0004"]
    assert row.veg_loss > 0.3 and row.bare > 0.3


def _cloudy(comp):
    cloudy = comp.isel(week=-1).copy()
    for b in ("blue", "green", "red", "nir", "swir16", "swir22"):
        cloudy[b] = xr.full_like(cloudy[b], np.nan)
    cloudy["n_clear"] = xr.zeros_like(cloudy["n_clear"])
    return cloudy


def test_score_segments__cloudy_week_scores_nothing(scored):
    segs, _, stats, comp, _ = scored
    out = roads.score_segments(segs, _cloudy(comp), stats, RP, "2026-W05")
    assert not out.damaged.any() and (out.confidence == 0).all() and (out.n_looks == 0).all()


def test_score_segments__cloudy_week_keeps_damage_and_last_look(scored):
    segs, second, stats, comp, _ = scored
    out = roads.score_segments(segs, _cloudy(comp), stats, RP, "2026-W05", previous=second)
    assert (out.damaged.values == second.damaged.values).all()
    np.testing.assert_array_equal(out.score.values, second.score.values)
    assert (out.last_look == second.last_look).all() and not out.evidence.any()


def test_score_segments__dask_equals_numpy(scored):
    segs, ref, stats, comp, first = scored
    week = str(comp.week.values[1])
    lazy = roads.score_segments(segs, comp.sel(week=week).chunk({"y": 20, "x": 20}), stats.chunk({"y": 20, "x": 20}),
                                RP, week, previous=first)
    np.testing.assert_array_equal(lazy.score.values, ref.score.values)
    assert (lazy.damaged.values == ref.damaged.values).all()


def test_road_params__defaults_match_toml():
    assert load_road_params() == RoadParams()


def _flat_stats(shape=(60, 60), **over):
    z = np.zeros(shape, "float32")
    base = {"ndvi_median": z + 0.8, "bsi_median": z - 0.3, "mndwi_median": z - 0.5, "ndvi_mad": z + 0.03,
            "bsi_mad": z + 0.03, "mndwi_mad": z + 0.03, "nir_median": z + 0.3, "swir16_median": z + 0.15,
            "water_freq": z, "permanent_water": np.zeros(shape, bool)}
    base.update(over)
    return xr.Dataset({k: (("y", "x"), v) for k, v in base.items()})


def _obs(shape=(60, 60), spectrum=(0.021, 0.045, 0.024, 0.300, 0.150)):
    return xr.Dataset({b: (("y", "x"), np.full(shape, v, "float32"))
                       for b, v in zip(("blue", "green", "red", "nir", "swir16"), spectrum, strict=True)})


BARE = (0.085, 0.115, 0.160, 0.235, 0.315)


def test_road_pixel_evidence__area_wide_clearing_is_not_road_damage():
    obs = _obs()
    for b, v in zip(("blue", "green", "red", "nir", "swir16"), BARE, strict=True):
        obs[b][:, :] = v  # everything around was cleared (estate clearing)
    ev = roads.road_pixel_evidence(obs, _flat_stats(), RP)
    assert not ev.bare[30, 30] and not ev.veg_loss[30, 30]


def test_road_pixel_evidence__local_landslide_is_kept():
    obs = _obs()
    for b, v in zip(("blue", "green", "red", "nir", "swir16"), BARE, strict=True):
        obs[b][25:35, 25:35] = v  # a 1 ha slide across the road
    ev = roads.road_pixel_evidence(obs, _flat_stats(), RP)
    assert ev.bare[30, 30] and ev.veg_loss[30, 30]


WATER = (0.048, 0.075, 0.068, 0.038, 0.014)


def test_road_pixel_evidence__river_crossing_not_scored():
    pw = np.zeros((60, 60), bool)
    pw[:, 28:32] = True
    obs = _obs()
    for b, v in zip(("blue", "green", "red", "nir", "swir16"), WATER, strict=True):
        obs[b][30, :] = v  # water along a road crossing the river (a ford at high stage)
    ev = roads.road_pixel_evidence(obs, _flat_stats(permanent_water=pw), RP)
    assert not ev.water[30, 33] and not ev.valid[30, 33] and ev.water[30, 5]


def test_road_pixel_evidence__area_wide_flood_is_not_road_damage():
    obs = _obs(spectrum=WATER)  # the whole valley under water
    ev = roads.road_pixel_evidence(obs, _flat_stats(), RP)
    assert ev.valid[30, 5] and not ev.water[30, 5]


def _dark_road(everywhere: bool = False):
    obs = _obs()
    rows = slice(None) if everywhere else slice(5, 6)
    for b, v in zip(("blue", "green", "red", "nir", "swir16"), (0.055, 0.075, 0.095, 0.14, 0.16), strict=True):
        obs[b][rows, :] = v  # wet mud along row 5: NIR + SWIR 33 % darker than the baseline
    return obs


def test_road_pixel_evidence__darkening_relative_to_network():
    assert ev_flag(_dark_road(), 0.0) and not ev_flag(_dark_road(), 0.3)  # not when every road darkened alike


def test_road_pixel_evidence__darkening_of_the_whole_scene_is_not_road_damage():
    assert not ev_flag(_dark_road(everywhere=True), 0.0)  # the land around darkened too


def test_road_pixel_evidence__terrain_shading_is_not_mud():
    obs = _obs()
    for b in ("blue", "green", "red", "nir", "swir16"):
        obs[b][5, :] = obs[b][5, :] * 0.6  # a hillside road in another season's sun: every band scaled alike
    assert not ev_flag(obs, 0.0)


def test_road_pixel_evidence__grey_roofs_are_not_bare_soil():
    obs = _obs()
    for b, v in zip(("blue", "green", "red", "nir", "swir16"), (0.110, 0.120, 0.130, 0.180, 0.210), strict=True):
        obs[b][25:35, 25:35] = v  # new zinc roofs next to the road
    ev = roads.road_pixel_evidence(obs, _flat_stats(), RP)
    assert not ev.bare[30, 30] and ev.veg_loss[30, 30]


def ev_flag(obs, net):
    return bool(roads.road_pixel_evidence(obs, _flat_stats(), RP, network_darkening=net).surface_change[5, 5])
