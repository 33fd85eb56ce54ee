"""Terrain: a fractal DEM carved by river valleys, slope/aspect, shading and cast shadow.

Sarolangun rises from ~25 m on the Batang Tembesi plain in the east to the Bukit
Barisan foothills (several hundred metres, locally > 1 000 m) in the west.  The DEM is
``floor(x) + relief(x) * ridges * valley`` where ``floor`` and ``relief`` grow westward,
``ridges`` is fBm and ``valley`` flattens the ground near rivers (floodplains).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from .noise import fractal, key_of

__all__ = ["cast_shadow", "dem", "illumination", "slope_aspect", "valley_factor"]


def valley_factor(d_main: np.ndarray, d_trib: np.ndarray) -> np.ndarray:
    """0 on floodplains, 1 on the hills (smoothstep of distance to main rivers/tributaries)."""
    a = np.clip((d_main - 150.0) / 1100.0, 0, 1)
    b = np.clip((d_trib - 40.0) / 420.0, 0, 1)
    a = a * a * (3 - 2 * a)
    b = b * b * (3 - 2 * b)
    return (a * (0.25 + 0.75 * b)).astype(np.float32)


def dem(xs: np.ndarray, ys: np.ndarray, d_main: np.ndarray, d_trib: np.ndarray, seed: int) -> np.ndarray:
    """Elevation in metres on the grid ``ys x xs`` (EPSG:32748 pixel centres).

    ``d_main``/``d_trib`` are the distances (m) to the nearest main river and tributary.
    """
    x = np.asarray(xs, np.float64)[None, :]
    floor = 25 + 230 * np.clip((300_000 - x) / 130_000, 0, 1) ** 1.5
    relief = 60 + 340 * np.clip((280_000 - x) / 110_000, 0, 1)
    f = fractal(xs, ys, 5000.0, key_of(seed, "dem"), octaves=8, persistence=0.52, min_spacing=15)
    r = fractal(xs, ys, 2400.0, key_of(seed, "ridge"), octaves=6, persistence=0.5, min_spacing=15)
    ridged = 1 - np.abs(np.tanh(0.9 * r))  # sharp ridge lines, rounded valleys (dissected hills)
    ridges = np.clip(0.35 + 0.22 * f + 0.55 * ridged ** 1.5, 0, None)
    h = floor + relief * ridges * valley_factor(d_main, d_trib)
    return h.astype(np.float32)


def slope_aspect(z: np.ndarray, res: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Slope (radians) and aspect (radians clockwise from north, direction the slope faces)."""
    dzdy, dzdx = np.gradient(z.astype(np.float32), res)
    # rows go south, so north-ward gradient is -dzdy
    gx, gn = dzdx, -dzdy
    slope = np.arctan(np.hypot(gx, gn))
    aspect = np.arctan2(-gx, -gn)  # facing direction = downhill
    return slope.astype(np.float32), (aspect % (2 * math.pi)).astype(np.float32)


def illumination(slope: np.ndarray, aspect: np.ndarray, zenith_deg: float, azimuth_deg: float) -> np.ndarray:
    """Cosine of the local solar incidence angle divided by cos(zenith) (1 on flat ground)."""
    z, a = math.radians(zenith_deg), math.radians(azimuth_deg)
    cos_i = math.cos(z) * np.cos(slope) + math.sin(z) * np.sin(slope) * np.cos(a - aspect)
    return (np.clip(cos_i, 0, None) / math.cos(z)).astype(np.float32)


def cast_shadow(z: np.ndarray, zenith_deg: float, azimuth_deg: float, res: float = 10.0,
                max_dist: float = 400.0) -> np.ndarray:
    """Boolean cast-shadow mask by marching towards the sun over the DEM.

    Edges use the nearest DEM value (tiles carry a margin, so this stays seamless).
    """
    tan_e = math.tan(math.radians(90 - zenith_deg))
    a = math.radians(azimuth_deg)
    dx, dy = math.sin(a), -math.cos(a)  # column and row step towards the sun
    shadow = np.zeros(z.shape, bool)
    step = 2.0 * res
    for k in range(1, int(max_dist / step) + 1):
        d = k * step
        shifted = ndimage.shift(z, (-dy * d / res, -dx * d / res), order=1, mode="nearest", prefilter=False)
        shadow |= shifted > z + d * tan_e
    return shadow
