"""Spectral indices as named-argument functions.

Every function takes bands by name (surface reflectance, float, NaN = nodata)
and works the same on numpy arrays, dask arrays and xarray objects: it only
uses arithmetic and ``where``, never computes, never mutates its inputs.
NaN in any input gives NaN out; a zero denominator gives NaN (not ``inf``).

This is a small hand-written module rather than ``spyndex``: the rules need
eight indices, and spyndex's expression evaluator would add a dependency and
hide the formulas that the detection thresholds are written against.

Formulas (Sentinel-2 band common names):

========  ===========================================  ======================
index     formula                                      reference
========  ===========================================  ======================
NDVI      (nir - red) / (nir + red)                    Rouse et al. 1974
MNDWI     (green - swir16) / (green + swir16)          Xu 2006
NDWI      (green - nir) / (green + nir)                McFeeters 1996
BSI       ((swir16+red) - (nir+blue)) / (... + ...)    Rikimaru et al. 2002
NDTI      (red - green) / (red + green)                Lacaux et al. 2007
NBR       (nir - swir22) / (nir + swir22)              Key & Benson 2006
HOT       blue - 0.5 * red                             Zhang et al. 2002
whiteness mean |band / mean(vis) - 1| over blue..red   Zhu & Woodcock 2012
========  ===========================================  ======================
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "INDEX_FUNCTIONS",
    "bsi",
    "compute_indices",
    "hot",
    "mndwi",
    "nbr",
    "ndti",
    "ndvi",
    "ndwi",
    "normalized_difference",
    "visible_brightness",
    "whiteness",
]

ArrayLike = Any  # numpy / dask / xarray


def _where(cond: ArrayLike, a: ArrayLike, b: ArrayLike) -> ArrayLike:
    """``where`` that keeps the container type (xarray keeps coords, dask stays lazy)."""
    if hasattr(cond, "dims") or hasattr(a, "dims"):
        import xarray as xr

        return xr.where(cond, a, b, keep_attrs=True)
    return np.where(cond, a, b)  # dispatches to dask via __array_function__


def _safe_div(num: ArrayLike, den: ArrayLike) -> ArrayLike:
    """``num / den`` with NaN where ``den == 0`` (no divide-by-zero warning)."""
    # the raw arrays (``.data`` of xarray objects; a numpy array's own ``.data`` is its buffer)
    raw_n = num.data if hasattr(num, "dims") else num
    raw_d = den.data if hasattr(den, "dims") else den
    if isinstance(raw_n, np.ndarray) and isinstance(raw_d, np.ndarray) and raw_n.shape == raw_d.shape \
            and np.result_type(raw_n, raw_d).kind == "f" \
            and type(num) is type(den) and getattr(num, "dims", None) == getattr(den, "dims", None):
        # numpy fast path (one pass instead of three): the same values as the general path
        dtype = np.result_type(raw_n, raw_d)
        q = np.full(raw_n.shape, np.nan, dtype)
        np.divide(raw_n, raw_d, out=q, where=raw_d != 0)
        return num.copy(data=q) if hasattr(num, "dims") else q
    nonzero = den != 0
    den_safe = _where(nonzero, den, 1.0)
    return _where(nonzero, num / den_safe, np.nan)


def normalized_difference(a: ArrayLike, b: ArrayLike) -> ArrayLike:
    """``(a - b) / (a + b)``, NaN where ``a + b == 0`` or an input is NaN.

    Same shape and container as the inputs; float dtype of the inputs.
    """
    return _safe_div(a - b, a + b)


def ndvi(nir: ArrayLike, red: ArrayLike) -> ArrayLike:
    """Normalized difference vegetation index, -1..1 (forest ~0.8, bare soil ~0.1)."""
    return normalized_difference(nir, red)


def mndwi(green: ArrayLike, swir16: ArrayLike) -> ArrayLike:
    """Modified normalized difference water index (Xu 2006), > 0 on open water."""
    return normalized_difference(green, swir16)


def ndwi(green: ArrayLike, nir: ArrayLike) -> ArrayLike:
    """McFeeters' NDWI, > 0 on open water (also high on turbid water)."""
    return normalized_difference(green, nir)


def bsi(blue: ArrayLike, red: ArrayLike, nir: ArrayLike, swir16: ArrayLike) -> ArrayLike:
    """Bare soil index, -1..1; > 0 on exposed soil and tailings, < 0 on vegetation."""
    return normalized_difference(swir16 + red, nir + blue)


def ndti(red: ArrayLike, green: ArrayLike) -> ArrayLike:
    """Normalized difference turbidity index; rises with suspended sediment in water."""
    return normalized_difference(red, green)


def nbr(nir: ArrayLike, swir22: ArrayLike) -> ArrayLike:
    """Normalized burn ratio; drops on cleared and burnt land."""
    return normalized_difference(nir, swir22)


def hot(blue: ArrayLike, red: ArrayLike, slope: float = 0.5) -> ArrayLike:
    """Haze-optimised transform ``blue - slope * red`` (reflectance units).

    Clear land lies near a 'clear line' where blue rises about half as fast as
    red; haze and thin cloud add much more to blue than to red, so ``hot`` grows
    with haze thickness.  Thresholds live in ``detection.toml`` ``[masking]``.
    """
    return blue - slope * red


def visible_brightness(blue: ArrayLike, green: ArrayLike, red: ArrayLike) -> ArrayLike:
    """Mean visible reflectance ``(blue + green + red) / 3``."""
    return (blue + green + red) / 3.0


def whiteness(blue: ArrayLike, green: ArrayLike, red: ArrayLike) -> ArrayLike:
    """Spectral flatness of the visible bands (Fmask 'whiteness'), >= 0.

    ``mean(|b / m - 1|)`` over blue, green, red with ``m`` their mean.  Clouds
    are white (< ~0.2); ochre tailings, soil and turbid water are coloured
    (blue well below red, > ~0.25).  NaN where the visible mean is 0.
    """
    m = visible_brightness(blue, green, red)
    return (abs(_safe_div(blue, m) - 1.0) + abs(_safe_div(green, m) - 1.0) + abs(_safe_div(red, m) - 1.0)) / 3.0


#: Name -> (function, bands it needs); drives :func:`compute_indices`.
INDEX_FUNCTIONS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "ndvi": (ndvi, ("nir", "red")),
    "mndwi": (mndwi, ("green", "swir16")),
    "ndwi": (ndwi, ("green", "nir")),
    "bsi": (bsi, ("blue", "red", "nir", "swir16")),
    "ndti": (ndti, ("red", "green")),
    "nbr": (nbr, ("nir", "swir22")),
    "hot": (hot, ("blue", "red")),
    "whiteness": (whiteness, ("blue", "green", "red")),
}


def compute_indices(ds: Any, names: tuple[str, ...] = ("ndvi", "bsi", "mndwi", "ndti")) -> Any:
    """A Dataset of the named indices computed from the bands of ``ds`` (xarray Dataset).

    Lazy when ``ds`` is dask-backed; output variables are float32.
    """
    import xarray as xr

    out = {}
    for name in names:
        func, needs = INDEX_FUNCTIONS[name]
        missing = [b for b in needs if b not in ds]
        if missing:
            from .errors import BandError

            raise BandError(f"index {name!r} needs bands {list(needs)}; the dataset lacks {missing}. "
                            "Load them with sources.load_cube(bands=...)")
        out[name] = func(**{b: ds[b] for b in needs}).astype("float32")
    return xr.Dataset(out)
