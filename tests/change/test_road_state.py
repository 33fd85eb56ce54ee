"""Road-damage persistence (change/road_state.py): decisive single looks, k of n looks, support along the road."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, MultiLineString

from sarolangun_geo.change import road_state, roads
from sarolangun_geo.change.params import load_road_params

RP = load_road_params()
N_PX = 20  # pixels per segment


def _table(mud: dict[int, int], cloudy_px: dict[int, int] | None = None, context: float = 0.0,
           n_px: int = N_PX) -> pd.DataFrame:
    """A pixel table of segments 1..4 (``n_px`` pixels each); ``mud[s]`` pixels of segment ``s`` muddied.

    A muddied pixel is darkened by 0.3 beyond the land around, its spectrum turned and its
    verge vegetation lost (surface change); ``cloudy_px[s]`` pixels of ``s`` are not clear.
    """
    seg = np.repeat(np.arange(1, 5, dtype=np.int32), n_px)
    k = np.tile(np.arange(n_px), 4)
    is_mud = np.asarray([k_ < mud.get(int(s), 0) for s, k_ in zip(seg, k, strict=True)])
    cloud = np.asarray([k_ >= n_px - (cloudy_px or {}).get(int(s), 0) for s, k_ in zip(seg, k, strict=True)])
    t = pd.DataFrame({c: np.zeros(seg.size, np.float32) for c in roads.PIXEL_COLUMNS})
    t["segment"], t["scorable"], t["valid"], t["n_clear"] = seg, True, ~cloud, np.uint16(1)
    t["mndwi"], t["redness"], t["base_ndvi"], t["context"] = -0.5, 0.1, 0.6, context
    t["darkening"] = np.where(is_mud, 0.3, 0.0)
    t["angle"] = np.where(is_mud, 8.0, 0.5)
    t["d_ndvi"] = np.where(is_mud, -0.1, 0.0)
    t["d_bsi"] = np.where(is_mud, 0.02, 0.0)
    for c in roads.PIXEL_COLUMNS[4:]:
        t[c] = np.where(t["valid"], t[c], np.nan).astype(np.float32)
    return t[roads.PIXEL_COLUMNS]


@pytest.fixture(scope="module")
def road():
    """Four touching 100 m segments of one road."""
    lines = [LineString([(200000 + 100 * i, 9750000), (200100 + 100 * i, 9750000)]) for i in range(4)]
    return gpd.GeoDataFrame({"segment_id": [f"J3-{i:04d}" for i in range(4)], "road_id": "J3"}, geometry=lines,
                            crs="EPSG:32748")


def _run(segs, weeks, params=RP, previous=None):
    prev, out = previous, []
    for i, t in enumerate(weeks):
        prev = roads.score_from_tiles(segs, [t], f"2026-W{20 + i:02d}", params, previous=prev)
        out.append(prev.set_index("segment_id"))
    return out


STRONG = {1: 20, 2: 20}  # the whole corridor of segments 1 and 2 muddied: score 1.0 on both
WEAK = {1: 6}             # 30 % of segment 1: score 0.75, evidence but not decisive


def test_decisive_look__flags_on_one_clear_look(road):
    (r,) = _run(road, [_table(STRONG)])
    for s in ("J3-0000", "J3-0001"):
        row = r.loc[s]
        assert row.damaged and row.evidence and row.score >= RP.single_look_score and row.first_damaged == "2026-W20"
        assert row.streak == 1 and row.recent == 1
    assert not r.loc[["J3-0002", "J3-0003"], "damaged"].any()


def test_decisive_look__not_on_one_segment_alone(road):
    """The same strong look on one segment only (its neighbours clean) needs a second look."""
    res = _run(road, [_table({1: 20}), _table({1: 20})])
    assert res[0].loc["J3-0000", "evidence"] and not res[0].loc["J3-0000", "damaged"]
    assert res[1].loc["J3-0000", "damaged"] and res[1].loc["J3-0000", "first_damaged"] == "2026-W21"
    loose = dataclasses.replace(RP, single_look_neighbour_score=-1.0)  # no neighbour needed
    assert _run(road, [_table({1: 20})], loose)[0].loc["J3-0000", "damaged"]


def test_decisive_look__weaker_evidence_needs_persist_looks(road):
    res = _run(road, [_table({**WEAK, 2: 6}), _table({**WEAK, 2: 6})])
    assert res[0].loc["J3-0000", "evidence"] and not res[0].loc["J3-0000", "damaged"]
    assert res[1].loc["J3-0000", "damaged"] and res[1].loc["J3-0000", "first_damaged"] == "2026-W21"


def test_decisive_look__not_on_a_partly_cloudy_corridor(road):
    (r,) = _run(road, [_table({1: 16, 2: 20}, cloudy_px={1: 4})])  # all clear pixels muddied, 80 % clear
    assert r.loc["J3-0000", "score"] >= RP.single_look_score and r.loc["J3-0000", "evidence"]
    assert not r.loc["J3-0000", "damaged"] and r.loc["J3-0001", "damaged"]  # its neighbour was clear


def test_decisive_look__not_where_the_land_around_changes(road):
    ctx = (RP.single_look_max_context + RP.context_max_frac_land) / 2  # kept as evidence, but not quiet around
    res = _run(road, [_table(STRONG, context=ctx), _table(STRONG, context=ctx)])
    assert res[0].loc["J3-0000", "evidence"] and not res[0].loc["J3-0000", "damaged"]
    assert res[1].loc["J3-0000", "damaged"]


def test_decisive_look__not_on_a_few_pixels(road):
    n = RP.single_look_min_px - 1
    (r,) = _run(road, [_table({1: n, 2: n}, n_px=n)])
    assert r.loc["J3-0000", "score"] >= RP.single_look_score and not r.loc["J3-0000", "damaged"]


def test_decisive_look__cleared_like_any_damage(road):
    res = _run(road, [_table(STRONG), _table({}), _table({})])
    assert [bool(r.loc["J3-0000", "damaged"]) for r in res] == [True, RP.clear_looks > 1, False]


def test_persist_window__k_of_n_looks_tolerates_a_look_without_evidence(road):
    weeks = [_table(WEAK), _table({}), _table(WEAK)]
    in_a_row = _run(road, weeks, dataclasses.replace(RP, persist_looks=2, persist_window=2))
    two_of_three = _run(road, weeks, dataclasses.replace(RP, persist_looks=2, persist_window=3))
    assert not any(r.loc["J3-0000", "damaged"] for r in in_a_row)
    assert [bool(r.loc["J3-0000", "damaged"]) for r in two_of_three] == [False, False, True]
    assert [int(r.loc["J3-0000", "recent"]) for r in two_of_three] == [0b1, 0b10, 0b101]


def test_persist_window__cloudy_weeks_are_not_looks(road):
    res = _run(road, [_table(WEAK), _table({}, cloudy_px={1: N_PX}), _table(WEAK)])
    assert res[1].loc["J3-0000", "recent"] == 1 and res[1].loc["J3-0000", "n_looks"] == 1
    assert res[2].loc["J3-0000", "damaged"]


def test_state__previous_without_recent_reads_streak_as_the_history(road):
    """A table stored before ``recent`` existed: one evidence look in a row, then one more flags."""
    old = pd.DataFrame({"segment_id": ["J3-0000", "J3-0001"], "damaged": [False, False], "evidence": [True, False],
                        "streak": [1, 0], "misses": [0, 3], "n_looks": [5, 5], "last_look": ["2026-W19"] * 2,
                        "first_damaged": ["", ""]})
    (r,) = _run(road, [_table(WEAK)], previous=old)
    assert r.loc["J3-0000", "damaged"] and r.loc["J3-0000", "recent"] == 0b11 and r.loc["J3-0000", "n_looks"] == 6
    assert r.loc["J3-0001", "recent"] == 0 and r.loc["J3-0001", "misses"] == 4


def test_state__recent_roundtrips_through_csv(road, tmp_path):
    (r,) = _run(road, [_table(WEAK)])
    path = tmp_path / "segments.csv"
    pd.DataFrame(r.reset_index().drop(columns="geometry")).to_csv(path, index=False)
    text_cols = {"segment_id": str, "road_id": str, "week": str, "last_look": str, "first_damaged": str}
    back = pd.read_csv(path, dtype=text_cols, keep_default_na=False)
    (r2,) = _run(road, [_table(WEAK)], previous=back)
    assert r2.loc["J3-0000", "damaged"] and r2.loc["J3-0000", "recent"] == 0b11


def test_support__weak_evidence_next_to_a_damaged_segment(road):
    """Segment 2 shows weak evidence (score 0.25) beside segment 1, which becomes damaged on its second look."""
    params = dataclasses.replace(RP, support_score=0.2)
    res = _run(road, [_table({1: 20, 2: 2})] * 4, params)
    s1 = [bool(r.loc["J3-0000", "damaged"]) for r in res]
    s2 = [res[i].loc["J3-0001"] for i in range(4)]
    assert s1 == [False, True, True, True]
    assert s2[0].score == pytest.approx(0.25) and not s2[0].evidence and not s2[1].evidence  # neighbour not yet damaged
    assert s2[2].evidence and not s2[2].damaged and s2[3].damaged
    alone = _run(road, [_table({2: 2})] * 4, params)
    assert not any(r.loc["J3-0001", "evidence"] for r in alone)


def test_context_memory__no_evidence_while_the_land_around_settles(road):
    """An area-wide change around the road (a clearing) keeps its evidence out for context_memory_looks looks."""
    wide = _table(WEAK, context=RP.context_max_frac + 0.1)
    weeks = [wide, _table(WEAK), _table(WEAK), _table(WEAK)]
    none = _run(road, weeks, dataclasses.replace(RP, context_memory_looks=0))
    two = _run(road, weeks, dataclasses.replace(RP, context_memory_looks=2))
    assert [bool(r.loc["J3-0000", "evidence"]) for r in none] == [False, True, True, True]
    assert [bool(r.loc["J3-0000", "evidence"]) for r in two] == [False, False, True, True]
    assert [bool(r.loc["J3-0000", "damaged"]) for r in two] == [False, False, False, True]
    assert [int(r.loc["J3-0000", "wide"]) for r in two] == [0b1, 0b10, 0b100, 0b1000]
    assert int(two[0].loc["J3-0002", "wide"]) == 1  # the whole stretch was in the clearing


def test_shift_bits__missing_column_starts_empty_and_cloud_keeps_it():
    ids = np.array(["a", "b", "c"])
    old = pd.DataFrame({"segment_id": ["a", "b"], "wide": [0b101, 3]})
    out = road_state.shift_bits(ids, np.array([True, False, True]), np.array([True, True, False]), old, "wide")
    assert list(out) == [0b1011, 3, 0]
    assert list(road_state.shift_bits(ids, np.ones(3, bool), np.ones(3, bool), old.drop(columns="wide"),
                                      "wide")) == [1, 1, 1]


def test_support__only_along_the_same_road():
    lines = [LineString([(0, 0), (100, 0)]), LineString([(100, 0), (200, 0)]), LineString([(200, 0), (300, 0)]),
             LineString([(400, 0), (500, 0)])]
    segs = gpd.GeoDataFrame({"segment_id": ["A-0000", "A-0001", "B-0000", "B-0001"],
                             "road_id": ["A", "A", "B", "B"]}, geometry=lines, crs="EPSG:32748")
    prev, nxt = road_state.neighbours(segs)
    assert list(prev) == [-1, 0, -1, -1] and list(nxt) == [1, -1, -1, -1]  # B's parts do not touch
    old = pd.DataFrame({"segment_id": ["A-0000", "A-0001", "B-0000", "B-0001"], "damaged": [False, True, False, True]})
    assert list(road_state.neighbour_damaged(segs.segment_id.to_numpy(), (prev, nxt), old)) == [True, False, False,
                                                                                                False]


def test_support__multilinestring_parts_are_not_neighbours():
    ml = MultiLineString([[(0, 0), (150, 0)], [(300, 0), (380, 0)]])
    segs = roads.split_segments(gpd.GeoDataFrame({"road_id": ["M"]}, geometry=[ml], crs="EPSG:32748"), 100.0)
    assert list(segs.segment_id) == ["M-0000", "M-0001", "M-0002"]
    prev, nxt = road_state.neighbours(segs)
    assert list(prev) == [-1, 0, -1] and list(nxt) == [1, -1, -1]


def test_advance_state__decisive_needs_evidence_this_week():
    ids = np.array(["a", "b"])
    out = road_state.advance_state(ids, np.array([True, False]), np.array([False, False]), "2026-W20", RP,
                                   decisive=np.array([True, True]))
    assert not out["damaged"].any() and list(out["recent"]) == [0, 0]
