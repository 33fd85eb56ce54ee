"""The weekly flow of the sites layer, from a §3 evidence Dataset to the registry."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pytest
from sites_synth import make_evidence

from sarolangun_geo.config import DATA_DIR
from sarolangun_geo.sites import Registry, RunInfo, attribute_sites, vectorize

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _week(reg: Registry, week: str, conf: np.ndarray, last_day: int, d_ndvi: float = -0.4, chunks=None):
    ev = make_evidence(conf, last_day=last_day, d_ndvi=d_ndvi, water_rows=slice(170, 175), chunks=chunks)
    vec = vectorize(ev, reg.config.polygonize, footprints=reg.sites())
    permits = gpd.read_file(DATA_DIR / "sample_layers" / "permits_SAMPLE.geojson")
    gdf = attribute_sites(vec.sites, water=vec.water, permits=permits, config=reg.config.polygonize)
    return reg.upsert(week, gdf, footprint_stats=vec.footprint_stats, run=RunInfo(sources=("simulated",)), now=NOW)


@pytest.mark.parametrize("chunks", [None, 100])
def test_flow__evidence_to_registry_over_weeks(tmp_path, chunks):
    reg = Registry(tmp_path / "r.gpkg")
    conf = np.zeros((200, 200), "uint8")
    conf[90:110, 95:105] = 3  # across the tile corner
    conf[20:25, 20:24] = 4  # 20 px = 0.2 ha
    assert _week(reg, "2026-W02", conf, 20460, chunks=chunks)["n_new"] == 2
    conf[85:115, 90:110] = 3  # grows to 600 px
    _week(reg, "2026-W03", conf, 20467, chunks=chunks)
    sites = reg.sites().set_index("site_id")
    big = sites.loc["SRL-PETI-000002"]  # ids go north to south: the small northern site is 000001
    assert big.status == "meluas" and big.area_ha == pytest.approx(6.0) and big.prev_area_ha == pytest.approx(2.0)
    assert big.kecamatan == "Batang Asai" and big.legality == "luar_izin"
    assert big.dist_water_m == pytest.approx(550.0) and "dNDVI -0.40" in big.evidence
    assert big.obs_dates == "2025-12-24,2025-12-31,2026-01-07,2026-01-14"
    assert sites.loc["SRL-PETI-000001", "status"] == "aktif"
    # mining stops and the land greens up: undetected, footprint d_ndvi back to ~0 -> rehabilitasi
    _week(reg, "2026-W04", np.zeros((200, 200), "uint8"), 20474, d_ndvi=0.0, chunks=chunks)
    assert set(reg.sites().status) == {"rehabilitasi"}
