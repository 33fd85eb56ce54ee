"""Road damage in two steps: per-tile pixel tables, the combine step, and persistence (§3)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from odc.geo.xr import xr_zeros
from shapely.geometry import LineString

from sarolangun_geo import grid
from sarolangun_geo.change import roads
from sarolangun_geo.change.params import load_road_params
from sarolangun_geo.indices import bsi, mndwi, ndvi

RP = load_road_params()
BANDS = ("blue", "green", "red", "nir", "swir16")
S = {  # blue, green, red, nir, swir16
    "forest": (0.021, 0.045, 0.024, 0.300, 0.150),
    "laterite": (0.075, 0.105, 0.150, 0.230, 0.300),
    "asphalt": (0.075, 0.085, 0.095, 0.125, 0.160),
    "mud": (0.055, 0.075, 0.095, 0.140, 0.160),
    "landslide": (0.085, 0.115, 0.160, 0.235, 0.315),
}
NY, NX, ROW = 40, 80, 20  # two 40 x 40 tiles side by side; the road runs along row 20


def _scene(surface: str = "laterite", damage: dict[str, tuple[slice, slice]] | None = None) -> xr.Dataset:
    """A noise-free composite: forest, a road along ROW, optional damage patches (name -> (rows, cols))."""
    gb = grid.regency_geobox()[3000:3000 + NY, 2000:2000 + NX]
    tmpl = xr_zeros(gb, dtype="float32")
    img = np.empty((len(BANDS), NY, NX), "float32")
    img[:] = np.asarray(S["forest"], "float32")[:, None, None]
    img[:, ROW, :] = np.asarray(S[surface], "float32")[:, None]
    for name, (rows, cols) in (damage or {}).items():
        img[:, rows, cols] = np.asarray(S[name], "float32")[:, None, None]
    ds = xr.Dataset({b: (("y", "x"), img[i]) for i, b in enumerate(BANDS)},
                    coords={"y": tmpl.y, "x": tmpl.x, "spatial_ref": tmpl.spatial_ref})
    ds["n_clear"] = (("y", "x"), np.ones((NY, NX), "uint16"))
    return ds


def _stats(base: xr.Dataset) -> xr.Dataset:
    """Baseline statistics of an unchanging scene (its own indices, no water)."""
    b = {k: base[k] for k in BANDS}
    out = {"ndvi_median": ndvi(nir=b["nir"], red=b["red"]), "bsi_median": bsi(**{k: b[k] for k in
                                                                                   ("blue", "red", "nir", "swir16")}),
           "mndwi_median": mndwi(green=b["green"], swir16=b["swir16"]), "nir_median": b["nir"],
           "swir16_median": b["swir16"]}
    stats = xr.Dataset({k: v.astype("float32") for k, v in out.items()})
    stats["water_freq"] = xr.zeros_like(stats["nir_median"])
    stats["permanent_water"] = xr.zeros_like(stats["nir_median"], dtype=bool)
    return stats


def _segments(ds: xr.Dataset) -> gpd.GeoDataFrame:
    y = float(ds.y[ROW])
    x0, x1 = float(ds.x[0]) - 5, float(ds.x[-1]) + 5
    return roads.split_segments(gpd.GeoDataFrame({"road_id": ["J1"]}, geometry=[LineString([(x0, y), (x1, y)])],
                                                 crs="EPSG:32748"), RP.segment_length_m)


DAMAGE = {"mud": (slice(ROW - 1, ROW + 2), slice(2, 16)),         # wet mud in the left tile
          "landslide": (slice(ROW - 6, ROW + 7), slice(64, 74))}  # a slide across the road, right tile


@pytest.fixture(scope="module")
def two_tiles():
    base = _scene()
    now = _scene(damage=DAMAGE)
    stats = _stats(base)
    segs = _segments(base)
    return base, now, stats, segs, roads.segment_raster(segs, base, RP.corridor_half_width_m)


def _tile_tables(now, stats, seg):
    halves = (slice(0, NX // 2), slice(NX // 2, NX))
    return [roads.road_tile_evidence(now.isel(x=h), stats.isel(x=h), seg.isel(x=h), RP) for h in halves]


def test_road_tile_evidence__table_contract(two_tiles):
    _, now, stats, _, seg = two_tiles
    t = roads.road_tile_evidence(now, stats, seg, RP)
    assert list(t.columns) == roads.PIXEL_COLUMNS
    assert len(t) == int((seg.values > 0).sum()) and t.segment.dtype == np.int32
    assert t.valid.all() and t.darkening.dtype == np.float32


def test_road_tile_evidence__no_road_gives_empty_table(two_tiles):
    _, now, stats, _, seg = two_tiles
    t = roads.road_tile_evidence(now, stats, xr.zeros_like(seg), RP)
    assert list(t.columns) == roads.PIXEL_COLUMNS and len(t) == 0


def test_score_from_tiles__two_tiles_equal_whole_mosaic(two_tiles):
    _, now, stats, segs, seg = two_tiles
    whole = prev_w = prev_t = None
    for week in ("2026-W10", "2026-W11"):
        whole = roads.score_segments(segs, now, stats, RP, week, seg, previous=prev_w)
        tiled = roads.score_from_tiles(segs, _tile_tables(now, stats, seg), week, RP, previous=prev_t)
        pd.testing.assert_frame_equal(pd.DataFrame(tiled.drop(columns="geometry")),
                                      pd.DataFrame(whole.drop(columns="geometry")))
        prev_w, prev_t = whole, tiled
    dmg = dict(zip(whole.segment_id, whole.damaged, strict=True))
    assert dmg["J1-0000"] and dmg["J1-0001"] and dmg["J1-0006"]  # the mud and the slide
    assert not dmg["J1-0003"] and not dmg["J1-0004"]


def test_score_from_tiles__dirt_mud_darkens_and_slide_is_bare(two_tiles):
    _, now, stats, segs, seg = two_tiles
    out = roads.score_segments(segs, now, stats, RP, "2026-W10", seg).set_index("segment_id")
    assert out.loc["J1-0000", "surface_change"] > 0.3 and out.loc["J1-0000", "evidence"]
    assert out.loc["J1-0006", "bare"] > 0.3 and out.loc["J1-0006", "veg_loss"] > 0.3
    assert out.loc["J1-0006", "evidence"] and not out.loc["J1-0003", "evidence"]


def test_score_from_tiles__paved_road_mud_on_the_verges():
    # mud washed over an asphalt road barely changes the asphalt pixels (similar spectra);
    # the verges lose their vegetation
    base = _scene("asphalt")
    now = _scene("asphalt", {"mud": (slice(ROW - 1, ROW + 2), slice(2, 16))})
    now[[*BANDS]] = now[[*BANDS]].where(np.arange(NY)[:, None] != ROW, base[[*BANDS]])  # the asphalt row as before
    segs = _segments(base)
    out = roads.score_segments(segs, now, _stats(base), RP, "2026-W10").set_index("segment_id")
    assert out.loc["J1-0000", "evidence"] and out.loc["J1-0000", "veg_loss"] > 0.3
    assert not out.loc["J1-0004", "evidence"]


def test_score_segments__dask_equals_numpy(two_tiles):
    _, now, stats, segs, seg = two_tiles
    ref = roads.score_segments(segs, now, stats, RP, "2026-W10", seg)
    lazy = roads.score_segments(segs, now.chunk({"x": 16, "y": 16}), stats.chunk({"x": 16, "y": 16}), RP,
                                "2026-W10", seg.chunk({"x": 16, "y": 16}))
    pd.testing.assert_frame_equal(pd.DataFrame(lazy.drop(columns="geometry")),
                                  pd.DataFrame(ref.drop(columns="geometry")))


@settings(max_examples=10, deadline=None)
@given(cy=st.integers(3, NY), cx=st.integers(3, NX), seed=st.integers(0, 2**16))
def test_hypothesis__tile_table_dask_equals_numpy(two_tiles, cy, cx, seed):
    _, now, stats, _, seg = two_tiles
    rng = np.random.default_rng(seed)
    noisy = now.copy()
    for b in BANDS:
        noisy[b] = now[b] * (1 + rng.normal(0, 0.05, now[b].shape)).astype("float32")
    ref = roads.road_tile_evidence(noisy, stats, seg, RP)
    lazy = roads.road_tile_evidence(noisy.chunk({"y": cy, "x": cx}), stats.chunk({"y": cy, "x": cx}), seg, RP)
    pd.testing.assert_frame_equal(lazy, ref)


# --------------------------------------------------------------------------- persistence

def _table(dark: dict[int, float], cloudy: tuple[int, ...] = (), n_dark: int = 3, context: float = 0.0
           ) -> pd.DataFrame:
    """A pixel table: 10 pixels per segment 1..4; in the segments of ``dark``, ``n_dark`` pixels muddied.

    A muddied pixel is darkened by ``dark[segment]`` with its spectrum turned and its verge
    vegetation lost (mud and ruts over the verge).  With the default 3 of 10 pixels a look
    is evidence (score 0.75) but not decisive on its own (``single_look_score``).
    """
    seg = np.repeat(np.arange(1, 5, dtype=np.int32), 10)
    mud = np.asarray([s in dark for s in seg]) & (np.tile(np.arange(10), 4) < n_dark)
    t = pd.DataFrame({c: np.zeros(seg.size, np.float32) for c in roads.PIXEL_COLUMNS})
    t["segment"], t["scorable"], t["valid"], t["n_clear"] = seg, True, ~np.isin(seg, cloudy), np.uint16(1)
    t["mndwi"], t["redness"], t["base_ndvi"] = np.float32(-0.5), np.float32(0.1), np.float32(0.6)
    t["context"] = np.float32(context)
    t["darkening"] = np.where(mud, [dark.get(int(s), 0.0) for s in seg], 0.0).astype(np.float32)
    t["angle"] = np.where(mud, 8.0, 0.5).astype(np.float32)  # mud turns the spectrum
    t["d_ndvi"] = np.where(mud, -0.1, 0.0).astype(np.float32)  # ... and covers the verge vegetation
    t["d_bsi"] = np.where(mud, 0.02, 0.0).astype(np.float32)
    return t[roads.PIXEL_COLUMNS]


@pytest.fixture(scope="module")
def four_segments():
    lines = [LineString([(200000 + 100 * i, 9750000), (200100 + 100 * i, 9750000)]) for i in range(4)]
    return gpd.GeoDataFrame({"segment_id": [f"J2-{i:04d}" for i in range(4)], "road_id": "J2"}, geometry=lines,
                            crs="EPSG:32748")


def _run(segs, weeks):
    prev, out = None, []
    for i, t in enumerate(weeks):
        prev = roads.score_from_tiles(segs, [t], f"2026-W{10 + i:02d}", RP, previous=prev)
        out.append(prev.set_index("segment_id"))
    return out


def test_persistence__one_look_transient_does_not_flag(four_segments):
    res = _run(four_segments, [_table({1: 0.4}), _table({})])
    assert res[0].loc["J2-0000", "evidence"] and not res[0].loc["J2-0000", "damaged"]
    assert not res[1].loc["J2-0000", "damaged"] and res[1].loc["J2-0000", "streak"] == 0
    assert res[1].loc["J2-0000", "first_damaged"] == ""


def test_persistence__two_looks_in_a_row_flag_across_a_cloudy_week(four_segments):
    res = _run(four_segments, [_table({1: 0.4}), _table({}, cloudy=(1,)), _table({1: 0.4})])
    r1, r2 = res[1].loc["J2-0000"], res[2].loc["J2-0000"]
    assert not r1.damaged and r1.streak == 1 and r1.last_look == "2026-W10" and r1.score == res[0].loc[
        "J2-0000", "score"]  # the cloudy week carries the last look
    assert r2.damaged and r2.streak == 2 and r2.first_damaged == "2026-W12" and r2.n_looks == 2
    assert r2.confidence >= 1 and not res[2].loc[["J2-0001", "J2-0002", "J2-0003"], "damaged"].any()


def test_persistence__cleared_after_clear_looks_without_evidence(four_segments):
    res = _run(four_segments, [_table({1: 0.4}), _table({1: 0.4}), _table({}), _table({})])
    flags = [bool(r.loc["J2-0000", "damaged"]) for r in res]
    assert flags == [False, True, RP.clear_looks > 1, False]
    assert res[-1].loc["J2-0000", "first_damaged"] == "2026-W11"


def test_persistence__previous_without_state_columns_starts_fresh(four_segments):
    old = pd.DataFrame({"segment_id": ["J2-0000"], "damaged": [True]})  # e.g. a registry row
    out = roads.score_from_tiles(four_segments, [_table({})], "2026-W10", RP, previous=old).set_index("segment_id")
    assert out.loc["J2-0000", "damaged"] and out.loc["J2-0000", "misses"] == 1


def test_network_darkening__every_road_wet_alike_is_not_damage(four_segments):
    out = roads.score_from_tiles(four_segments, [_table({1: 0.4, 2: 0.4, 3: 0.4, 4: 0.4}, n_dark=10)], "2026-W10",
                                 RP)
    assert not out.evidence.any()
