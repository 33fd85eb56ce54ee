"""Identity across weeks: overlap matching, merges (oldest id wins) and splits (largest keeps the id)."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sites_synth import square, week_polygons

from sarolangun_geo.sites.matching import match_sites
from sarolangun_geo.sites.registry import Registry

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
X, Y = 250_000.0, 9_750_000.0


def test_match_sites__rules():
    old = np.array([square(0, 0, 100), square(150, 0, 100), square(1000, 0, 100)], dtype=object)
    ids, first = ["S1", "S2", "S3"], ["2026-01-08", "2026-01-01", "2026-01-01"]
    new = np.array([square(0, 0, 250), square(1000, 0, 60), square(1050, 50, 50), square(5000, 0, 10)],
                   dtype=object)
    m = match_sites(ids, old, first, new, 0.3)
    assert m.site_ids == ["S2", "S3", None, None]  # merge keeps the oldest (S2); split: largest keeps S3
    assert m.parent_ids == [None, None, "S3", None]
    assert m.merged == {"S1": 0}


def test_match_sites__small_overlap_is_not_a_match():
    m = match_sites(["S1"], np.array([square(0, 0, 100)], dtype=object), ["2026-01-01"],
                    np.array([square(90, 0, 100)], dtype=object), 0.3)
    assert m.site_ids == [None]


def test_registry__merge_keeps_oldest_id_and_history(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    reg.upsert("2026-W01", week_polygons([(square(X, Y, 100), "2026-01-01")]), now=NOW)
    reg.upsert("2026-W02", week_polygons([(square(X, Y, 100), "2026-01-08"),
                                          (square(X + 150, Y, 100), "2026-01-08")]), now=NOW)
    reg.upsert("2026-W03", week_polygons([(square(X, Y, 250), "2026-01-15")]), now=NOW)
    cur = reg.sites()
    assert list(cur.site_id) == ["SRL-PETI-000001"]
    assert cur.iloc[0].merged_ids == "SRL-PETI-000002"
    retired = reg.sites(include_retired=True).set_index("site_id")
    assert retired.loc["SRL-PETI-000002", "merged_into"] == "SRL-PETI-000001"
    hist = reg.observations()
    assert set(hist[hist.week == "2026-W03"].event) == {"merge", "merged_into"}
    assert len(hist[hist.site_id == "SRL-PETI-000002"]) == 2  # its history is kept
    assert reg.runs().iloc[-1].n_merged == 1


def test_registry__split_gives_new_id_with_parent(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    reg.upsert("2026-W01", week_polygons([(square(X, Y, 300), "2026-01-01")]), now=NOW)
    reg.upsert("2026-W02", week_polygons([(square(X, Y, 200), "2026-01-08"),
                                          (square(X + 220, Y, 80), "2026-01-08")]), now=NOW)
    cur = reg.sites().set_index("site_id")
    assert list(cur.index) == ["SRL-PETI-000001", "SRL-PETI-000002"]
    assert cur.loc["SRL-PETI-000001", "area_ha"] == 4.0
    child = cur.loc["SRL-PETI-000002"]
    assert child.parent_id == "SRL-PETI-000001" and child.first_seen == "2026-01-01"
    assert reg.runs().iloc[-1].n_split == 1


def test_registry__ids_are_never_reused(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    reg.upsert("2026-W01", week_polygons([(square(X, Y, 100), "2026-01-01"),
                                          (square(X + 150, Y, 100), "2026-01-01")]), now=NOW)
    reg.upsert("2026-W02", week_polygons([(square(X, Y, 250), "2026-01-08")]), now=NOW)  # 2 merged into 1
    reg.upsert("2026-W03", week_polygons([(square(X, Y, 250), "2026-01-15"),
                                          (square(X + 5000, Y, 100), "2026-01-15")]), now=NOW)
    assert list(reg.sites().site_id) == ["SRL-PETI-000001", "SRL-PETI-000003"]
