from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from odc.geo.xr import xr_zeros

from sarolangun_geo import aoi, grid
from sarolangun_geo.errors import AOIError, GridMismatchError


def test_regency_geobox__crs_resolution_snapping():
    g = grid.regency_geobox()
    assert g.crs.epsg == 32748
    assert g.resolution.x == 10 and g.resolution.y == -10
    assert g.affine.c % 10_000 == 0 and g.affine.f % 10_000 == 0
    assert g.shape == (11_000, 14_000)


def test_regency_geobox__covers_the_regency():
    reg = aoi.load_regency().to_crs(32748)
    minx, miny, maxx, maxy = reg.total_bounds
    b = grid.regency_geobox().boundingbox
    assert b.left <= minx and b.bottom <= miny and b.right >= maxx and b.top >= maxy


def test_tile_ids__stable_and_round_trip():
    ids = grid.tile_ids()
    assert len(ids) == 14 * 11
    assert ids[0] == "x00y00" and ids[-1] == "x13y10"
    for tid in ("x00y00", "x03y07", "x13y10"):
        assert grid.tile_id(*grid.parse_tile_id(tid)) == tid
    t = grid.tile_geobox("x03y07")
    assert t.shape == (1000, 1000)
    assert (t.affine.c, t.affine.f) == (170_000 + 3 * 10_000, 9_800_000 - 7 * 10_000)


@pytest.mark.parametrize("bad", ["x3y7", "03-07", "x14y00", "x00y11", ""])
def test_parse_tile_id__rejects_bad_ids(bad):
    with pytest.raises(AOIError):
        grid.parse_tile_id(bad)


def test_subgrid__pixel_aligned_and_covering():
    bbox = (102.3012, -2.4987, 102.3991, -2.4013)
    s = grid.subgrid(bbox)
    grid.check_grid(s)
    assert s.affine.c % 10 == 0 and s.affine.f % 10 == 0
    geom = grid.to_geometry(bbox)
    assert s.extent.contains(geom)
    # tight: shrinking by one pixel on any side would no longer cover
    assert s.shape[0] * 10 - (geom.boundingbox.top - geom.boundingbox.bottom) < 20


def test_subgrid__tile_snap_matches_tiles():
    s = grid.subgrid((102.3012, -2.4987, 102.3991, -2.4013), snap="tile")
    assert s.shape[0] % 1000 == 0 and s.shape[1] % 1000 == 0
    tiles = grid.tiles_for(s)
    assert len(tiles) == (s.shape[0] // 1000) * (s.shape[1] // 1000)
    pieces = list(grid.iter_tile_geoboxes(s))
    assert [t for t, _ in pieces] == tiles
    assert all(g == grid.tile_geobox(t) for t, g in pieces)


def test_subgrid__kecamatan_is_a_slice_of_the_regency():
    kec = aoi.load_kecamatan()
    ba = kec[kec["slug"] == "batang-asai"]
    s = grid.subgrid(ba)
    assert 0 < s.shape[0] < 11_000
    area_km2 = s.shape[0] * s.shape[1] / 1e4
    assert area_km2 > 994  # bbox covers the kecamatan
    tiles_geom = grid.tiles_for(ba.geometry.iloc[0] if False else ba)
    assert set(tiles_geom) <= set(grid.tiles_for(s))


def test_iter_tile_geoboxes__partial_tiles_cover_subgrid_exactly():
    s = grid.regency_geobox()[1500:2700, 950:1010]
    pieces = list(grid.iter_tile_geoboxes(s))
    assert [t for t, _ in pieces] == ["x00y01", "x01y01", "x00y02", "x01y02"]
    assert sum(g.shape[0] * g.shape[1] for _, g in pieces) == 1200 * 60


def test_subgrid__outside_regency_raises():
    with pytest.raises(AOIError, match="outside"):
        grid.subgrid((106.8, -6.3, 106.9, -6.2))  # Jakarta


def test_subgrid__inverted_bbox_raises():
    with pytest.raises(AOIError, match="inverted"):
        grid.subgrid((102.4, -2.4, 102.3, -2.5))


def test_check_grid__accepts_canonical_rejects_others(small_geobox):
    da = xr_zeros(small_geobox, dtype="float32")
    assert grid.check_grid(da) == small_geobox
    with pytest.raises(GridMismatchError, match="EPSG:32748"):
        grid.check_grid(small_geobox.to_crs("EPSG:32747"))
    shifted = small_geobox.translate_pix(0.5, 0)
    with pytest.raises(GridMismatchError, match="10 m grid"):
        grid.check_grid(shifted)
    with pytest.raises(GridMismatchError, match="resolution"):
        grid.check_grid(small_geobox.zoom_out(2))
    with pytest.raises(GridMismatchError, match="expected"):
        grid.check_grid(da, expected=grid.regency_geobox()[0:10, 0:10])
    with pytest.raises(GridMismatchError, match="geobox"):
        grid.check_grid(xr.DataArray(np.zeros((2, 2))))
