"""Attributes: admin units from the real boundaries, DMS, distances, legality, priority."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sites_synth import square

from sarolangun_geo.config import DATA_DIR
from sarolangun_geo.sites.attributes import attribute_sites, to_dms
from sarolangun_geo.sites.legality import classify_legality
from sarolangun_geo.sites.params import PriorityConfig, load_sites_config
from sarolangun_geo.sites.priority import priority_ranks, priority_scores

PERMITS = DATA_DIR / "sample_layers" / "permits_SAMPLE.geojson"


def _site_at(lon: float, lat: float, size: float = 100.0) -> gpd.GeoDataFrame:
    p = gpd.GeoSeries([shapely.Point(lon, lat)], crs="EPSG:4326").to_crs(32748).iloc[0]
    return gpd.GeoDataFrame({"area_ha": [size * size / 1e4]}, geometry=[square(p.x - size / 2, p.y - size / 2, size)],
                            crs="EPSG:32748")


def test_to_dms__formats_and_rounds():
    assert to_dms(-2.4037, "N", "S") == "2°24'13.3\"S"
    assert to_dms(102.5, "E", "W") == "102°30'00.0\"E"
    assert to_dms(-2.999999, "N", "S") == "3°00'00.0\"S"  # carry, no 60.0 seconds
    assert to_dms(float("nan"), "N", "S") == ""


def test_attribute_sites__real_kecamatan_and_desa():
    gdf = attribute_sites(_site_at(102.32, -2.45))
    row = gdf.iloc[0]
    assert row.kecamatan == "Batang Asai" and row.kode_kemendagri_kec == "15.03.01" and row.kode_bps_kec == "1503010"
    assert row.kode_desa.startswith("15.03.01.") and row.desa
    assert row.lat == pytest.approx(-2.45, abs=1e-4) and row.lon == pytest.approx(102.32, abs=1e-4)
    assert row.lat_dms.endswith("S") and row.lon_dms.startswith("102°")
    assert np.isnan(row.dist_water_m) and np.isnan(row.dist_road_m) and row.dist_settlement_m >= 0
    assert row.legality == "tidak_diketahui"


def test_attribute_sites__mandiangin_timur_has_no_bps_code():
    from sarolangun_geo import aoi
    kec = aoi.load_kecamatan()
    pt = kec[kec.nama == "Mandiangin Timur"].representative_point().iloc[0]
    row = attribute_sites(_site_at(pt.x, pt.y)).iloc[0]
    assert row.kecamatan == "Mandiangin Timur" and row.kode_bps_kec == ""


def test_attribute_sites__distances_to_water_and_roads():
    site = _site_at(102.32, -2.45)
    c = site.geometry.iloc[0].centroid
    water = gpd.GeoDataFrame(geometry=[shapely.box(c.x + 250, c.y - 500, c.x + 300, c.y + 500)], crs=32748)
    roads = gpd.GeoDataFrame(geometry=[shapely.LineString([(c.x - 1000, c.y + 450), (c.x + 1000, c.y + 450)])],
                             crs=32748).to_crs(4326)
    row = attribute_sites(site, water=water, roads=roads).iloc[0]
    assert row.dist_water_m == pytest.approx(200.0, abs=0.2)
    assert row.dist_road_m == pytest.approx(400.0, abs=0.5)


def test_attribute_sites__does_not_mutate_and_keeps_order():
    sites = pd.concat([_site_at(102.32, -2.45), _site_at(102.38, -2.40)], ignore_index=True)
    before = sites.copy()
    out = attribute_sites(sites)
    assert sites.equals(before) and list(out.index) == [0, 1] and "evidence" in out


def test_classify_legality__sample_permits_and_forest():
    inside = _site_at(102.32, -2.45)  # inside SAMPLE-IUP-001
    outside = _site_at(102.35, -2.47)
    sites = pd.concat([inside, outside], ignore_index=True)
    permits = gpd.read_file(PERMITS)
    assert permits["sample"].all() and permits["note"].str.contains("SAMPLE").all()
    res = classify_legality(sites, permits=permits)
    assert list(res.legality) == ["dalam_izin", "luar_izin"]
    assert res.legality_detail.iloc[0] == "SAMPLE-IUP-001"
    forest = gpd.GeoDataFrame({"fungsi": ["Hutan Lindung", "Hutan Produksi"]},
                              geometry=[outside.geometry.iloc[0].buffer(500), inside.geometry.iloc[0].buffer(500)],
                              crs=32748)
    res = classify_legality(sites, permits=permits, forest=forest)
    assert list(res.legality) == ["dalam_izin", "hutan_lindung"]
    assert list(classify_legality(sites).legality) == ["tidak_diketahui"] * 2
    assert list(classify_legality(sites, forest=forest).legality) == ["tidak_diketahui", "hutan_lindung"]


def test_priority__formula_components():
    cfg = PriorityConfig()
    df = pd.DataFrame({
        "site_id": ["a", "b", "c", "d", "e"],
        "area_ha": [5.0, 5.0, 5.0, 5.0, 5.0], "growth": [2.0, 2.0, 2.0, 2.0, 2.0],
        "dist_water_m": [0.0] * 5, "dist_settlement_m": [0.0] * 5,
        "legality": ["hutan_lindung", "luar_izin", "dalam_izin", "luar_izin", "luar_izin"],
        "recurrence": [1, 0, 0, 0, 0], "confidence": [4] * 5,
        "status": ["aktif_kembali", "aktif", "aktif", "tidak_aktif", "aktif"], "suppressed": [0, 0, 0, 0, 1]})
    p = priority_scores(df, cfg)
    assert p[0] == pytest.approx(95.0)  # everything but "outside permit"
    assert p[1] == pytest.approx(80.0)
    assert p[2] == pytest.approx(75.0 * cfg.permit_factor)
    assert p[3] == pytest.approx(80.0 * cfg.inactive_factor)
    assert p[4] == 0.0
    assert list(priority_ranks(p, df.site_id.values)) == [1, 2, 4, 3, 5]


def test_priority__weights_in_shipped_config_add_to_100():
    c = load_sites_config().priority
    total = c.w_growth + c.w_size + c.w_water + c.w_settlement + c.w_forest + c.w_recurrence + c.w_confidence
    assert total + c.w_outside_permit == pytest.approx(100.0)
