"""Tile by tile from the stores (``tile_readers`` + ``vectorize_tiles``) equals ``vectorize`` of the mosaic."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from sarolangun_geo import grid
from sarolangun_geo.pipeline.mosaic import mosaic, tile_readers
from sarolangun_geo.sites import vectorize, vectorize_tiles
from sarolangun_geo.sites.params import PolygonizeConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sites"))
from sites_synth import make_evidence


def _write_tiles(ds, root: Path, skip: tuple[str, ...] = ()) -> tuple[dict, list[str]]:
    """One zarr store per canonical tile of ``ds`` (as the pipeline writes them); ``skip`` tiles are not written."""
    gbox = ds.odc.geobox
    windows, done = {}, []
    for tid, tbox in grid.iter_tile_geoboxes(gbox):
        r0 = round((grid.GRID_Y0 - tbox.affine.f) / grid.RESOLUTION)
        c0 = round((tbox.affine.c - grid.GRID_X0) / grid.RESOLUTION)
        windows[tid] = (r0, c0, r0 + tbox.shape[0], c0 + tbox.shape[1])
        if tid in skip:
            continue
        y0 = round((gbox.affine.f - tbox.affine.f) / grid.RESOLUTION)
        x0 = round((tbox.affine.c - gbox.affine.c) / grid.RESOLUTION)
        tile = ds.isel(y=slice(y0, y0 + tbox.shape[0]), x=slice(x0, x0 + tbox.shape[1]))
        tile.to_zarr(root / f"{tid}.zarr", mode="w", consolidated=False)
        done.append(tid)
    return windows, done


def _evidence(seed: int):
    rng = np.random.default_rng(seed)
    conf = (rng.random((200, 200)) > 0.6).astype("uint8") * rng.integers(1, 5, (200, 200)).astype("uint8")
    conf[90:112, 95:104] = 3  # a site across the corner of four tiles
    ds = make_evidence(conf, water_rows=slice(120, 126))
    n_clear = rng.integers(0, 4, (200, 200)).astype("uint8")
    last_active = np.where(conf > 0, 20450 + rng.integers(0, 10, (200, 200)), -1).astype("int32")
    return ds.assign(n_clear=(("y", "x"), n_clear), last_active=(("y", "x"), last_active))


def _same(a, b) -> None:
    assert list(a.sites.columns) == list(b.sites.columns)
    pd.testing.assert_frame_equal(a.sites.drop(columns="geometry"), b.sites.drop(columns="geometry"))
    assert list(shapely.to_wkb(a.sites.geometry.values)) == list(shapely.to_wkb(b.sites.geometry.values))
    assert list(shapely.to_wkb(a.water.geometry.values)) == list(shapely.to_wkb(b.water.geometry.values))
    pd.testing.assert_frame_equal(a.footprint_stats, b.footprint_stats)


@pytest.mark.parametrize("skip", [(), ("x03y07",)])
def test_vectorize_tiles__equals_vectorize_of_the_mosaic_across_seams(tmp_path, skip):
    ds = _evidence(4)
    windows, done = _write_tiles(ds, tmp_path / "detection", skip)
    gbox = ds.odc.geobox
    cfg = PolygonizeConfig(mmu_ha=0.02)
    first = vectorize(ds, cfg)
    assert (first.sites["tiles"].str.count(",") >= 3).any()  # the corner site spans four tiles
    # footprints that straddle the seams and the missing tile (it counts as pixels with no look)
    fp = first.sites.iloc[:25].assign(site_id=[f"SRL-PETI-{i:06d}" for i in range(25)])
    whole = vectorize(mosaic(tmp_path, "detection", gbox, windows, done), cfg, footprints=fp, min_clear_frac=0.3)
    variables, tiles = tile_readers(tmp_path, "detection", gbox, done)
    assert {"confidence", "n_clear", "last_active", "permanent_water"} <= set(variables)
    by_tile = vectorize_tiles(tiles, variables, cfg, footprints=fp, min_clear_frac=0.3)
    assert len(by_tile.sites) > 10 and len(by_tile.water) > 0
    _same(whole, by_tile)


def test_vectorize_tiles__equals_vectorize_in_memory():
    ds = _evidence(7)
    gbox = ds.odc.geobox

    def reader(tbox):
        y0 = round((gbox.affine.f - tbox.affine.f) / grid.RESOLUTION)
        x0 = round((tbox.affine.c - gbox.affine.c) / grid.RESOLUTION)
        sub = ds.isel(y=slice(y0, y0 + tbox.shape[0]), x=slice(x0, x0 + tbox.shape[1]))
        return lambda names: {n: sub[n].values for n in names}

    tiles = [(tid, tbox, reader(tbox)) for tid, tbox in grid.iter_tile_geoboxes(gbox)]
    _same(vectorize(ds), vectorize_tiles(tiles, set(ds.data_vars)))


def test_tile_readers__shape_mismatch_is_an_error(tmp_path):
    ds = _evidence(1)
    _, done = _write_tiles(ds, tmp_path / "detection")
    bigger = grid.regency_geobox()[6900:7100, 2900:3101]  # one column more than the stores hold
    _, tiles = tile_readers(tmp_path, "detection", bigger, done)
    with pytest.raises(ValueError, match="do not match"):
        for _, _, read in tiles:
            read(["confidence"])


def test_tile_readers__needs_a_tile(tmp_path):
    with pytest.raises(ValueError, match="no tiles"):
        tile_readers(tmp_path, "detection", grid.regency_geobox()[0:10, 0:10], [])
