"""Seamless, seeded noise as a function of world coordinates (EPSG:32748 metres).

Every random field of the simulator is lattice *value noise* whose lattice values
come from an integer hash of ``(ix, iy, key)``.  Because the value at a point depends
only on its coordinates and the key, any tile (with any margin) computes exactly the
same field as its neighbours: generation is tile by tile with no seams and no state.
Coarse octaves are interpolated with two small matrix products (separable smoothstep
weights); fine octaves by gathering.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

__all__ = ["fractal", "hash_uniform", "key_of", "pixel_normal", "pixel_uniform", "rng_for", "value_noise"]

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_M3 = np.uint64(0xBF58476D1CE4E5B9)
_M4 = np.uint64(0x94D049BB133111EB)


def key_of(*parts: object) -> int:
    """A stable 63-bit key from any printable parts (seed, layer name, date ...)."""
    h = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") >> 1


def rng_for(*parts: object) -> np.random.Generator:
    """A numpy Generator seeded from :func:`key_of` of the parts."""
    return np.random.default_rng(key_of(*parts))


def hash_uniform(ix: np.ndarray, iy: np.ndarray, key: int) -> np.ndarray:
    """Uniform [0, 1) float32 from integer lattice coordinates and a key (splitmix64)."""
    with np.errstate(over="ignore"):
        h = (ix.astype(np.int64).astype(np.uint64) * _M1) ^ (iy.astype(np.int64).astype(np.uint64) * _M2)
        h ^= np.uint64(key)
        h ^= h >> np.uint64(30)
        h *= _M3
        h ^= h >> np.uint64(27)
        h *= _M4
        h ^= h >> np.uint64(31)
    return ((h >> np.uint64(40)).astype(np.float32) / np.float32(2**24)).astype(np.float32)


def _weights(coords: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray, int]:
    u = coords / spacing
    i0 = np.floor(u).astype(np.int64)
    f = (u - i0).astype(np.float32)
    w = f * f * (3 - 2 * f)
    return i0, w, int(i0.min())


def value_noise(xs: np.ndarray, ys: np.ndarray, spacing: float, key: int) -> np.ndarray:
    """Smooth value noise in [-1, 1] on the grid ``ys x xs`` (1-D pixel-centre coordinates).

    Returns float32 of shape ``(len(ys), len(xs))``.
    """
    ix0, wx, bx = _weights(np.asarray(xs, "float64"), spacing)
    iy0, wy, by = _weights(np.asarray(ys, "float64"), spacing)
    nx_l = int(ix0.max()) - bx + 2
    ny_l = int(iy0.max()) - by + 2
    gx, gy = np.meshgrid(np.arange(bx, bx + nx_l), np.arange(by, by + ny_l))
    lat = hash_uniform(gx, gy, key) * 2 - 1
    cx, cy = ix0 - bx, iy0 - by
    if nx_l * ny_l < 200 * 200:
        mx = np.zeros((len(xs), nx_l), np.float32)
        r = np.arange(len(xs))
        mx[r, cx] = 1 - wx
        mx[r, cx + 1] += wx
        my = np.zeros((len(ys), ny_l), np.float32)
        r = np.arange(len(ys))
        my[r, cy] = 1 - wy
        my[r, cy + 1] += wy
        return (my @ lat @ mx.T).astype(np.float32)
    a = lat[cy[:, None], cx[None, :]]
    b = lat[cy[:, None], cx[None, :] + 1]
    c = lat[cy[:, None] + 1, cx[None, :]]
    d = lat[cy[:, None] + 1, cx[None, :] + 1]
    wx_, wy_ = wx[None, :], wy[:, None]
    top = a + (b - a) * wx_
    bot = c + (d - c) * wx_
    return (top + (bot - top) * wy_).astype(np.float32)


def fractal(xs: np.ndarray, ys: np.ndarray, spacing: float, key: int, octaves: int = 5,
            persistence: float = 0.5, min_spacing: float = 0.0) -> np.ndarray:
    """Fractal (fBm) sum of value-noise octaves, normalised to roughly unit std.

    ``spacing`` is the largest feature size in metres; each octave halves it.
    Octaves finer than ``min_spacing`` are skipped.
    """
    out = np.zeros((len(ys), len(xs)), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        s = spacing / 2**o
        if s < min_spacing:
            break
        out += np.float32(amp) * value_noise(xs, ys, s, key + 7919 * o)
        total += amp**2
        amp *= persistence
    return out / np.float32(0.36 * np.sqrt(total))


def pixel_uniform(xs: np.ndarray, ys: np.ndarray, key: int, res: float = 10.0) -> np.ndarray:
    """Per-pixel white noise in [0, 1) tied to the pixel's world position (seamless)."""
    ix = np.floor(np.asarray(xs) / res).astype(np.int64)
    iy = np.floor(np.asarray(ys) / res).astype(np.int64)
    gx, gy = np.meshgrid(ix, iy)
    return hash_uniform(gx, gy, key)


def pixel_normal(shape: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """Standard-normal float32 noise of ``shape`` from ``rng``."""
    return rng.standard_normal(tuple(shape), dtype=np.float32)
