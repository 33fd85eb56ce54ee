"""Scenarios, the acquisition plan and the item plan."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from sarolangun_geo import bands, grid, simulate
from sarolangun_geo.errors import ConfigError
from sarolangun_geo.simulate.config import sun_position


def test_scenario__names_and_overrides():
    for name in ("demo", "test", "hard", "regency"):
        cfg = simulate.scenario(name)
        assert cfg.name == name
    cfg = simulate.scenario("demo", seed=3, start="2025-07-01")
    assert (cfg.seed, cfg.start, cfg.tiles) == (3, "2025-07-01", ("x04y08",))
    cfg = simulate.scenario("demo", kecamatan="limun")
    assert cfg.tiles is None and cfg.kecamatan == "limun"


def test_scenario__unknown_name_or_field_raises():
    with pytest.raises(ConfigError, match="unknown scenario"):
        simulate.scenario("nope")
    with pytest.raises(ConfigError, match="unknown SimConfig field"):
        simulate.scenario("test", clouds=3)
    with pytest.raises(ConfigError, match="multiple of 5"):
        simulate.scenario("test", revisit_days=7)


def test_demo__is_one_canonical_tile_in_limun_or_batang_asai():
    from sarolangun_geo import aoi

    cfg = simulate.scenario("demo")
    gbox = simulate.sim_geobox(cfg)
    grid.check_grid(gbox)
    assert gbox.shape == (1000, 1000)
    ext = gbox.extent.to_crs("EPSG:4326").geom
    kec = aoi.find_kecamatan("limun").geometry.union(aoi.find_kecamatan("batang-asai").geometry)
    assert ext.intersection(kec).area / ext.area > 0.95
    acqs = simulate.acquisitions(cfg)
    assert acqs[-1].date <= dt.date(2026, 11, 22) and (acqs[-1].date - acqs[0].date).days > 500
    assert {a.platform for a in acqs} == {"sentinel-2b", "sentinel-2c"}
    assert all((b.date - a.date).days == 5 for a, b in itertools.pairwise(acqs))


def test_acquisitions__baseline_and_sun():
    acqs = simulate.acquisitions(simulate.scenario("test"))
    assert {a.processing_baseline for a in acqs} == {"03.01", "04.00"}
    for a in acqs:
        assert (a.processing_baseline >= "04.00") == (a.date >= bands.OFFSET_CHANGE_DATE)
        assert 10 < a.sun_zenith < 45
    _, az_jun = sun_position(dt.datetime(2025, 6, 21, 3, 38))
    _, az_dec = sun_position(dt.datetime(2025, 12, 21, 3, 38))
    assert 20 < az_jun < 70 and 100 < az_dec < 160  # NE in June, SE in December


def test_plan_items__mgrs_tiles_of_the_regency():
    cfg = simulate.scenario("regency", end="2026-10-30")
    gbox = simulate.sim_geobox(cfg)
    tiles = simulate.sim_tiles(cfg)
    assert gbox == grid.regency_geobox() and 80 < len(tiles) <= 154
    plans = simulate.plan_items(cfg, gbox, tiles, simulate.acquisitions(cfg))
    names = {p.tile.name for p in plans}
    assert {"48MSC", "48MTC", "48MUC"} <= names
    assert all(p.tile.zone == 48 for p in plans)
    cfg47 = simulate.scenario("regency", end="2026-10-30", zone47_west=True)
    plans47 = simulate.plan_items(cfg47, gbox, tiles, simulate.acquisitions(cfg47))
    west = [p for p in plans47 if p.tile.zone == 47]
    assert west and all(p.tile.name.startswith("47MR") and p.tile.epsg == 32747 for p in west)
