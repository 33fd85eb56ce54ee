"""Synthetic inputs of the publish layer: sites, road segments, cube, composite, evidence.

Everything is seeded and built in memory to the contracts of docs/architecture.md
(§2 cube, §3 road segments and evidence, §4 sites); the real registry is not needed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
from odc.geo.xr import xr_coords

from sarolangun_geo import aoi, grid
from sarolangun_geo.publish.schema import STATUSES

WEEK = "2026-W47"
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_NOTE = "=cmd|' /C calc'!A0"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# A 6 x 6 km window in Limun where the cluster of chip-able sites lives.
CUBE_WINDOW = (7800, 8400, 5100, 5700)  # row0, row1, col0, col1 of the regency grid


def _dms(v: float, pos: str, neg: str) -> str:
    h = pos if v >= 0 else neg
    v = abs(v)
    d = int(v)
    m = int((v - d) * 60)
    s = (v - d - m / 60) * 3600
    return f"{d}°{m:02d}'{s:04.1f}\"{h}"


def make_sites(n: int = 40, seed: int = 0, cluster: int = 8, jitter_m: float = 50.0) -> gpd.GeoDataFrame:
    """``n`` sites (docs §4) spread over the desa, the first ``cluster`` inside the cube window."""
    rng = np.random.default_rng(seed)
    desa = aoi.load_desa().to_crs(32748)
    kec = aoi.load_kecamatan().set_index("kode_kemendagri")
    gb = grid.regency_geobox()[CUBE_WINDOW[0]:CUBE_WINDOW[1], CUBE_WINDOW[2]:CUBE_WINDOW[3]]
    x0, y1 = gb.affine @ (0, 0)
    rows = []
    for i in range(n):
        if i == 0 and cluster:  # on the growing pit of the synthetic cube
            cx, cy = x0 + 2000 + 5, y1 - 2000 - 5
        elif i < cluster:
            cx = x0 + 800 + rng.uniform(0, 4400)
            cy = y1 - 800 - rng.uniform(0, 4400)
        else:
            d = desa.iloc[int(rng.integers(len(desa)))]
            p = d.geometry.representative_point()
            cx, cy = p.x + rng.uniform(-jitter_m, jitter_m), p.y + rng.uniform(-jitter_m, jitter_m)
        w, h = rng.uniform(60, 400), rng.uniform(60, 300)
        geom = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        rows.append({"geometry": geom, "px": cx, "py": cy})
    g = gpd.GeoDataFrame(rows, crs=32748)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(g["px"], g["py"]), crs=32748)
    hit = gpd.sjoin(pts, desa[["kode_kemendagri", "nama", "kode_kec", "geometry"]], how="left",
                    predicate="within")
    hit = hit[~hit.index.duplicated()]
    ll = pts.to_crs(4326)
    first = [dt.date(2026, 6, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 150, n)]
    statuses = [STATUSES[i % len(STATUSES)] for i in range(n)]
    prio = np.round(rng.uniform(0, 100, n), 1)
    kode_kec = hit["kode_kec"].fillna("15.03.01").tolist()
    out = gpd.GeoDataFrame({
        "site_id": [f"SRL-PETI-{i + 1:06d}" for i in range(n)],
        "status": statuses,
        "confidence": rng.integers(1, 5, n),
        "area_ha": np.round(g.geometry.area / 1e4, 3),
        "first_seen": [d.isoformat() for d in first],
        "last_seen": [(d + dt.timedelta(days=int(rng.integers(0, 60)))).isoformat() for d in first],
        "kecamatan": [kec.loc[k, "nama"] for k in kode_kec],
        "kode_kemendagri_kec": kode_kec,
        "kode_bps_kec": [kec.loc[k, "kode_bps"] if isinstance(kec.loc[k, "kode_bps"], str) else None
                         for k in kode_kec],
        "desa": hit["nama"].fillna("Tidak diketahui").tolist(),
        "kode_desa": hit["kode_kemendagri"].fillna("").tolist(),
        "lat": ll.geometry.y.round(6), "lon": ll.geometry.x.round(6),
        "lat_dms": [_dms(v, "N", "S") for v in ll.geometry.y],
        "lon_dms": [_dms(v, "E", "W") for v in ll.geometry.x],
        "dist_water_m": rng.uniform(0, 2000, n).round(0),
        "dist_road_m": rng.uniform(0, 5000, n).round(0),
        "legality": rng.choice(["dalam_izin", "luar_izin", "hutan_lindung", "tidak_diketahui"], n),
        "priority": prio,
        "priority_rank": pd.Series(-prio).rank(method="first").astype(int).to_numpy(),
        "n_confirm": rng.integers(1, 9, n),
        "obs_dates": [f"{d.isoformat()},{(d + dt.timedelta(days=5)).isoformat()}" for d in first],
        "evidence": "vegetation loss, bare soil",
        "d_ndvi": rng.uniform(-0.6, 0, n).round(4), "d_bsi": rng.uniform(0, 0.4, n).round(4),
        "d_mndwi": rng.uniform(-0.1, 0.4, n).round(4), "d_ndti": rng.uniform(0, 0.3, n).round(4),
        "verification": "",
        "suppressed": False,
    }, geometry=g.geometry.values, crs=32748)
    if cluster:
        out.loc[0, ["first_seen", "last_seen", "status"]] = ["2026-07-10", "2026-11-15", "meluas"]
    return out


@pytest.fixture(scope="session")
def sites() -> gpd.GeoDataFrame:
    s = make_sites()
    s.loc[0, "desa"] = HOSTILE_NAME
    s.loc[1, "verification"] = HOSTILE_NOTE
    s.loc[2, "evidence"] = HOSTILE_NOTE
    return s


@pytest.fixture(scope="session")
def road_segments() -> gpd.GeoDataFrame:
    """Scored segments of two synthetic roads crossing the cube window (docs §3)."""
    gb = grid.regency_geobox()[CUBE_WINDOW[0]:CUBE_WINDOW[1], CUBE_WINDOW[2]:CUBE_WINDOW[3]]
    x0, y1 = gb.affine @ (0, 0)
    rng = np.random.default_rng(1)
    rows = []
    for r, (a, b) in enumerate([((x0 - 3000, y1 - 1000), (x0 + 9000, y1 - 5000)),
                                ((x0 + 2500, y1 + 4000), (x0 + 3000, y1 - 9000))]):
        line = shapely.LineString([a, b])
        n = int(line.length // 500)
        for k in range(n):
            seg = shapely.ops.substring(line, k * 500, (k + 1) * 500)
            score = float(rng.uniform(0, 1))
            rows.append({"segment_id": f"R{r:03d}-{k:04d}", "road_id": f"R{r:03d}", "geometry": seg,
                         "week": WEEK, "score": score, "confidence": int(score * 4.99),
                         "damaged": score > 0.6, "water": rng.uniform(), "bare": rng.uniform(),
                         "veg_loss": rng.uniform(), "surface_change": rng.uniform(), "n_clear": 3})
    return gpd.GeoDataFrame(rows, crs=32748)


@pytest.fixture(scope="session")
def cube() -> xr.Dataset:
    """Eight acquisitions on the cube window (docs §2), with clouds on some."""
    gb = grid.regency_geobox()[CUBE_WINDOW[0]:CUBE_WINDOW[1], CUBE_WINDOW[2]:CUBE_WINDOW[3]]
    rng = np.random.default_rng(2)
    times = pd.to_datetime([f"2026-{m:02d}-15" for m in range(4, 12)])
    ny, nx = gb.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    base = {"blue": 0.03, "green": 0.06, "red": 0.04, "nir": 0.30, "swir16": 0.15, "swir22": 0.07}
    data = {}
    for b, v in base.items():
        arr = v + 0.01 * np.sin(xx / 17.0) * np.cos(yy / 23.0) + rng.normal(0, 0.004, (len(times), ny, nx))
        # a mine pit grows in the middle from July on
        for t, ts in enumerate(times):
            if ts.month >= 7:
                r = 20 + 4 * (ts.month - 7)
                pit = (yy - ny // 3) ** 2 + (xx - nx // 3) ** 2 < r**2
                arr[t][pit] = {"blue": 0.12, "green": 0.14, "red": 0.18, "nir": 0.2, "swir16": 0.3,
                               "swir22": 0.28}[b]
        data[b] = (("time", "y", "x"), arr.astype("float32"))
    scl = np.full((len(times), ny, nx), 4, dtype="uint8")
    scl[1, :, : nx // 2] = 9  # cloudy half scene
    scl[5] = 8  # fully cloudy
    data["scl"] = (("time", "y", "x"), scl)
    coords = {"time": times, **xr_coords(gb)}
    return xr.Dataset(data, coords=coords)


@pytest.fixture(scope="session")
def composite(cube) -> xr.Dataset:
    """The week's composite: the latest clear scene's red/green/blue (y, x)."""
    return cube[["red", "green", "blue"]].isel(time=-1)


@pytest.fixture(scope="session")
def evidence(cube) -> xr.Dataset:
    """docs §3 evidence on the cube window (only confidence and score are published)."""
    score = (cube["swir22"].isel(time=-1) > 0.2).astype("float32") * 0.9
    return xr.Dataset({"score": score, "confidence": (score * 4).astype("uint8")})


@pytest.fixture(scope="session")
def history(sites) -> pd.DataFrame:
    """Site snapshots of the six weeks before WEEK (tidy: week, site_id, status, area_ha, kecamatan)."""
    rows = []
    for w in range(41, 47):
        k = int(len(sites) * (w - 35) / 12)
        for r in sites.iloc[:k].itertuples():
            st = "baru" if (w - 41) * 6 <= r.Index < (w - 40) * 6 else r.status
            rows.append({"week": f"2026-W{w}", "site_id": r.site_id, "status": st,
                         "area_ha": r.area_ha * (0.5 + 0.08 * (w - 41)), "kecamatan": r.kecamatan})
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


PROVENANCE = {"config_hash": "c0ffee0123456789", "items": ["S2A_MSIL2A_20261115_T48MUA", "S2B_MSIL2A_20261110_T48MUA"]}


@pytest.fixture(scope="session")
def published(tmp_path_factory, sites, road_segments, composite, evidence, history, cube):
    """One full publish_week run (the tree under ``out/2026-W47``)."""
    from sarolangun_geo.publish import publish_week

    out = tmp_path_factory.mktemp("out")
    result = publish_week(out, WEEK, sites, road_segments, composite, evidence, history, PROVENANCE, cube=cube)
    return out, result
