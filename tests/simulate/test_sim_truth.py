"""The truth is visible in the pixels, and the SCL behaves like Sen2Cor's."""

from __future__ import annotations

import datetime as dt

import numpy as np
from odc.geo.geom import Geometry
from rasterio import features
from shapely.geometry import shape

from sarolangun_geo.bands import SCL

CLEAR = (SCL.VEGETATION, SCL.NOT_VEGETATED, SCL.WATER)


def _mask(feat: dict, gbox) -> np.ndarray:  # type: ignore[no-untyped-def]
    g = Geometry(shape(feat["geometry"]), "EPSG:4326").to_crs(gbox.crs)
    return features.rasterize([g.geom], gbox.shape, transform=gbox.affine, fill=0, default_value=1,
                              dtype="uint8") == 1


def _clear_median(cube, index: np.ndarray, mask: np.ndarray, t: int, min_frac: float = 0.5,
                  q: float = 50) -> float:
    ok = mask & np.isin(cube["scl"][t], CLEAR)
    if ok.sum() < min_frac * mask.sum() or ok.sum() < 4:
        return np.nan
    return float(np.percentile(index[t][ok], q))


def cube_dates(sim_dir) -> list:  # type: ignore[no-untyped-def]
    return sorted((sim_dir / "sentinel-2-l2a").glob("*/*.json"))


def _ndvi(c):  # type: ignore[no-untyped-def]
    return (c["refl"]["nir"] - c["refl"]["red"]) / (c["refl"]["nir"] + c["refl"]["red"])


def _mndwi(c):  # type: ignore[no-untyped-def]
    return (c["refl"]["green"] - c["refl"]["swir16"]) / (c["refl"]["green"] + c["refl"]["swir16"])


def test_truth__files_follow_the_contract(sim_dir, truth):
    import json

    kinds = {f["properties"]["kind"] for f in truth}
    assert {"peti", "road_damage", "sandbar", "rice_flooding"} <= kinds
    assert kinds <= {"peti", "road_damage", "plantation_clearing", "rice_flooding", "sandbar", "landslide",
                     "village_growth"}
    for f in truth:
        p = f["properties"]
        assert p["is_target"] == (p["kind"] in ("peti", "road_damage"))
        assert isinstance(p["event_id"], str) and p["area_ha"] >= 0 and isinstance(p["seasonal"], bool)
        dt.date.fromisoformat(p["start"])
        assert all({"date", "area_ha"} <= set(g) for g in p["growth"])
        if p["kind"] == "road_damage":
            assert p["road_id"]
        lon, lat = shape(f["geometry"]).centroid.coords[0]
        assert 102 < lon < 103.5 and -3 < lat < -1.9
    for name in ("rivers", "roads", "permits_sample"):
        fc = json.loads((sim_dir / "truth" / f"{name}.geojson").read_text())
        assert fc["features"]
    permits = json.loads((sim_dir / "truth" / "permits_sample.geojson").read_text())
    assert permits["sample"] is True and all(f["properties"]["sample"] for f in permits["features"])
    sc = json.loads((sim_dir / "truth" / "scenario.json").read_text())
    assert sc["config"]["name"] == "test" and len(sc["dates"]) == len(cube_dates(sim_dir))


def test_truth__ndvi_falls_inside_a_peti_site_after_it_starts(cube, truth):
    ndvi = _ndvi(cube)
    dates = cube["dates"]
    seen = 0
    for f in (f for f in truth if f["properties"]["kind"] == "peti"):
        p = f["properties"]
        start = dt.date.fromisoformat(p["start"])
        full = [dt.date.fromisoformat(g["date"]) for g in p["growth"] if g["area_ha"] >= 0.8 * p["area_ha"]]
        m = _mask(f, cube["gbox"])
        pre = [_clear_median(cube, ndvi, m, t) for t, d in enumerate(dates) if d < start]
        post = [_clear_median(cube, ndvi, m, t) for t, d in enumerate(dates) if full and d >= full[0]]
        pre, post = [v for v in pre if v == v], [v for v in post if v == v]
        if pre and post:
            seen += 1
            assert np.median(pre) > 0.6, "before mining the site is vegetated"
            assert np.median(post) < np.median(pre) - 0.35
    assert seen >= 1


def test_truth__rice_floods_in_its_season(cube, truth):
    mndwi = _mndwi(cube)
    ok = 0
    for f in (f for f in truth if f["properties"]["kind"] == "rice_flooding"):
        growth = {g["date"]: g["area_ha"] for g in f["properties"]["growth"]}
        area, flooded, dry = 0.0, [], []
        m = _mask(f, cube["gbox"])
        for t, d in enumerate(cube["dates"]):
            area = growth.get(d.isoformat(), area)
            v = _clear_median(cube, mndwi, m, t)
            if v == v:
                (flooded if area > 0.5 * f["properties"]["area_ha"] else dry).append(v)
                if area > 0.5 * f["properties"]["area_ha"]:
                    assert d.month in (10, 11, 12, 1, 4, 5), "flooding happens in the planting seasons"
        if flooded and dry:
            ok += 1
            assert np.median(flooded) > np.median(dry) + 0.3
    assert ok >= 1


def test_truth__sandbars_appear_in_the_dry_season(cube, truth):
    red = cube["refl"]["red"]
    bars = [f for f in truth if f["properties"]["kind"] == "sandbar"]
    assert bars
    dry_area, wet_area, checked = [], [], 0
    for f in bars:
        growth = f["properties"]["growth"]
        m = _mask(f, cube["gbox"])
        area = 0.0
        by = {g["date"]: g["area_ha"] for g in growth}
        wet, dry = [], []
        for t, d in enumerate(cube["dates"]):
            area = by.get(d.isoformat(), area)
            (dry_area if d.month in (6, 7, 8, 9) else wet_area if d.month in (11, 12, 1, 2) else []).append(area)
            v = _clear_median(cube, red, m, t, 0.5, q=85)  # the exposed part of the bar
            if v == v:
                (dry if area > 0.6 * f["properties"]["area_ha"] else wet if area == 0 else []).append(v)
        if wet and dry:
            checked += 1
            assert np.median(dry) > np.median(wet) + 0.03, "exposed sand is brighter than the water"
    assert np.mean(dry_area) > 0.02 and np.mean(dry_area) > 4 * np.mean(wet_area)
    assert checked >= 1


def test_scl__cloud_pixels_are_bright_in_blue_and_vegetation_is_dark(cube):
    blue, scl = cube["refl"]["blue"], cube["scl"]
    cloud = np.isin(scl, (SCL.CLOUD_MEDIUM, SCL.CLOUD_HIGH))
    assert cloud.any() and (scl == SCL.VEGETATION).any()
    assert np.median(blue[scl == SCL.CLOUD_HIGH]) > 0.2
    assert np.median(blue[scl == SCL.VEGETATION]) < 0.06
    # and it is wrong the real way: some of the cloud edges are left in the 'clear' classes
    assert np.isin(scl, (SCL.UNCLASSIFIED, SCL.THIN_CIRRUS, SCL.CLOUD_SHADOW)).any()


def test_scl__turbid_river_is_water_or_not_vegetated(cube, sim_dir):
    import json

    rivers = json.loads((sim_dir / "truth" / "rivers.geojson").read_text())["features"]
    main = next(f for f in rivers if f["properties"]["main"])
    g = Geometry(shape(main["geometry"]), "EPSG:4326").to_crs(cube["gbox"].crs)
    core = g.geom.buffer(main["properties"]["width_m"] / 2 - 12)
    m = features.rasterize([core], cube["gbox"].shape, transform=cube["gbox"].affine, fill=0,
                           default_value=1, dtype="uint8") == 1
    scl = cube["scl"][:, m]
    clear = np.isin(scl, CLEAR)
    assert clear.any()
    frac = np.isin(scl[clear], (SCL.WATER, SCL.NOT_VEGETATED)).mean()
    assert frac > 0.8
