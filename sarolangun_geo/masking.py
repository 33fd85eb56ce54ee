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
from .indices import ArrayLike, _where, hot, mndwi, ndti, whiteness

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


def _disk_rows(radius_px: int) -> list[tuple[int, int]]:
    """The rows of :func:`disk` as ``(dy, half_width)``: row ``dy`` spans ``dx = -w..w``."""
    foot = disk(radius_px)
    r = int(radius_px)
    return [(dy, (int(foot[dy + r].sum()) - 1) // 2) for dy in range(-r, r + 1)]


def _add_rows(out: np.ndarray, row: np.ndarray, dy: int, op: Any) -> None:
    """``out[..., y, :] op= row[..., y + dy, :]`` where ``y + dy`` is inside the array (in place)."""
    ny = out.shape[-2]
    if abs(dy) >= ny:
        return
    if dy >= 0:
        op(out[..., :ny - dy, :], row[..., dy:, :], out=out[..., :ny - dy, :])
    else:
        op(out[..., -dy:, :], row[..., :ny + dy, :], out=out[..., -dy:, :])


def _disk_reduce(b: np.ndarray, radius_px: int, op: Any, dtype: Any) -> np.ndarray:
    """``op``-accumulate ``b`` (..., y, x) over the :func:`disk` around each pixel; 0 outside the array.

    Each row of the disk is a horizontal run, grown one pixel a side at a
    time from shifted copies; the runs are then accumulated over the rows.
    With ``np.bitwise_or`` on bool this is ``ndimage.binary_dilation`` with the
    disk, with ``np.add`` on an integer type the exact count of True pixels
    (``ndimage.correlate(..., mode="constant")``).
    """
    nx = b.shape[-1]
    rows = _disk_rows(radius_px)
    widths = {w for _, w in rows}
    wmax = max(widths)
    pad = np.zeros((*b.shape[:-1], nx + 2 * wmax), dtype)
    pad[..., wmax:wmax + nx] = b
    cur = pad[..., wmax:wmax + nx].copy()
    runs = {0: cur.copy()} if 0 in widths and wmax else {}
    for w in range(1, wmax + 1):
        op(cur, pad[..., wmax - w:wmax - w + nx], out=cur)
        op(cur, pad[..., wmax + w:wmax + w + nx], out=cur)
        if w in widths and w < wmax:
            runs[w] = cur.copy()
    runs[wmax] = cur
    out = np.zeros(b.shape, dtype)
    for dy, w in rows:
        _add_rows(out, runs[w], dy, op)
    return out


def _dilate_yx(b: np.ndarray, radius_px: int) -> np.ndarray:
    """Binary dilation of bool ``b`` (..., y, x) by :func:`disk`, False outside the array."""
    return _disk_reduce(b, radius_px, np.bitwise_or, bool)


def _count_yx(b: np.ndarray, radius_px: int) -> np.ndarray:
    """Number of True pixels of bool ``b`` (..., y, x) in the disk around each pixel (exact integers)."""
    n = (2 * radius_px + 1) ** 2
    return _disk_reduce(b, radius_px, np.add, np.uint8 if n < 2**8 else np.uint16 if n < 2**16 else np.int64)


def _divide_by_inside(s: np.ndarray, radius_px: int) -> np.ndarray:
    """``s`` (float, ..., y, x) divided in place by the number of disk pixels inside the array around each pixel.

    That number is the disk size away from the edges; it is taken row band by
    row band (top, middle, bottom), as exact integers.
    """
    ny, nx = s.shape[-2:]
    r = int(radius_px)
    rows = _disk_rows(r)
    xs = np.arange(nx)
    runs = {w: np.minimum(xs + w, nx - 1) - np.maximum(xs - w, 0) + 1 for w in {w for _, w in rows}}
    top, bottom = min(r, ny), max(ny - r, min(r, ny))
    for y0, y1 in ((0, top), (top, bottom), (bottom, ny)):
        if y1 <= y0:
            continue
        ys = np.arange(y0, y1) if (y0, y1) != (top, bottom) else np.arange(y0, y0 + 1)  # middle: all alike
        n = np.zeros((len(ys), nx), np.int64)
        for dy, w in rows:
            n += np.multiply.outer((ys + dy >= 0) & (ys + dy < ny), runs[w])
        s[..., y0:y1, :] /= n.astype(s.dtype)
    return s


def dilate(mask: xr.DataArray, radius_px: int) -> xr.DataArray:
    """Grow a boolean mask by a disk of ``radius_px`` pixels in the y/x plane.

    ``mask``: bool ``xr.DataArray`` with dims including ``y`` and ``x`` (any
    others, e.g. ``time``, are treated slice by slice).  Returns bool of the
    same dims.  ``radius_px <= 0`` returns the mask unchanged.
    """
    if radius_px <= 0:
        return mask.astype(bool)

    def _f(b: np.ndarray, yax: int, xax: int) -> np.ndarray:
        out = _dilate_yx(np.moveaxis(b.astype(bool, copy=False), (yax, xax), (-2, -1)), radius_px)
        return np.moveaxis(out, (-2, -1), (yax, xax))

    return _yx_apply(mask if mask.dtype == bool else mask.astype(bool), _f, radius_px, bool)


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
    are taken as 0/1, so ``focal_mean(mask)`` is the local fraction of ``mask``
    (computed from exact integer counts: the same float32 values as the float
    path, faster).
    """
    if arr.dtype == bool:
        def _frac(b: np.ndarray, yax: int, xax: int) -> np.ndarray:
            moved = np.moveaxis(b, (yax, xax), (-2, -1))
            s = _divide_by_inside(_count_yx(moved, radius_px).astype("float32"), radius_px)  # n >= 1
            return np.moveaxis(s, (-2, -1), (yax, xax))

        return _yx_apply(arr, _frac, radius_px, np.float32)
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
# They take and return ``xr.DataArray`` or plain numpy/dask arrays alike (arithmetic and comparisons only).

def scl_flag(scl: ArrayLike, codes: tuple[int, ...]) -> ArrayLike:
    """True where the SCL code is one of ``codes`` (bool, same dims as ``scl``; also numpy)."""
    if hasattr(scl, "isin"):
        return scl.isin(list(codes))
    if not codes:
        return np.zeros(np.shape(scl), bool)
    out = scl == codes[0]
    for c in codes[1:]:  # a few codes: cheaper than np.isin's sort
        out |= scl == c
    return out


def _positive(v: Any) -> Any:
    """``v`` where it is > 0, else NaN (same container and float dtype as ``v``)."""
    return _where(v > 0, v, np.nan)


def bright_ground(blue: ArrayLike, green: ArrayLike, red: ArrayLike, nir: ArrayLike,
                  swir16: ArrayLike, params: MaskParams) -> ArrayLike:
    """True where a bright pixel is ground (tailings, sand, soil), not cloud.

    Ground: at least as bright at 1.6 µm as at 0.84 µm (``swir16/nir >=
    ground_min_swir_nir``; cloud droplets absorb at 1.6 µm), a visible
    spectrum rising towards red (``blue/red <= ground_max_blue_red``: iron
    oxides and sediments absorb blue, clouds are flat) and blue below
    ``ground_max_blue``.  NaN gives False.
    """
    ratio = swir16 / _positive(nir)
    slope = blue / _positive(red)
    return ((ratio >= params.ground_min_swir_nir) & (slope <= params.ground_max_blue_red)
            & (blue <= params.ground_max_blue))


def missed_cloud(blue: ArrayLike, green: ArrayLike, red: ArrayLike, nir: ArrayLike,
                 swir16: ArrayLike, params: MaskParams) -> ArrayLike:
    """True on bright, white, SWIR-dark pixels: cloud whatever SCL says."""
    ratio = swir16 / _positive(nir)
    return ((blue > params.cloud_min_blue) & (whiteness(blue=blue, green=green, red=red)
                                              < params.cloud_max_whiteness)
            & (ratio < params.cloud_max_swir_nir))


def haze(blue: ArrayLike, red: ArrayLike, params: MaskParams) -> ArrayLike:
    """True on hazy pixels: ``HOT`` above ``haze_hot``, blue above ``haze_min_blue``, blue >= red.

    Haze scatters blue far more than red, so a hazy pixel's visible spectrum
    slopes down towards red (``blue/red >= haze_min_blue_red``); bright soils
    and tailings slope up and are never taken for haze.
    """
    slope = blue / _positive(red)
    return ((hot(blue=blue, red=red) > params.haze_hot) & (blue > params.haze_min_blue)
            & (slope >= params.haze_min_blue_red))


def unflagged_shadow(green: ArrayLike, nir: ArrayLike, swir16: ArrayLike,
                     ref_nir: ArrayLike, ref_swir16: ArrayLike, params: MaskParams) -> ArrayLike:
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
    bands = [ds[k] for k in _MASK_BANDS]
    refs = [reference["nir"], reference["swir16"]] if reference is not None else []
    # the per-pixel tests in one pass over numpy blocks (no full-tile xarray temporaries)
    grow, extra, reject = xr.apply_ufunc(_pixel_tests, *bands, ds.scl, *refs, kwargs={"params": params},
                                         output_core_dims=[[], [], []], dask="parallelized",
                                         output_dtypes=[bool, bool, bool], join="inner")
    bad = dilate(grow, params.buffer_px) | dilate(extra, params.extra_buffer_px) | reject
    return (~bad).rename("clear")


_MASK_BANDS = ("blue", "green", "red", "nir", "swir16")


def _pixel_tests(blue: np.ndarray, green: np.ndarray, red: np.ndarray, nir: np.ndarray, swir16: np.ndarray,
                 scl: np.ndarray, *ref: np.ndarray, params: MaskParams) -> tuple[np.ndarray, ...]:
    """The per-pixel tests of :func:`clear_mask` on arrays (``ref``: optional baseline ``nir, swir16``).

    Returns bool ``(cloud | shadow, haze | unflagged shadow, rejected)``: the
    first is grown by ``buffer_px``, the second by ``extra_buffer_px``, the
    third (other rejected SCL classes and nodata) is used as it is.
    """
    b = {"blue": blue, "green": green, "red": red, "nir": nir, "swir16": swir16}
    reject = scl == SCL.NO_DATA
    for v in b.values():
        reject |= np.isnan(v)
    reject |= scl_flag(scl, tuple(c for c in params.scl_reject
                                  if c not in params.scl_cloud and c != SCL.CLOUD_SHADOW))
    cloud = scl_flag(scl, params.scl_cloud)
    if params.rescue_bright_ground:
        cloud &= ~bright_ground(**b, params=params)
    cloud |= missed_cloud(**b, params=params)
    shadow = scl == SCL.CLOUD_SHADOW
    if params.rescue_water_shadow:
        shadow &= ~((mndwi(green=green, swir16=swir16) > params.water_mndwi) & (ndti(red=red, green=green) > 0))
    extra = haze(blue, red, params)
    if ref:
        extra |= unflagged_shadow(green, nir, swir16, ref[0], ref[1], params)
    return cloud | shadow, extra, reject


def clear_count(clear: xr.DataArray, dim: str = "time") -> xr.DataArray:
    """Number of clear observations per pixel along ``dim`` (uint16)."""
    return clear.sum(dim).astype("uint16").rename("n_clear")
