"""Synthetic inputs of the sites tests: §3 evidence on a small sub-grid and weekly site polygons."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
import xarray as xr
from odc.geo.xr import xr_coords

from sarolangun_geo import grid

# A 200 x 200 px window in Batang Asai (around 102.30 E, 2.44 S) centred on the corner of four canonical tiles.
SEAM_WINDOW = (slice(6900, 7100), slice(2900, 3100))


def make_evidence(conf: np.ndarray, *, d_ndvi: float = -0.4, last_day: int = 20460, water_rows=None,
                  geobox=None, chunks: int | None = None) -> xr.Dataset:
    """A docs §3 evidence Dataset with the given ``confidence`` array (numpy, or dask with ``chunks``)."""
    gbox = geobox if geobox is not None else grid.regency_geobox()[SEAM_WINDOW]
    hit = conf > 0
    pw = np.zeros(conf.shape, dtype=bool)
    if water_rows is not None:
        pw[water_rows, :] = True
    data = {
        "confidence": conf.astype("uint8"),
        "score": np.where(hit, 0.8, 0.0).astype("float32"),
        "n_confirm": np.where(hit, 3, 0).astype("uint8"),
        "first_detected": np.where(hit, last_day - 14, -1).astype("int32"),
        "last_detected": np.where(hit, last_day, -1).astype("int32"),
        "kinds": np.where(hit, 1 | 2, 0).astype("uint8"),
        "d_ndvi": np.where(hit, d_ndvi, 0.0).astype("float32"),
        "d_bsi": np.where(hit, 0.2, 0.0).astype("float32"),
        "d_mndwi": np.zeros(conf.shape, "float32"),
        "d_ndti": np.where(hit, 0.1, 0.0).astype("float32"),
        "permanent_water": pw,
    }
    ds = xr.Dataset({k: (("y", "x"), v) for k, v in data.items()}, coords=xr_coords(gbox))
    return ds.chunk({"y": chunks, "x": chunks}) if chunks else ds


def square(x: float, y: float, size: float) -> shapely.Polygon:
    """A square with lower-left (x, y) in EPSG:32748 metres."""
    return shapely.box(x, y, x + size, y + size)


def week_polygons(specs: list[tuple[shapely.Geometry, str]], **cols) -> gpd.GeoDataFrame:
    """A minimal week input for ``Registry.upsert``: (geometry, last_detected ISO date) pairs."""
    geoms = [g for g, _ in specs]
    data = {"area_ha": [g.area / 1e4 for g in geoms], "last_detected": [d for _, d in specs],
            "confidence": [3] * len(specs), "d_ndvi": [-0.4] * len(specs), "dist_water_m": [200.0] * len(specs),
            "legality": ["luar_izin"] * len(specs)}
    data.update(cols)
    return gpd.GeoDataFrame(data, geometry=geoms, crs=f"EPSG:{grid.CRS_EPSG}")
