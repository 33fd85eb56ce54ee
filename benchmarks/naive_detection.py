"""The naive whole-array detection that ``perf.py`` compares the pipeline with.

Everything in memory at once: rasterio reads every band of every item of the AOI
(baseline and week acquisitions) into one float32 numpy array ``(time, band, y, x)`` on
the canonical 10 m grid (20 m bands read with nearest upsampling), then computes the
same indices as the pipeline (NDVI, BSI, MNDWI), an SCL clear mask, a per-pixel
baseline median over the baseline dates, and a simple evidence rule on the week's
acquisitions (NDVI drop and BSI rise against the baseline median, on clear pixels).
No tiling, no dask, no state on disk: the "first script anyone would write".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import from_bounds

BANDS = ("blue", "green", "red", "nir", "swir16", "swir22", "scl")
CLEAR_SCL = (4, 5, 6, 11)


def _items(catalog: Path) -> list[tuple[str, Path, dict]]:
    out = []
    for p in sorted(catalog.parent.rglob("*.json")):
        if p.name in ("catalog.json", "collection.json") or "truth" in p.parts:
            continue
        d = json.loads(p.read_text())
        if d.get("type") == "Feature":
            out.append((d["properties"]["datetime"][:10], p, d))
    return out


def _geobox(kecamatan: str | None, geojson: Path | None = None) -> Any:
    from sarolangun_geo import aoi, grid

    if geojson is not None:
        import geopandas as gpd

        return grid.subgrid(gpd.read_file(geojson).to_crs(4326).union_all())
    if kecamatan:
        return grid.subgrid(aoi.find_kecamatan(kecamatan).geometry)
    return grid.regency_geobox()


def run(catalog: Path, kecamatan: str | None, baseline_dates: list[str], week_dates: list[str],
        geojson: Path | None = None) -> dict[str, Any]:
    gbox = _geobox(kecamatan, geojson)
    ny, nx = gbox.shape
    x0, y1 = gbox.affine.c, gbox.affine.f
    bounds = (x0, y1 - ny * 10, x0 + nx * 10, y1)
    dates = sorted(set(baseline_dates) | set(week_dates))
    items = [it for it in _items(catalog) if it[0] in dates]
    # the whole thing, all at once
    cube = np.full((len(dates), len(BANDS), ny, nx), np.nan, dtype="float32")
    for day, path, item in items:
        ti = dates.index(day)
        for bi, band in enumerate(BANDS):
            asset = item["assets"][band]
            href = (path.parent / asset["href"]).resolve()
            rb = (asset.get("raster:bands") or [{}])[0]
            with rasterio.open(href) as src:
                if src.crs.to_epsg() != 32748:
                    continue  # the simulated catalogs here are all EPSG:32748
                win = from_bounds(*bounds, transform=src.transform)
                a = src.read(1, window=win, out_shape=(ny, nx), boundless=True, fill_value=0,
                             resampling=Resampling.nearest).astype("float32")
            valid = a != 0
            if band != "scl":
                a = a * rb.get("scale", 1e-4) + rb.get("offset", 0.0)
            dst = cube[ti, bi]
            fill = valid & np.isnan(dst)
            dst[fill] = a[fill]
    blue, green, red, nir, sw1, _sw2, scl = (cube[:, i] for i in range(len(BANDS)))
    clear = np.isin(np.nan_to_num(scl, nan=0).astype("uint8"), CLEAR_SCL)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (nir - red) / (nir + red)
        bsi = ((sw1 + red) - (nir + blue)) / ((sw1 + red) + (nir + blue))
        mndwi = (green - sw1) / (green + sw1)
    ndvi[~clear] = np.nan
    bsi[~clear] = np.nan
    mndwi[~clear] = np.nan
    bi_ = [dates.index(d) for d in baseline_dates if d in dates]
    wi_ = [dates.index(d) for d in week_dates if d in dates]
    ndvi_med = np.nanmedian(ndvi[bi_], axis=0)
    bsi_med = np.nanmedian(bsi[bi_], axis=0)
    mndwi_med = np.nanmedian(mndwi[bi_], axis=0)
    ev = np.zeros((ny, nx), dtype="uint8")
    for t in wi_:
        hit = (ndvi_med - ndvi[t] > 0.25) & (bsi[t] - bsi_med > 0.08) & clear[t]
        hit |= (mndwi[t] - mndwi_med > 0.3) & (ndvi_med > 0.5) & clear[t]
        ev += hit.astype("uint8")
    return {"shape_yx": [ny, nx], "n_dates": len(dates), "n_items": len(items),
            "cube_gb": round(cube.nbytes / 1e9, 3), "evidence_pixels": int((ev > 0).sum())}
