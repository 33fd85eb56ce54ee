"""A Sen2Cor-like Scene Classification Layer, wrong in the ways the real one is.

The SCL is computed at 20 m from the *observed* reflectances, as Sen2Cor does, with
its cloud probability evaluated on a 60 m grid (hence blocky cloud edges):

* cloud probability ramps with red (Sen2Cor's B4 test, 0.07 → 0.25) and blue reflectance
  and is damped for soil-like pixels (B11/B8 > 1.1) by a date-dependent factor 0.1–0.45:
  bright tailings and sand are therefore *sometimes* (about a third of the dates, more
  under haze) medium-probability cloud;
* thin cloud edges below the red threshold are missed (labelled vegetation etc.);
* cirrus comes from the truth (Sen2Cor uses B10, which we do not simulate);
* cloud shadows are found only where the truth shadow is dense, the pixel is dark and a
  60 m detection field says so (roughly 35 % of shadow area is missed);
* water needs NDWI > 0.15 and NIR < 0.07, so turbid ochre ponds and dredge plumes come
  out *not vegetated* (5) rather than water (6);
* very dark land (deep terrain shadow) is labelled *dark area* (2).
"""

from __future__ import annotations

import numpy as np

from ..bands import SCL
from .noise import key_of, value_noise

__all__ = ["classify"]


def _block(a: np.ndarray, k: int) -> np.ndarray:
    ny, nx = a.shape[0] // k * k, a.shape[1] // k * k
    return a[:ny, :nx].reshape(ny // k, k, nx // k, k).mean(axis=(1, 3))


def _up(a: np.ndarray, k: int, shape: tuple[int, int]) -> np.ndarray:
    out = np.repeat(np.repeat(a, k, 0), k, 1)
    pad = ((0, max(0, shape[0] - out.shape[0])), (0, max(0, shape[1] - out.shape[1])))
    return np.pad(out, pad, mode="edge")[: shape[0], : shape[1]]


def classify(r20: dict[str, np.ndarray], shadow: np.ndarray, cirrus: np.ndarray, xs20: np.ndarray,
             ys20: np.ndarray, seed: int, date_key: str, soil_bias: float) -> np.ndarray:
    """SCL codes (uint8) at 20 m from 20 m reflectances and truth shadow/cirrus opacity.

    ``xs20``/``ys20`` are the world coordinates of the 20 m pixel centres, used for the
    seamless 60 m detection noise.
    """
    blue, green, red, nir, sw1 = (r20[k] for k in ("blue", "green", "red", "nir", "swir16"))
    shape = red.shape
    ratio = sw1 / np.maximum(nir, 1e-3)
    p = np.clip((red - 0.07) / 0.18, 0, 1) * np.clip((blue - 0.05) / 0.12, 0, 1)
    p = np.where(ratio > 1.1, p * (0.1 + 0.35 * soil_bias), p)
    p = _up(_block(p, 3), 3, shape)
    det = value_noise(xs20, ys20, 90.0, key_of(seed, "scl", date_key))  # 60-120 m patches in [-1, 1]
    ndvi = (nir - red) / np.maximum(nir + red, 1e-3)
    ndwi = (green - nir) / np.maximum(green + nir, 1e-3)
    scl = np.where(ndvi > 0.40, SCL.VEGETATION, SCL.NOT_VEGETATED).astype(np.uint8)
    scl[(ndwi > 0.15) & (nir < 0.07)] = SCL.WATER
    scl[(nir < 0.10) & (ndwi < 0.0) & ((blue + green + red) < 0.06)] = SCL.DARK
    scl[(shadow > 0.45) & (nir < 0.22) & (det > -0.35) & (p < 0.35)] = SCL.CLOUD_SHADOW
    scl[(p >= 0.2) & (p < 0.35)] = SCL.UNCLASSIFIED
    scl[(cirrus > 0.06) & (p < 0.35)] = SCL.THIN_CIRRUS
    scl[p >= 0.35] = SCL.CLOUD_MEDIUM
    scl[p >= 0.65] = SCL.CLOUD_HIGH
    return scl
