"""Water evidence for PETI: new turbid water, proximity to permanent water, pit texture.

Physics used:

* open water has MNDWI > 0 (green reflects more than SWIR 1.6 µm, which water
  absorbs); PETI ponds are loaded with suspended sediment, so red exceeds
  green (NDTI > ~0), unlike clear river reaches, blackwater or rice paddies
  under a crop canopy;
* water is *new* only where the baseline rarely saw water in any season
  (``water_freq_max`` below ``new_water_max_freq``) and MNDWI rises clearly
  above the baseline's own 90th percentile (flooded rice and river margins
  are in the baseline's seasonal range, so they are not new);
* pits are a patchwork: within a few tens of metres a mined patch mixes new
  ponds and bare tailings, while a plantation clearing, a landslide or a new
  house is bare without ponds, and a flood is water without bare ground.

All functions are pure, take/return ``xr.DataArray`` ``(y, x)`` (numpy or
dask) and never compute; the per-pixel tests (:func:`is_water`,
:func:`is_turbid`, :func:`new_water`) also take plain arrays.
"""

from __future__ import annotations

import xarray as xr

from ..indices import ArrayLike
from ..masking import focal_mean, within_distance
from .params import WaterParams

__all__ = [
    "is_turbid",
    "is_water",
    "near_water",
    "new_water",
    "pit_texture",
]


def is_water(mndwi: ArrayLike, params: WaterParams) -> ArrayLike:
    """Open water: MNDWI above ``water_mndwi`` (bool; NaN -> False)."""
    return mndwi > params.water_mndwi


def is_turbid(ndti: ArrayLike, params: WaterParams) -> ArrayLike:
    """Sediment-laden water: NDTI above ``turbid_ndti`` (bool; NaN -> False)."""
    return ndti > params.turbid_ndti


def new_water(mndwi: ArrayLike, mndwi_p90: ArrayLike, water_freq_max: ArrayLike,
              params: WaterParams) -> ArrayLike:
    """Water now, where the baseline (all seasons) had little or none.

    ``mndwi_p90`` and ``water_freq_max`` come from
    :func:`sarolangun_geo.baseline.baseline_stats`; a pixel without baseline
    (NaN) is never new water.
    """
    return (is_water(mndwi, params) & (water_freq_max < params.new_water_max_freq)
            & ((mndwi - mndwi_p90) > params.new_water_margin))


def near_water(permanent_water: xr.DataArray, params: WaterParams, resolution_m: float = 10.0) -> xr.DataArray:
    """Within ``near_water_m`` of baseline permanent water (rivers, lakes): bool (y, x)."""
    return within_distance(permanent_water.fillna(False).astype(bool), params.near_water_m / resolution_m)


def pit_texture(water: xr.DataArray, bare: xr.DataArray, params: WaterParams) -> xr.DataArray:
    """Pitted patchwork: new water *and* bare ground both present within ``texture_radius_px``.

    ``water`` is the new (turbid) water mask and ``bare`` the new bare-soil
    mask of one acquisition.  True where the local fraction of each exceeds
    ``texture_min_water`` / ``texture_min_bare`` and the pixel itself is
    water or bare.
    """
    r = params.texture_radius_px
    fw = focal_mean(water.astype(bool), r)  # bool: local fractions from exact counts
    fb = focal_mean(bare.astype(bool), r)
    return (fw >= params.texture_min_water) & (fb >= params.texture_min_bare) & (water | bare)
