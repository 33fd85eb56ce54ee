"""Road tables on disk: per-tile pixel tables and the weekly segment state (pipeline.roadwork)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString

from sarolangun_geo.change import roads
from sarolangun_geo.change.params import load_road_params
from sarolangun_geo.pipeline import roadwork, snapshots

RP = load_road_params()


def _segments() -> gpd.GeoDataFrame:
    line = LineString([(200000, 9750000), (200300, 9750000)])
    return roads.split_segments(gpd.GeoDataFrame({"road_id": ["J1"]}, geometry=[line], crs="EPSG:32748"))


def _table(n: int = 6) -> pd.DataFrame:
    t = pd.DataFrame({c: np.zeros(n, np.float32) for c in roads.PIXEL_COLUMNS})
    t["segment"] = np.arange(n, dtype=np.int32) % 3 + 1
    t["scorable"], t["valid"], t["n_clear"] = True, True, np.uint16(1)
    t["darkening"] = np.linspace(0, 0.5, n, dtype=np.float32)
    return t


def test_tile_table__roundtrip_and_stale_key_is_ignored(tmp_path):
    segs = _segments()
    t = _table()
    t.attrs["segments_key"] = roadwork.segments_key(segs)
    roadwork.write_tile_table(tmp_path, "2026-W10", "x01y01", t)
    got = roadwork.read_tile_tables(tmp_path, "2026-W10", ["x01y01", "x02y01"], roadwork.segments_key(segs))
    assert list(got) == ["x01y01"]  # the other tile has no table
    pd.testing.assert_frame_equal(got["x01y01"], t[roads.PIXEL_COLUMNS])
    assert roadwork.read_tile_tables(tmp_path, "2026-W10", ["x01y01"], "another-layer") == {}


def test_segment_state__roundtrip_feeds_persistence(tmp_path):
    segs = _segments()
    first = roads.score_from_tiles(segs, [_table()], "2026-W10", RP)
    roadwork.write_segment_state(tmp_path, "2026-W10", first)
    prev = roadwork.read_segment_state(tmp_path, "2026-W10")
    assert list(prev.columns) == [c for c in first.columns if c != "geometry"]
    again = roads.score_from_tiles(segs, [_table()], "2026-W11", RP, previous=prev)
    direct = roads.score_from_tiles(segs, [_table()], "2026-W11", RP, previous=first)
    pd.testing.assert_frame_equal(pd.DataFrame(again.drop(columns="geometry")),
                                  pd.DataFrame(direct.drop(columns="geometry")))
    assert roadwork.read_segment_state(tmp_path, "2026-W09") is None


def test_prune__removes_old_road_tables(tmp_path):
    t = _table()
    for w in ("2026-W09", "2026-W10", "2026-W11"):
        roadwork.write_tile_table(tmp_path, w, "x01y01", t)
    snapshots.prune(tmp_path, keep_from="2026-W10")
    assert sorted(p.name for p in (tmp_path / roadwork.ROADS_DIR).iterdir()) == ["2026-W10", "2026-W11"]


def test_damaged_corridors__mask_of_last_weeks_damaged_segments(tmp_path):
    from odc.geo.xr import xr_zeros

    from sarolangun_geo import grid

    tmpl = xr_zeros(grid.tile_geobox("x04y08")[500:540, 500:580], dtype="float32")  # inside the regency
    y, x0, x1 = float(tmpl.y[20]), float(tmpl.x[0]) - 5, float(tmpl.x[-1]) + 5
    layer = tmp_path / "roads.geojson"
    gpd.GeoDataFrame({"road_id": ["J1"]}, geometry=[LineString([(x0, y), (x1, y)])], crs="EPSG:32748").to_crs(
        "EPSG:4326").to_file(layer)
    thresholds = tmp_path / "detection.toml"  # roads.toml next to it: the shipped defaults
    (tmp_path / "roads.toml").write_text("")
    assert roadwork.damaged_corridors(tmp_path, "2026-W10", layer, thresholds, tmpl) is None  # no table yet
    segs = roadwork.run_segments(layer, roadwork.road_params(thresholds))
    table = pd.DataFrame({"segment_id": segs.segment_id, "damaged": [i == 2 for i in range(len(segs))]})
    for c in roads.STATE_COLUMNS:
        table[c] = table.get(c, "")
    roadwork.write_segment_state(tmp_path, "2026-W10", table)
    m = roadwork.damaged_corridors(tmp_path, "2026-W10", layer, thresholds, tmpl)
    assert m.dtype == bool and m.shape == tmpl.shape
    assert m.values[20, 25] and not m.values[20, 5] and not m.values[5, 25]  # segment 2: x 200..300 m
