"""Vectorising the evidence: seams, MMU, grid snapping, statistics, numpy == dask."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from sites_synth import make_evidence

from sarolangun_geo import grid
from sarolangun_geo.errors import GridMismatchError, SitesInputError
from sarolangun_geo.sites.params import PolygonizeConfig
from sarolangun_geo.sites.polygonize import vectorize


def _conf(*boxes: tuple[int, int, int, int], value: int = 3) -> np.ndarray:
    conf = np.zeros((200, 200), "uint8")
    for r0, r1, c0, c1 in boxes:
        conf[r0:r1, c0:c1] = value
    return conf


@pytest.mark.parametrize("chunks", [None, 50])
def test_vectorize__site_across_four_tiles_is_one_polygon(chunks):
    # rows 90-110 x cols 95-105 straddle the row seam (100) and the column seam (100)
    ds = make_evidence(_conf((90, 110, 95, 105)), chunks=chunks)
    out = vectorize(ds, PolygonizeConfig(simplify_m=0))
    assert len(out.sites) == 1
    site = out.sites.iloc[0]
    assert site.tiles == "x02y06,x02y07,x03y06,x03y07"
    assert site.n_px == 200 and site.area_ha == pytest.approx(2.0)
    assert site.geometry.geom_type == "Polygon" and site.geometry.area == pytest.approx(20_000)
    assert site.d_ndvi == pytest.approx(-0.4) and site.d_bsi == pytest.approx(0.2)
    assert site.confidence == 3 and site.n_confirm == 3 and site.kinds == 3
    assert site.last_detected == "2026-01-07" and site.first_detected == "2025-12-24"


def test_vectorize__l_shape_across_seam_merges_and_keeps_hole_free_geometry():
    ds = make_evidence(_conf((80, 100, 90, 95), (95, 100, 90, 130)))  # vertical bar + horizontal bar crossing col 100
    out = vectorize(ds)
    assert len(out.sites) == 1 and out.sites.geometry.iloc[0].is_valid


def test_vectorize__diagonal_neighbours_across_seam_stay_apart():
    ds = make_evidence(_conf((88, 100, 88, 100), (100, 112, 100, 112)))  # touch only at the tile corner
    out = vectorize(ds)
    assert len(out.sites) == 2


def test_vectorize__minimum_mapping_unit():
    ds = make_evidence(_conf((10, 13, 10, 13), (30, 32, 30, 35), (50, 60, 50, 60)))  # 9 px, 10 px, 100 px
    areas = sorted(vectorize(ds).sites.area_ha)
    assert areas == [pytest.approx(0.1), pytest.approx(1.0)]
    assert len(vectorize(ds, PolygonizeConfig(mmu_ha=0.05)).sites) == 3
    assert len(vectorize(ds, PolygonizeConfig(mmu_ha=0.5)).sites) == 1


def test_vectorize__mmu_counts_the_whole_site_not_its_tile_parts():
    ds = make_evidence(_conf((50, 53, 98, 102)))  # 12 px: 6 px on each side of the column seam
    assert len(vectorize(ds).sites) == 1


def test_vectorize__threshold_from_config():
    conf = _conf((10, 20, 10, 20), value=1)
    conf[40:50, 40:50] = 4
    ds = make_evidence(conf)
    assert len(vectorize(ds).sites) == 1
    assert len(vectorize(ds, PolygonizeConfig(min_confidence=1)).sites) == 2


def test_vectorize__geometry_is_on_the_10m_grid_and_valid():
    rng = np.random.default_rng(3)
    conf = (rng.random((200, 200)) > 0.55).astype("uint8") * 3
    out = vectorize(make_evidence(conf), PolygonizeConfig(simplify_m=10.0))
    assert len(out.sites) > 0
    assert out.sites.geometry.is_valid.all()
    coords = shapely.get_coordinates(out.sites.geometry.values)
    assert np.allclose(np.round(coords / grid.RESOLUTION) * grid.RESOLUTION, coords)


def test_vectorize__water_polygons_and_footprint_stats():
    ds = make_evidence(_conf((10, 30, 10, 30)), water_rows=slice(150, 160), d_ndvi=-0.3)
    first = vectorize(ds)
    assert len(first.water) >= 1
    fp = first.sites.assign(site_id=["SRL-PETI-000001"])
    recovered = make_evidence(np.zeros((200, 200), "uint8"))
    stats = vectorize(recovered, footprints=fp).footprint_stats
    assert stats.loc["SRL-PETI-000001", "d_ndvi"] == pytest.approx(0.0)
    assert stats.loc["SRL-PETI-000001", "confidence"] == 0
    assert vectorize(ds, footprints=fp).footprint_stats.loc["SRL-PETI-000001", "d_ndvi"] == pytest.approx(-0.3)


def test_vectorize__footprint_clear_frac_from_n_clear():
    ds = make_evidence(_conf((10, 30, 10, 30)))
    fp = vectorize(ds).sites.assign(site_id=["SRL-PETI-000001"])
    assert "clear_frac" not in vectorize(ds, footprints=fp).footprint_stats  # no n_clear: no clear information
    n_clear = np.zeros((200, 200), "uint8")
    n_clear[10:20, 10:30] = 2  # the northern half of the 20 x 20 px footprint had clear looks
    stats = vectorize(ds.assign(n_clear=(("y", "x"), n_clear)), footprints=fp).footprint_stats
    assert stats.loc["SRL-PETI-000001", "clear_frac"] == pytest.approx(0.5)
    assert stats.loc["SRL-PETI-000001", "n_px"] == 400
    assert "clear_frac" in vectorize(ds.assign(n_clear=(("y", "x"), n_clear))).footprint_stats.columns


def test_vectorize__empty_evidence_gives_empty_frames():
    out = vectorize(make_evidence(np.zeros((200, 200), "uint8")))
    assert len(out.sites) == 0 and out.sites.crs.to_epsg() == 32748 and len(out.water) == 0


def test_vectorize__needs_confidence_and_the_grid():
    ds = make_evidence(_conf((1, 5, 1, 5)))
    with pytest.raises(SitesInputError, match="confidence"):
        vectorize(ds.drop_vars("confidence"))
    shifted = ds.assign_coords(x=ds.x + 3.0)
    with pytest.raises(GridMismatchError):
        vectorize(shifted)


def test_vectorize__does_not_mutate_input():
    ds = make_evidence(_conf((90, 110, 95, 105)))
    before = ds.copy(deep=True)
    vectorize(ds)
    assert ds.identical(before)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), chunk=st.sampled_from([37, 64, 100]))
def test_vectorize__dask_equals_numpy(seed, chunk):
    rng = np.random.default_rng(seed)
    conf = np.zeros((200, 200), "uint8")
    for _ in range(6):
        r, c, h, w = rng.integers(0, 190, 2).tolist() + rng.integers(2, 30, 2).tolist()
        conf[r:r + h, c:c + w] = rng.integers(1, 5)
    a = vectorize(make_evidence(conf))
    b = vectorize(make_evidence(conf, chunks=chunk))
    assert a.sites.drop(columns="geometry").equals(b.sites.drop(columns="geometry"))
    assert all(x.equals(y) for x, y in zip(a.sites.geometry, b.sites.geometry, strict=True))
