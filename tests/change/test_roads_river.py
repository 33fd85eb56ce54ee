"""Road damage near rivers: land in the baseline and now is scored for the non-water kinds
(``river_land_scoring``, roads._river_land); sandbars and river stage stay out."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from odc.geo.xr import xr_zeros
from shapely.geometry import LineString

from sarolangun_geo import grid
from sarolangun_geo.change import roads
from sarolangun_geo.change.disk_sums import pixels
from sarolangun_geo.change.params import load_road_params
from sarolangun_geo.indices import bsi, mndwi, ndvi

RP_OFF = dataclasses.replace(load_road_params(), river_land_scoring=False)
RP_ON = dataclasses.replace(RP_OFF, river_land_scoring=True)
BANDS = ("blue", "green", "red", "nir", "swir16")
S = {  # blue, green, red, nir, swir16
    "forest": (0.021, 0.045, 0.024, 0.300, 0.150),
    "laterite": (0.075, 0.105, 0.150, 0.230, 0.300),
    "landslide": (0.085, 0.115, 0.160, 0.235, 0.315),
    "river": (0.052, 0.078, 0.082, 0.048, 0.020),
}
NY, NX, ROW = 40, 80, 20  # the road runs along ROW and crosses the river on a bridge
RIVER = slice(38, 42)                        # permanent water (40 m wide), columns
SLIDE = (slice(14, 27), slice(33, 37))       # left bank, inside river_buffer_m: a slide over the approach
SANDBAR = (slice(15, 26), slice(42, 45))     # right bank: water in the baseline, exposed sand now
STAGE = (slice(15, 26), slice(45, 47))       # right bank: land in the baseline, under high water now


def _paint(img: np.ndarray, name: str, where: tuple[slice, slice]) -> None:
    img[:, where[0], where[1]] = np.asarray(S[name], "float32")[:, None, None]


def _ds(img: np.ndarray) -> xr.Dataset:
    gb = grid.regency_geobox()[3000:3000 + NY, 2000:2000 + NX]
    tmpl = xr_zeros(gb, dtype="float32")
    ds = xr.Dataset({b: (("y", "x"), img[i].copy()) for i, b in enumerate(BANDS)},
                    coords={"y": tmpl.y, "x": tmpl.x, "spatial_ref": tmpl.spatial_ref})
    ds["n_clear"] = (("y", "x"), np.ones((NY, NX), "uint16"))
    return ds


def _base_img() -> np.ndarray:
    img = np.empty((len(BANDS), NY, NX), "float32")
    img[:] = np.asarray(S["forest"], "float32")[:, None, None]
    img[:, ROW, :] = np.asarray(S["laterite"], "float32")[:, None]
    _paint(img, "river", (slice(None), RIVER))  # under the bridge (the deck is narrower than a pixel)
    _paint(img, "river", SANDBAR)  # the sandbar's baseline median: under water
    return img


@pytest.fixture(scope="module")
def bridge():
    """(baseline scene, this week's scene, baseline statistics, segments, segment raster)."""
    base_img = _base_img()
    now_img = base_img.copy()
    _paint(now_img, "landslide", SLIDE)
    _paint(now_img, "landslide", SANDBAR)  # dry-season sand, bright and soil-like
    _paint(now_img, "river", STAGE)        # high water over the bank
    base, now = _ds(base_img), _ds(now_img)
    b = {k: base[k] for k in BANDS}
    stats = xr.Dataset({k: v.astype("float32") for k, v in {
        "ndvi_median": ndvi(nir=b["nir"], red=b["red"]),
        "bsi_median": bsi(**{k: b[k] for k in ("blue", "red", "nir", "swir16")}),
        "mndwi_median": mndwi(green=b["green"], swir16=b["swir16"]), "nir_median": b["nir"],
        "swir16_median": b["swir16"]}.items()})
    wf = np.zeros((NY, NX), "float32")
    wf[:, RIVER] = 1.0
    wf[SANDBAR] = 0.6  # under water on most of the baseline's looks
    stats["water_freq"] = (("y", "x"), wf)
    stats["permanent_water"] = (("y", "x"), wf >= 0.75)
    y = float(base.y[ROW])
    segs = roads.split_segments(gpd.GeoDataFrame({"road_id": ["J1"]}, geometry=[LineString(
        [(float(base.x[0]) - 5, y), (float(base.x[-1]) + 5, y)])], crs="EPSG:32748"), RP_ON.segment_length_m)
    return base, now, stats, segs, roads.segment_raster(segs, base, RP_ON.corridor_half_width_m)


def _grid_values(now: xr.Dataset, stats: xr.Dataset, params) -> dict[str, np.ndarray]:
    return roads._pixel_values(roads._arrays(now, stats, {}), params)  # every pixel, 2-D


def test_river_land__slide_on_a_bridge_approach_is_scored(bridge):
    _, now, stats, _, _ = bridge
    near = roads._near_river(stats["permanent_water"].values, RP_ON, pixels((NY, NX), None))
    assert near[SLIDE].all()  # the slide lies inside the river buffer ...
    off = roads.road_pixel_evidence(now, stats, RP_OFF)
    assert not off.valid.values[SLIDE].any()  # ... so it was never scored
    on = roads.road_pixel_evidence(now, stats, RP_ON)
    verge = on.bare.values[SLIDE].copy()
    verge[ROW - SLIDE[0].start] = True  # the dirt road itself was soil before
    assert on.valid.values[SLIDE].all() and verge.all()
    assert not on.water.values[near].any()  # no water evidence near a river, ever


def test_river_land__sandbar_and_river_stage_are_not_scored(bridge):
    _, now, stats, _, _ = bridge
    v = _grid_values(now, stats, RP_ON)
    assert not v["scorable"][SANDBAR].any()  # water in the baseline (exposed sand now would be 'bare')
    assert not v["scorable"][STAGE].any()    # land in the baseline, but water now
    assert not v["scorable"][:, RIVER].any()
    ev = roads.road_pixel_evidence(now, stats, RP_ON)
    for k in roads.KINDS:
        assert not ev[k].values[SANDBAR].any() and not ev[k].values[STAGE].any()
    # the same bank under cloud is a scorable pixel not seen (it was land in the baseline), the sandbar is not
    cloudy = now.copy()
    for b in BANDS:
        cloudy[b] = cloudy[b].where(np.arange(NX)[None, :] < 42)
    v = _grid_values(cloudy, stats, RP_ON)
    assert v["scorable"][STAGE].all() and not v["valid"][STAGE].any() and not v["scorable"][SANDBAR].any()


def test_river_land__mixed_water_edge_is_not_scored(bridge):
    """A pixel whose baseline median MNDWI is near the water line holds part of the channel."""
    _, now, stats, _, _ = bridge
    edge = stats.copy(deep=True)
    edge["mndwi_median"][SLIDE] = RP_ON.river_land_max_mndwi + 0.05
    assert not _grid_values(now, edge, RP_ON)["scorable"][SLIDE].any()
    wet = stats.copy(deep=True)
    wet["water_freq"][SLIDE] = RP_ON.river_land_max_water_freq + 0.05  # the river reached it in some season
    assert not _grid_values(now, wet, RP_ON)["scorable"][SLIDE].any()


def test_river_land__surroundings_are_land_only(bridge):
    """Turbid high water brightens the river: no reference for the darkening of a road on the bank."""
    base, _, stats, _, _ = bridge
    turbid = base.copy(deep=True)
    for b in ("green", "red", "nir"):
        turbid[b][:, RIVER] = turbid[b][:, RIVER] * 2.0
    pix = (slice(ROW, ROW + 1), slice(34, 36))
    off = _grid_values(turbid, stats, dataclasses.replace(RP_OFF, river_buffer_m=0.0))["dark_ctx"][pix]
    on = _grid_values(turbid, stats, RP_ON)["dark_ctx"][pix]
    assert (off < -0.05).all()  # the brighter river made the land around look brighter
    np.testing.assert_allclose(on, 0.0, atol=1e-4)


def test_river_land__segment_of_the_approach_shows_evidence(bridge):
    _, now, stats, segs, seg = bridge
    off = roads.score_segments(segs, now, stats, RP_OFF, "2026-W10", seg).set_index("segment_id")
    on = roads.score_segments(segs, now, stats, RP_ON, "2026-W10", seg).set_index("segment_id")
    assert not off.loc["J1-0003", "evidence"] and off.loc["J1-0003", "bare"] == 0
    assert on.loc["J1-0003", "evidence"] and on.loc["J1-0003", "bare"] > 0.3
    assert on.loc["J1-0003", "water"] == 0
    assert not on.loc["J1-0004", "evidence"]  # sandbar + stage: nothing
    far = [s for s in on.index if s not in ("J1-0003", "J1-0004")]
    pd.testing.assert_frame_equal(pd.DataFrame(on.loc[far].drop(columns="geometry")),
                                  pd.DataFrame(off.loc[far].drop(columns="geometry")))


@pytest.mark.parametrize("chunks", [{"y": 16, "x": 16}, {"y": 40, "x": 23}])
def test_river_land__dask_equals_numpy(bridge, chunks):
    _, now, stats, _, seg = bridge
    ref = roads.road_tile_evidence(now, stats, seg, RP_ON)
    lazy = roads.road_tile_evidence(now.chunk(chunks), stats.chunk(chunks), seg.chunk(chunks), RP_ON)
    pd.testing.assert_frame_equal(lazy, ref)
    assert ref["scorable"].sum() > roads.road_tile_evidence(now, stats, seg, RP_OFF)["scorable"].sum()
