"""Surface reflectance of each cover, its seasonal behaviour, and the climate.

Reflectances are Sentinel-2 L2A bottom-of-atmosphere values for the six bands
``blue, green, red, nir, swir16, swir22`` (B2, B3, B4, B8, B11, B12).  They are
typical values for humid-tropical Sumatra as published for these covers (see the
package docstring for the sources); per-pixel texture, phenology, soil moisture
and water stage modulate them in :mod:`.scene`.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

__all__ = [
    "BANDS6",
    "SPECTRA",
    "Cover",
    "month_cloud_mean",
    "rice_state",
    "river_stage",
    "rubber_wintering",
    "spectrum",
    "wetness",
]

BANDS6 = ("blue", "green", "red", "nir", "swir16", "swir22")


class Cover:
    """Integer codes of the static land covers (the base map)."""

    FOREST = 1
    RUBBER = 2
    OIL_PALM = 3
    YOUNG_PALM = 4
    SHRUB = 5
    RICE = 6
    VILLAGE = 7
    BARE = 8
    GRASS = 9


# name -> (blue, green, red, nir, swir16, swir22)
SPECTRA: dict[str, tuple[float, ...]] = {
    "forest": (0.021, 0.045, 0.024, 0.300, 0.150, 0.063),
    "rubber": (0.024, 0.050, 0.029, 0.330, 0.170, 0.074),
    "oil_palm": (0.028, 0.058, 0.034, 0.320, 0.185, 0.088),
    "young_palm": (0.040, 0.068, 0.065, 0.270, 0.230, 0.140),
    "shrub": (0.028, 0.058, 0.038, 0.290, 0.185, 0.092),
    "grass": (0.034, 0.066, 0.048, 0.300, 0.215, 0.110),
    "village": (0.065, 0.085, 0.095, 0.230, 0.215, 0.165),
    "roof": (0.110, 0.120, 0.130, 0.180, 0.210, 0.190),
    "bare": (0.068, 0.098, 0.140, 0.225, 0.305, 0.240),
    "felled": (0.040, 0.060, 0.070, 0.200, 0.240, 0.170),
    "burnt": (0.035, 0.045, 0.055, 0.110, 0.150, 0.130),
    "asphalt": (0.075, 0.085, 0.095, 0.125, 0.160, 0.140),
    "laterite": (0.075, 0.105, 0.150, 0.230, 0.300, 0.245),
    "mud": (0.055, 0.075, 0.095, 0.140, 0.160, 0.125),
    "tailings": (0.215, 0.255, 0.290, 0.330, 0.400, 0.330),
    "sand": (0.140, 0.170, 0.200, 0.250, 0.320, 0.265),
    "landslide": (0.085, 0.115, 0.160, 0.235, 0.315, 0.255),
    "pond_ochre": (0.060, 0.105, 0.125, 0.075, 0.028, 0.018),
    "pond_green": (0.030, 0.055, 0.040, 0.040, 0.012, 0.008),
    "river": (0.052, 0.078, 0.082, 0.048, 0.016, 0.010),
    "river_plume": (0.070, 0.112, 0.132, 0.082, 0.026, 0.016),
    "dark_water": (0.020, 0.030, 0.022, 0.015, 0.008, 0.005),
    "rice_flooded": (0.055, 0.070, 0.068, 0.090, 0.055, 0.035),
    "rice_green": (0.030, 0.070, 0.035, 0.400, 0.200, 0.090),
    "rice_ripe": (0.050, 0.085, 0.085, 0.300, 0.260, 0.160),
    "stubble": (0.065, 0.090, 0.110, 0.230, 0.280, 0.200),
    "cloud": (0.520, 0.510, 0.520, 0.560, 0.420, 0.290),
    "haze_path": (0.060, 0.042, 0.027, 0.012, 0.003, 0.0015),
    "smoke_path": (0.090, 0.060, 0.036, 0.014, 0.003, 0.0015),
}


def spectrum(name: str) -> np.ndarray:
    """A cover's six-band reflectance as float32 ``(6,)``."""
    return np.asarray(SPECTRA[name], np.float32)


#: Mean fraction of a Sentinel-2 scene under cloud at ~10:30 local time, by month (Jan..Dec).
_CLOUD_MEAN = (0.76, 0.70, 0.72, 0.68, 0.58, 0.48, 0.42, 0.42, 0.50, 0.66, 0.80, 0.82)
_REGIME = {"sumatra": (0.0, 1.0), "heavy": (0.10, 1.0), "light": (0.0, 0.55), "clear": (0.0, 0.15)}


def month_cloud_mean(month: int, regime: str = "sumatra") -> float:
    """Mean cloud fraction for a month (1..12) under a cloud regime."""
    add, mul = _REGIME[regime]
    return float(min(0.95, _CLOUD_MEAN[month - 1] * mul + add))


def _seasonal(d: dt.date, peak_doy: float) -> float:
    """Cosine in [-1, 1] peaking at ``peak_doy``."""
    doy = d.timetuple().tm_yday
    return math.cos(2 * math.pi * (doy - peak_doy) / 365.25)


def wetness(d: dt.date) -> float:
    """Soil/ground wetness 0..1 (wettest in December, driest in early August)."""
    return 0.5 + 0.45 * _seasonal(d, 350)


def river_stage(d: dt.date, jitter: float = 0.0) -> float:
    """Water stage 0 (dry-season low, mid-July) .. 1 (flood, mid-January) for rivers; ``jitter`` from rain events."""
    return float(np.clip(0.55 + 0.42 * _seasonal(d, 15) + jitter, 0.0, 1.0))


def rubber_wintering(d: dt.date) -> float:
    """Leaf-fall intensity 0..1 of rubber (Jambi: dry season, peak mid-August)."""
    doy = d.timetuple().tm_yday
    x = (doy - 225) / 22.0
    return float(math.exp(-0.5 * x * x))


def rice_state(days_since_flood: np.ndarray) -> tuple[np.ndarray, ...]:
    """Mixing weights (flooded, green, ripe, stubble) of a paddy ``days`` after flooding.

    The cycle: flooded and transplanted (0-20 d), tillering to full canopy (20-65 d),
    heading (65-95 d), ripening (95-115 d), harvest then stubble/fallow.
    ``days`` may be negative (before this season's flooding: fallow).
    """
    t = np.asarray(days_since_flood, np.float32)
    flooded = np.clip(1 - (t - 12) / 25, 0, 1) * (t >= 0)
    green = np.clip((t - 8) / 45, 0, 1) * np.clip(1 - (t - 95) / 20, 0, 1) * (t >= 0)
    ripe = np.clip((t - 90) / 15, 0, 1) * np.clip(1 - (t - 118) / 6, 0, 1) * (t >= 0)
    stub = np.clip(1 - flooded - green - ripe, 0, 1)
    return flooded.astype(np.float32), green.astype(np.float32), ripe.astype(np.float32), stub
