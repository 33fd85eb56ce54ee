"""Exact sums of integer rasters over pixel disks, at every pixel or at chosen pixels only.

The road detector needs, for each corridor pixel of a tile, how much of the land
within a few hundred metres was clear and changed.  A convolution over the whole
tile computes that for every pixel; the corridors are ~2 % of a tile, so
:func:`disk_sums` evaluates the disks only where asked, from per-row prefix sums
(two look-ups per disk row).  The sums are integers, so they are exact and a
tile agrees with any mosaic it is cut from.  The disk ``dx*dx + dy*dy <= r2`` with
``r2 = disk_r2(r)`` is :func:`sarolangun_geo.masking.disk` of radius ``r``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["disk_area", "disk_r2", "disk_sum", "disk_sums", "pixels", "row_widths"]


def row_widths(r2: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``dy`` and half-widths ``w`` of the pixel disk ``dx*dx + dy*dy <= r2`` (``r2`` an integer)."""
    from math import isqrt

    r = isqrt(r2)
    dy = np.arange(-r, r + 1)
    return dy, np.array([isqrt(r2 - int(d) * int(d)) for d in dy], np.int64)


def disk_r2(radius_px: int) -> int:
    """Squared bound of :func:`sarolangun_geo.masking.disk` (``dx*dx + dy*dy <= r*r + r``)."""
    return int(radius_px) * int(radius_px) + int(radius_px)


def pixels(shape: tuple[int, ...], where: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the ``where`` pixels (row-major), or broadcastable ones of every pixel."""
    if where is None:
        return np.arange(shape[0])[:, None], np.arange(shape[1])[None, :]
    ys, xs = np.nonzero(where)
    return ys, xs


def disk_sums(values: np.ndarray, r2s: Sequence[int], pix: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
    """Exact sums (int64) of integer ``values`` over the disks ``dx*dx + dy*dy <= r2`` (each of ``r2s``) at ``pix``.

    Per-row prefix sums (computed once) turn each disk row into two look-ups, so
    the cost is ``2r + 1`` gathers per evaluated pixel and disk, whatever the
    share of the tile evaluated.  The disk is clipped at the array's edges (as
    in a zero-padded convolution).
    """
    ny, nx = values.shape
    prefix = np.zeros((ny, nx + 1), np.int64)
    np.cumsum(values, axis=1, dtype=np.int64, out=prefix[:, 1:])
    ys, xs = pix
    out = []
    for r2 in r2s:
        if ys.ndim == 2:  # every pixel: one row-sum raster per half-width, added shifted row by row
            out.append(_disk_raster(prefix, r2))
            continue
        total = np.zeros(ys.shape, np.int64)
        for dy, w in zip(*row_widths(r2), strict=True):
            yy = ys + dy
            row = np.clip(yy, 0, ny - 1)
            part = prefix[row, np.minimum(xs + w + 1, nx)] - prefix[row, np.maximum(xs - w, 0)]
            total += np.where((yy >= 0) & (yy < ny), part, 0)
        out.append(total)
    return out


def _disk_raster(prefix: np.ndarray, r2: int) -> np.ndarray:
    """The disk sums of :func:`disk_sums` at every pixel, from the per-row prefix sums (``ny, nx + 1``).

    One raster of row sums per half-width ``w`` (slices of the prefix sums padded by
    their edge values), added shifted by each disk row ``dy`` with that width.
    """
    ny, nx = prefix.shape[0], prefix.shape[1] - 1
    dys, ws = row_widths(r2)
    pad = int(ws.max()) + 1
    ext = np.concatenate([np.zeros((ny, pad), np.int64), prefix, np.repeat(prefix[:, -1:], pad, axis=1)], axis=1)
    total = np.zeros((ny, nx), np.int64)
    rows: dict[int, np.ndarray] = {}
    for dy, w in zip(dys.tolist(), ws.tolist(), strict=True):
        if w not in rows:  # sum over the columns [x - w, x + w] of each row (clipped at the edges)
            rows[w] = ext[:, pad + w + 1:pad + w + 1 + nx] - ext[:, pad - w:pad - w + nx]
        if abs(dy) < ny:
            total[max(0, -dy):ny - max(0, dy)] += rows[w][max(0, dy):ny + min(0, dy)]
    return total


def disk_sum(values: np.ndarray, r2: int, where: np.ndarray | None = None) -> np.ndarray:
    """Exact sum (int64) of integer ``values`` over the disk ``dx*dx + dy*dy <= r2`` around pixels.

    Parameters
    ----------
    values
        2-D integer or bool array (one tile); the disk is clipped at its edges
        (pixels outside the tile count as 0, as in a zero-padded convolution).
    r2
        Squared radius bound in pixels (an integer).
    where
        Bool mask of the pixels to evaluate (same shape), or None for every pixel.

    Returns
    -------
    numpy.ndarray
        int64, 1-D at the ``where`` pixels in row-major order, or 2-D (``where=None``).
    """
    return disk_sums(values, (r2,), pixels(values.shape, where))[0]


def disk_area(r2: int) -> int:
    """Number of pixels of the disk ``dx*dx + dy*dy <= r2``."""
    return int((2 * row_widths(r2)[1] + 1).sum())
