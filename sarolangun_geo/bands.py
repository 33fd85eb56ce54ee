"""The band table: names, native resolution, DN scaling and SCL codes.

This module is the only place that knows how Sentinel-2 L2A digital numbers
(DN) map to surface reflectance.  Bands go by their STAC common names
(``blue, green, red, nir, swir16, swir22``) plus ``scl``.

Scaling: ``reflectance = DN * 0.0001 + offset`` where ``offset`` is ``-0.1``
for processing baseline >= 04.00 (in force from 2022-01-25, the ``BOA_ADD_OFFSET``
of -1000 DN) and ``0`` before.  DN 0 is nodata.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "ALL_BANDS",
    "BANDS",
    "BOA_OFFSET",
    "NODATA",
    "OFFSET_CHANGE_DATE",
    "REFLECTANCE_BANDS",
    "SCALE",
    "SCL",
    "SCL_CLOUDY",
    "SCL_NAMES",
    "Band",
    "baseline_for_date",
    "dn_to_reflectance",
    "offset_for",
    "offset_for_baseline",
    "reflectance_to_dn",
]

SCALE = 0.0001
BOA_OFFSET = -0.1
NODATA = 0
#: First sensing date processed with baseline 04.00 and its -1000 DN offset.
OFFSET_CHANGE_DATE = dt.date(2022, 1, 25)


@dataclass(frozen=True)
class Band:
    """One Sentinel-2 band as used by the project."""

    name: str
    s2_band: str
    resolution: int
    wavelength_um: float | None
    is_reflectance: bool = True


BANDS: Mapping[str, Band] = MappingProxyType(
    {
        "blue": Band("blue", "B02", 10, 0.490),
        "green": Band("green", "B03", 10, 0.560),
        "red": Band("red", "B04", 10, 0.665),
        "nir": Band("nir", "B08", 10, 0.842),
        "swir16": Band("swir16", "B11", 20, 1.610),
        "swir22": Band("swir22", "B12", 20, 2.190),
        "scl": Band("scl", "SCL", 20, None, is_reflectance=False),
    }
)
REFLECTANCE_BANDS: tuple[str, ...] = tuple(b for b, v in BANDS.items() if v.is_reflectance)
ALL_BANDS: tuple[str, ...] = tuple(BANDS)


class SCL:
    """Scene Classification Layer codes of Sen2Cor."""

    NO_DATA = 0
    SATURATED = 1
    DARK = 2  # dark area pixels / topographic cast shadow
    CLOUD_SHADOW = 3
    VEGETATION = 4
    NOT_VEGETATED = 5
    WATER = 6
    UNCLASSIFIED = 7
    CLOUD_MEDIUM = 8
    CLOUD_HIGH = 9
    THIN_CIRRUS = 10
    SNOW = 11


SCL_NAMES: Mapping[int, str] = MappingProxyType(
    {v: k.lower() for k, v in vars(SCL).items() if k.isupper()}
)
#: Codes that a clear-sky mask rejects.
SCL_CLOUDY: frozenset[int] = frozenset(
    {SCL.NO_DATA, SCL.SATURATED, SCL.CLOUD_SHADOW, SCL.CLOUD_MEDIUM, SCL.CLOUD_HIGH,
     SCL.THIN_CIRRUS, SCL.SNOW}
)


def baseline_for_date(date: dt.date | dt.datetime) -> str:
    """Processing baseline that ESA's archive carries for a sensing date.

    Returns ``"04.00"`` (or later) from 2022-01-25 and ``"03.01"`` before.
    """
    d = date.date() if isinstance(date, dt.datetime) else date
    return "05.10" if d >= dt.date(2023, 12, 13) else ("04.00" if d >= OFFSET_CHANGE_DATE else "03.01")


def offset_for_baseline(processing_baseline: str | float | None,
                        boa_offset_applied: bool = False) -> float:
    """Reflectance offset to add after scaling, for a processing baseline.

    Parameters
    ----------
    processing_baseline
        ``s2:processing_baseline`` such as ``"04.00"``.
    boa_offset_applied
        ``earthsearch:boa_offset_applied``: when true the provider already
        removed the -1000 DN offset from the pixels, so no offset is added.
    """
    if boa_offset_applied or processing_baseline is None:
        return 0.0
    try:
        pb = float(processing_baseline)
    except (TypeError, ValueError):
        from .errors import BandError

        raise BandError(
            f"s2:processing_baseline {processing_baseline!r} is not a number like '04.00'; "
            "fix the item metadata or pass the offset explicitly"
        ) from None
    return BOA_OFFSET if pb >= 4.0 else 0.0


def offset_for(date: dt.date | dt.datetime) -> float:
    """Reflectance offset in force for a sensing date (see :func:`baseline_for_date`)."""
    return offset_for_baseline(baseline_for_date(date))


def reflectance_to_dn(reflectance, offset: float):  # type: ignore[no-untyped-def]
    """Encode reflectance as uint16 DN; NaN becomes nodata 0, valid DN stays >= 1.

    Works on numpy arrays (the simulator's writer); returns ``uint16``.
    """
    import numpy as np

    r = np.asarray(reflectance, dtype="float64")
    dn = np.rint((r - offset) / SCALE)
    dn = np.clip(dn, 1, 65535)
    dn = np.where(np.isnan(r), NODATA, dn)
    return dn.astype("uint16")


def dn_to_reflectance(dn, offset: float):  # type: ignore[no-untyped-def]
    """Decode DN (numpy or dask or xarray) to float32 reflectance with NaN for nodata."""
    valid = dn != NODATA
    out = (dn.astype("float32") * SCALE + offset).astype("float32")
    try:
        return out.where(valid)  # xarray
    except AttributeError:
        import numpy as np

        return np.where(valid, out, np.float32("nan")).astype("float32")
