"""A small synthetic world for the change tests (imported by conftest and the tests): a river, forest, one PETI site and every confounder.

Typical humid-tropical Sentinel-2 L2A reflectances (blue, green, red, nir,
swir16, swir22) from the literature; layout on a 60 x 60 px canonical sub-grid.
Baseline: 2025-01..2025-12 every 10 days; monitoring: 2026-01-05 .. every 5 days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from odc.geo.xr import xr_zeros

from sarolangun_geo import grid
from sarolangun_geo.bands import SCL

BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
S = {
    "forest": (0.021, 0.045, 0.024, 0.300, 0.150, 0.063),
    "river": (0.048, 0.075, 0.068, 0.038, 0.014, 0.009),
    "tailings": (0.20, 0.24, 0.28, 0.32, 0.39, 0.32),
    "pond": (0.060, 0.105, 0.125, 0.075, 0.028, 0.018),
    "felled": (0.040, 0.060, 0.070, 0.200, 0.240, 0.170),
    "rice_green": (0.030, 0.070, 0.035, 0.400, 0.200, 0.090),
    "rice_flooded": (0.055, 0.070, 0.068, 0.090, 0.055, 0.035),
    "sand": (0.140, 0.170, 0.200, 0.250, 0.320, 0.265),
    "landslide": (0.085, 0.115, 0.160, 0.235, 0.315, 0.255),
    "roof": (0.110, 0.120, 0.130, 0.180, 0.210, 0.190),
    "cloud": (0.50, 0.50, 0.51, 0.55, 0.40, 0.28),
    "shadow": (0.008, 0.015, 0.009, 0.090, 0.045, 0.020),
    "asphalt": (0.075, 0.085, 0.095, 0.125, 0.160, 0.140),
    "mud": (0.055, 0.075, 0.095, 0.140, 0.160, 0.125),
    "puddle": (0.070, 0.100, 0.120, 0.090, 0.040, 0.030),
}
SIZE = 60
# regions (row slice, col slice)
R = {
    "river": (slice(0, 60), slice(0, 4)),
    "peti": (slice(10, 20), slice(10, 20)),
    "peti_ponds": [(slice(12, 14), slice(12, 15)), (slice(16, 18), slice(14, 18))],
    "clearing": (slice(30, 52), slice(30, 56)),
    "rice": (slice(40, 56), slice(6, 22)),
    "sandbar": (slice(40, 50), slice(0, 4)),
    "landslide": (slice(2, 8), slice(40, 50)),
    "village": (slice(22, 27), slice(40, 46)),
    "cloud": (slice(24, 30), slice(10, 16)),
    "shadow": (slice(24, 30), slice(20, 26)),
    "road": (slice(5, 6), slice(4, 60)),
    "road_damage": (slice(5, 6), slice(24, 34)),
}
MONITOR_START = pd.Timestamp("2026-01-05")


def _rice_flooded(t: pd.Timestamp) -> bool:
    return t.month in (12, 1)  # flooded for transplanting every Dec-Jan


def _frame(t: pd.Timestamp, monitoring_index: int | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    img = np.empty((len(BANDS), SIZE, SIZE), "float32")
    img[:] = np.array(S["forest"], "float32")[:, None, None]
    scl = np.full((SIZE, SIZE), SCL.VEGETATION, "uint8")

    def put(region, name, code=None):
        ys, xs = region
        img[:, ys, xs] = np.array(S[name], "float32")[:, None, None]
        if code is not None:
            scl[ys, xs] = code

    put(R["river"], "river", SCL.WATER)
    put(R["road"], "asphalt", SCL.NOT_VEGETATED)
    put(R["rice"], "rice_flooded" if _rice_flooded(t) else "rice_green")
    if t.month in (7, 8, 9) or (monitoring_index is not None and monitoring_index >= 2):
        put(R["sandbar"], "sand", SCL.NOT_VEGETATED)  # low water: a bar in the channel
    if monitoring_index is not None:
        k = monitoring_index
        put(R["peti"], "tailings", SCL.CLOUD_MEDIUM if k == 1 else SCL.NOT_VEGETATED)  # SCL calls it cloud once
        for reg in R["peti_ponds"]:
            put(reg, "pond", SCL.WATER)
        put(R["clearing"], "felled", SCL.NOT_VEGETATED)
        put(R["landslide"], "landslide", SCL.NOT_VEGETATED)
        put(R["village"], "roof", SCL.NOT_VEGETATED)
        put(R["road_damage"], "puddle", SCL.WATER)  # standing muddy water on the road
        if k == 0:  # a missed cloud and an unflagged shadow, once
            put(R["cloud"], "cloud", SCL.VEGETATION)
            put(R["shadow"], "shadow", SCL.VEGETATION)
    img = img + rng.normal(0, 0.004, img.shape).astype("float32")
    return img, scl


def make_world(n_monitor: int = 4, seed: int = 0) -> tuple[xr.Dataset, xr.Dataset]:
    """(baseline cube, monitoring cube), numpy-backed, on the canonical grid."""
    rng = np.random.default_rng(seed)
    gb = grid.regency_geobox()[4000:4000 + SIZE, 3000:3000 + SIZE]
    tmpl = xr_zeros(gb, dtype="float32")

    def cube(times, monitoring):
        frames = [_frame(t, i if monitoring else None, rng) for i, t in enumerate(times)]
        data = {b: (("time", "y", "x"), np.stack([f[0][j] for f in frames])) for j, b in enumerate(BANDS)}
        data["scl"] = (("time", "y", "x"), np.stack([f[1] for f in frames]))
        return xr.Dataset(data, coords={"time": times, "y": tmpl.y, "x": tmpl.x, "spatial_ref": tmpl.spatial_ref})

    base = cube(pd.date_range("2025-01-03", "2025-12-31", freq="10D"), False)
    mon = cube(pd.date_range(MONITOR_START, periods=n_monitor, freq="5D"), True)
    return base, mon




def region_mask(name: str) -> np.ndarray:
    m = np.zeros((SIZE, SIZE), bool)
    regs = R[name] if isinstance(R[name], list) else [R[name]]
    for ys, xs in regs:
        m[ys, xs] = True
    return m
