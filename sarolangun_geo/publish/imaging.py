"""Pixels to pictures: reflectance stretches, deterministic PNG, web overlays.

Shared by the COG writer (uint8 true colour), the before/after chips and the
report's image overlay.  All stretches are *fixed* reflectance ranges, not
per-scene percentiles, so the same ground looks the same every week.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

__all__ = ["SWIR_FALSE_COLOUR", "TRUE_COLOUR", "overlay_3857", "png_bytes", "rgb_from_bands", "stretch"]

#: (bands, reflectance low, reflectance high) of the two looks.
TRUE_COLOUR: tuple[tuple[str, str, str], float, float] = (("red", "green", "blue"), 0.0, 0.20)
SWIR_FALSE_COLOUR: tuple[tuple[str, str, str], float, float] = (("swir22", "nir", "red"), 0.0, 0.45)


def stretch(refl: np.ndarray, lo: float, hi: float, gamma: float = 0.8) -> np.ndarray:
    """Map reflectance linearly (then gamma) from ``[lo, hi]`` to uint8 1..255; NaN -> 0.

    Parameters
    ----------
    refl
        float array of surface reflectance, any shape; NaN is nodata.
    """
    a = np.asarray(refl, dtype="float64")
    ok = np.isfinite(a)
    x = np.clip((np.where(ok, a, lo) - lo) / (hi - lo), 0.0, 1.0) ** gamma  # no NaN reaches the cast
    out = (1 + np.rint(x * 254)).astype("uint8")
    out[~ok] = 0
    return out


def rgb_from_bands(bands: dict[str, np.ndarray], look: tuple[tuple[str, str, str], float, float]) -> np.ndarray:
    """Stack three named bands into a ``(y, x, 3)`` uint8 image with ``look``'s stretch."""
    names, lo, hi = look
    return np.dstack([stretch(bands[n], lo, hi) for n in names])


def png_bytes(rgb: np.ndarray, alpha_nodata: bool = False) -> bytes:
    """Encode a ``(y, x, 3)`` uint8 image as PNG (no timestamps: byte-identical reruns).

    With ``alpha_nodata`` pixels that are 0 in every band become transparent.
    """
    arr = np.ascontiguousarray(rgb, dtype="uint8")
    if alpha_nodata:
        alpha = np.where(arr.max(axis=2) == 0, 0, 255).astype("uint8")
        img = Image.fromarray(np.dstack([arr, alpha]), "RGBA")
    else:
        img = Image.fromarray(arr, "RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=9)
    return buf.getvalue()


def overlay_3857(rgb_bands: np.ndarray, transform, crs, max_px: int = 900):  # type: ignore[no-untyped-def]
    """Warp a ``(3, y, x)`` uint8 image to Web Mercator for a Leaflet ``ImageOverlay``.

    Leaflet stretches an overlay linearly in EPSG:3857 between two lon/lat
    corners, so the image must be in EPSG:3857 to sit exactly on the map.

    Returns
    -------
    (numpy.ndarray, list)
        ``(y, x, 3)`` uint8 image (0 = nodata) and ``[[south, west], [north, east]]``.
    """
    from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

    _, h, w = rgb_bands.shape
    left, top = transform @ (0, 0)
    right, bottom = transform @ (w, h)
    dst_crs = "EPSG:3857"
    dt, dw, dh = calculate_default_transform(crs, dst_crs, w, h, left, bottom, right, top)
    scale = max(dw, dh) / max_px
    if scale > 1:
        dw, dh = max(1, int(dw / scale)), max(1, int(dh / scale))
        dt, _, _ = calculate_default_transform(crs, dst_crs, w, h, left, bottom, right, top,
                                               dst_width=dw, dst_height=dh)
    out = np.zeros((3, dh, dw), dtype="uint8")
    reproject(rgb_bands, out, src_transform=transform, src_crs=crs, dst_transform=dt, dst_crs=dst_crs,
              resampling=Resampling.average, src_nodata=0, dst_nodata=0)
    x0, y0 = dt @ (0, 0)
    x1, y1 = dt @ (dw, dh)
    w_, s_, e_, n_ = transform_bounds(dst_crs, "EPSG:4326", x0, y1, x1, y0)
    bounds = [[round(s_, 6), round(w_, 6)], [round(n_, 6), round(e_, 6)]]
    return np.moveaxis(out, 0, -1), bounds
