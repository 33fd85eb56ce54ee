"""Clear-sky masks: SCL, buffered, plus physical tests for what SCL gets wrong.

Sen2Cor's SCL is the starting point, but over Sarolangun it fails in both
directions:

* **misses** thin cloud / haze at cloud edges and some cloud shadows, and
  sometimes a small bright cumulus;
* **wrongly flags** bright quartz-sand tailings and ochre spoil as cloud
  (8/9), and turbid ponds as cloud shadow (3) – exactly the surfaces PETI
  detection needs to see.

The tests use physics rather than fixed SCL trust:

* *cloud is white and SWIR-dark relative to NIR*: water/ice droplets absorb at
  1.6 µm, so a cloud has ``swir16 / nir`` < ~0.9 and a flat visible spectrum
  (Fmask whiteness < ~0.2).  Tailings and soil are coloured (blue well under
  red) and brighter at 1.6 µm than at 0.84 µm (``swir16 / nir`` >= 1).  SCL
  cloud that fails the cloud physics is *rescued*; bright white pixels that SCL
  calls clear are *added* as missed cloud.
* *haze* adds far more to blue than to red: the haze-optimised transform
  ``HOT = blue - 0.5 red`` rises above the clear line.
* *shadow* darkens NIR and SWIR together against the pixel's own baseline
  while leaving it un-water-like (MNDWI low); a new pond also darkens NIR/SWIR
  but has a high MNDWI, so it is not taken for shadow.

Cloud and shadow are grown by a buffer (cloud edges are the worst pixels).
All functions are pure and lazy: numpy- or dask-backed ``xr.DataArray`` in,
the same out.  :func:`dilate` and :func:`focal_mean` are the spatial helpers
shared with :mod:`sarolangun_geo.change`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage

from .bands import SCL
from .indices import hot, mndwi, ndti, whiteness

__all__ = [
    "MaskParams",
    "bright_ground",
    "clear_count",
    "clear_mask",
    "dilate",
    "disk",
    "focal_mean",
    "haze",
    "missed_cloud",
    "scl_flag",
    "unflagged_shadow",
    "within_distance",
]


@dataclass(frozen=True)
class MaskParams:
    """Clear-mask settings (``[masking]`` of ``data/config/detection.toml``)."""

    scl_reject: tuple[int, ...] = (SCL.NO_DATA, SCL.SATURATED, SCL.CLOUD_SHADOW, SCL.CLOUD_MEDIUM,
                                   SCL.CLOUD_HIGH, SCL.THIN_CIRRUS, SCL.SNOW)
    scl_cloud: tuple[int, ...] = (SCL.CLOUD_MEDIUM, SCL.CLOUD_HIGH, SCL.THIN_CIRRUS)
    buffer_px: int = 3
    extra_buffer_px: int = 1
    rescue_bright_ground: bool = True
    ground_min_swir_nir: float = 1.0
    ground_max_blue_red: float = 0.9
    ground_max_blue: float = 0.25
    cloud_min_blue: float = 0.22
    cloud_max_whiteness: float = 0.15
    cloud_max_swir_nir: float = 0.95
    haze_hot: float = 0.045
    haze_min_blue: float = 0.07
    haze_min_blue_red: float = 1.0
    rescue_water_shadow: bool = True
    water_mndwi: float = 0.1
    shadow_ratio: float = 0.55
    shadow_max_mndwi: float = 0.0


# --------------------------------------------------------------------------- spatial helpers

def disk(radius_px: int) -> np.ndarray:
    """Boolean disk structuring element of radius ``radius_px`` (shape 2r+1 square)."""
    r = int(radius_px)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return (yy * yy + xx * xx) <= r * r + r  # slightly rounder than the strict circle


def _yx_apply(arr: xr.DataArray, func: Any, depth: int, dtype: Any) -> xr.DataArray:
    """Apply a 2-D neighbourhood ``func(ndarray, y_axis, x_axis)`` to the y/x plane of ``arr``.

    Dask arrays go through ``map_overlap`` (halo ``depth`` px), numpy directly.
    """
    yax, xax = arr.get_axis_num("y"), arr.get_axis_num("x")
    data = arr.data
    if hasattr(data, "dask"):
        import dask.array as da

        depth_map = {i: 0 for i in range(data.ndim)}
        depth_map[yax] = depth
        depth_map[xax] = depth
        out = da.map_overlap(lambda b: func(b, yax, xax), data, depth=depth_map, boundary="none",
                             dtype=dtype, meta=np.array((), dtype=dtype))
    else:
        out = func(np.asarray(data), yax, xax)
    return arr.copy(data=out)


def _structure(ndim: int, yax: int, xax: int, footprint: np.ndarray) -> np.ndarray:
    shape = [1] * ndim
    shape[yax], shape[xax] = footprint.shape
    return footprint.reshape(shape) if yax < xax else footprint.T.reshape(shape)


def dilate(mask: xr.DataArray, radius_px: int) -> xr.DataArray:
    """Grow a boolean mask by a disk of ``radius_px`` pixels in the y/x plane.

    ``mask``: bool ``xr.DataArray`` with dims including ``y`` and ``x`` (any
    others, e.g. ``time``, are treated slice by slice).  Returns bool of the
    same dims.  ``radius_px <= 0`` returns the mask unchanged.
    """
    if radius_px <= 0:
        return mask.astype(bool)
    foot = disk(radius_px)

    def _f(b: np.ndarray, yax: int, xax: int) -> np.ndarray:
        return ndimage.binary_dilation(b.astype(bool), structure=_structure(b.ndim, yax, xax, foot))

    return _yx_apply(mask.astype(bool), _f, radius_px, bool)


def within_distance(mask: xr.DataArray, radius_px: float) -> xr.DataArray:
    """True within ``radius_px`` pixels (Euclidean, centre to centre) of a True pixel of ``mask``.

    Same result as :func:`dilate` with a true circle, but via a distance
    transform, so it stays fast for large radii (e.g. 500 m from a river).
    """
    if radius_px <= 0:
        return mask.astype(bool)

    def _f(b: np.ndarray, yax: int, xax: int) -> np.ndarray:
        b = np.moveaxis(b.astype(bool), (yax, xax), (-2, -1))
        out = np.zeros(b.shape, bool)
        for idx in np.ndindex(b.shape[:-2]):
            plane = b[idx]
            if plane.any():
                out[idx] = ndimage.distance_transform_edt(~plane) <= radius_px
        return np.moveaxis(out, (-2, -1), (yax, xax))

    return _yx_apply(mask.astype(bool), _f, int(np.ceil(radius_px)), bool)


def focal_mean(arr: xr.DataArray, radius_px: int) -> xr.DataArray:
    """Mean of the non-NaN values in a disk of ``radius_px`` around each pixel (float32).

    NaN inputs are skipped; a window with no valid value gives NaN.  Booleans
    are taken as 0/1, so ``focal_mean(mask)`` is the local fraction of ``mask``.
    """
    foot = disk(radius_px).astype("float32")

    def _f(b: np.ndarray, yax: int, xax: int) -> np.ndarray:
        b = b.astype("float32")
        valid = np.isfinite(b)
        st = _structure(b.ndim, yax, xax, foot)
        s = ndimage.correlate(np.where(valid, b, 0.0).astype("float32"), st, mode="constant", cval=0.0)
        n = ndimage.correlate(valid.astype("float32"), st, mode="constant", cval=0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, s / np.maximum(n, 1e-12), np.nan).astype("float32")

    return _yx_apply(arr, _f, radius_px, np.float32)


# --------------------------------------------------------------------------- per-pixel tests

def scl_flag(scl: xr.DataArray, codes: tuple[int, ...]) -> xr.DataArray:
    """True where the SCL code is one of ``codes`` (bool, same dims as ``scl``)."""
    return scl.isin(list(codes))


def bright_ground(blue: xr.DataArray, green: xr.DataArray, red: xr.DataArray, nir: xr.DataArray,
                  swir16: xr.DataArray, params: MaskParams) -> xr.DataArray:
    """True where a bright pixel is ground (tailings, sand, soil), not cloud.

    Ground: at least as bright at 1.6 µm as at 0.84 µm (``swir16/nir >=
    ground_min_swir_nir``; cloud droplets absorb at 1.6 µm), a visible
    spectrum rising towards red (``blue/red <= ground_max_blue_red``: iron
    oxides and sediments absorb blue, clouds are flat) and blue below
    ``ground_max_blue``.  NaN gives False.
    """
    ratio = swir16 / nir.where(nir > 0)
    slope = blue / red.where(red > 0)
    return ((ratio >= params.ground_min_swir_nir) & (slope <= params.ground_max_blue_red)
            & (blue <= params.ground_max_blue))


def missed_cloud(blue: xr.DataArray, green: xr.DataArray, red: xr.DataArray, nir: xr.DataArray,
                 swir16: xr.DataArray, params: MaskParams) -> xr.DataArray:
    """True on bright, white, SWIR-dark pixels: cloud whatever SCL says."""
    ratio = swir16 / nir.where(nir > 0)
    return ((blue > params.cloud_min_blue) & (whiteness(blue=blue, green=green, red=red)
                                              < params.cloud_max_whiteness)
            & (ratio < params.cloud_max_swir_nir))


def haze(blue: xr.DataArray, red: xr.DataArray, params: MaskParams) -> xr.DataArray:
    """True on hazy pixels: ``HOT`` above ``haze_hot``, blue above ``haze_min_blue``, blue >= red.

    Haze scatters blue far more than red, so a hazy pixel's visible spectrum
    slopes down towards red (``blue/red >= haze_min_blue_red``); bright soils
    and tailings slope up and are never taken for haze.
    """
    slope = blue / red.where(red > 0)
    return ((hot(blue=blue, red=red) > params.haze_hot) & (blue > params.haze_min_blue)
            & (slope >= params.haze_min_blue_red))


def unflagged_shadow(green: xr.DataArray, nir: xr.DataArray, swir16: xr.DataArray,
                     ref_nir: xr.DataArray, ref_swir16: xr.DataArray, params: MaskParams) -> xr.DataArray:
    """True where NIR and SWIR both fall below ``shadow_ratio`` x the baseline, and the pixel is not water.

    ``ref_nir``/``ref_swir16`` are per-pixel baseline medians (y, x); NaN
    reference gives False (no test without a baseline).
    """
    dark = (nir < params.shadow_ratio * ref_nir) & (swir16 < params.shadow_ratio * ref_swir16)
    return dark & (mndwi(green=green, swir16=swir16) < params.shadow_max_mndwi)


def clear_mask(ds: xr.Dataset, params: MaskParams, reference: xr.Dataset | None = None) -> xr.DataArray:
    """Per-pixel, per-acquisition clear-sky mask (bool, dims of ``ds.scl``).

    Parameters
    ----------
    ds
        Cube of :func:`sarolangun_geo.sources.load_cube` (``blue .. swir16`` float
        reflectance with NaN nodata, ``scl`` uint8).
    params
        :class:`MaskParams`.
    reference
        Optional baseline medians ``nir`` and ``swir16`` (dims y, x) for the
        unflagged-shadow test (:func:`sarolangun_geo.baseline.reference_bands`).

    Returns
    -------
    xr.DataArray
        bool, True = clear and valid.  Lazy if ``ds`` is.
    """
    b = {k: ds[k] for k in ("blue", "green", "red", "nir", "swir16")}
    nodata = ds.scl == SCL.NO_DATA
    for v in b.values():
        nodata = nodata | v.isnull()
    scl_cloud = scl_flag(ds.scl, params.scl_cloud)
    if params.rescue_bright_ground:
        scl_cloud = scl_cloud & ~bright_ground(**b, params=params)
    cloud = scl_cloud | missed_cloud(**b, params=params)
    shadow = ds.scl == SCL.CLOUD_SHADOW
    if params.rescue_water_shadow:
        wet = (mndwi(green=b["green"], swir16=b["swir16"]) > params.water_mndwi) & (
            ndti(red=b["red"], green=b["green"]) > 0)
        shadow = shadow & ~wet
    other = scl_flag(ds.scl, tuple(c for c in params.scl_reject
                                   if c not in params.scl_cloud and c != SCL.CLOUD_SHADOW))
    extra = haze(b["blue"], b["red"], params)
    if reference is not None:
        extra = extra | unflagged_shadow(b["green"], b["nir"], b["swir16"], reference["nir"],
                                         reference["swir16"], params)
    bad = dilate(cloud | shadow, params.buffer_px) | dilate(extra, params.extra_buffer_px) | other | nodata
    return (~bad).rename("clear")


def clear_count(clear: xr.DataArray, dim: str = "time") -> xr.DataArray:
    """Number of clear observations per pixel along ``dim`` (uint16)."""
    return clear.sum(dim).astype("uint16").rename("n_clear")
