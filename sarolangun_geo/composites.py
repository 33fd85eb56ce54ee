"""Per-ISO-week composites of clear observations, and clear-observation counts.

A week is the ISO week (Monday..Sunday) labelled ``YYYY-Www`` (``2025-W07``),
the publishing unit of the project.  The composite of a band is the per-pixel
median (or mean/min/max) of its *clear* observations in that week; pixels with
no clear observation are NaN and ``n_clear`` says how many observations went
in.  Everything is lazy on dask-backed input.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

__all__ = [
    "iso_week",
    "iso_week_labels",
    "mask_clear",
    "week_bounds",
    "weekly_composite",
]

Reducer = Literal["median", "mean", "min", "max"]


def iso_week(date: dt.date | dt.datetime | np.datetime64 | str) -> str:
    """ISO week label ``YYYY-Www`` of a date (``2025-01-01 -> 2025-W01``)."""
    ts = pd.Timestamp(date)
    y, w, _ = ts.isocalendar()
    return f"{y:04d}-W{w:02d}"


def iso_week_labels(time: xr.DataArray | np.ndarray | pd.DatetimeIndex) -> np.ndarray:
    """ISO week labels for each element of a datetime array (object array of str)."""
    idx = pd.DatetimeIndex(np.asarray(time))
    return np.array([iso_week(t) for t in idx], dtype=object)


def week_bounds(week: str) -> tuple[dt.date, dt.date]:
    """First (Monday) and last (Sunday) date of ISO week ``YYYY-Www``."""
    y, w = week.split("-W")
    start = dt.date.fromisocalendar(int(y), int(w), 1)
    return start, start + dt.timedelta(days=6)


def mask_clear(ds: xr.Dataset, clear: xr.DataArray, bands: tuple[str, ...] | None = None) -> xr.Dataset:
    """Reflectance bands of ``ds`` with non-clear observations set to NaN (``scl`` dropped)."""
    names = bands or tuple(str(v) for v in ds.data_vars if v != "scl")
    return xr.Dataset({b: ds[b].where(clear) for b in names})


def weekly_composite(ds: xr.Dataset, clear: xr.DataArray, *, reducer: Reducer = "median",
                     bands: tuple[str, ...] | None = None) -> xr.Dataset:
    """Composite the clear observations of each ISO week.

    Parameters
    ----------
    ds
        Cube with dims ``(time, y, x)`` (float reflectance bands, NaN nodata).
    clear
        bool ``(time, y, x)`` from :func:`sarolangun_geo.masking.clear_mask`.
    reducer
        ``"median"`` (default, robust to residual cloud), ``"mean"``, ``"min"``, ``"max"``.
    bands
        Bands to composite (default: every data variable except ``scl``).

    Returns
    -------
    xr.Dataset
        dims ``(week, y, x)``: the bands (float32, NaN where no clear obs),
        ``n_clear`` (uint16) and ``n_obs`` (uint16, acquisitions in the week);
        coord ``week`` (``YYYY-Www``, sorted) and ``week_start`` (datetime64).
    """
    if ds.sizes.get("time", 0) == 0:
        raise ValueError("weekly_composite: the cube has no time steps; load a period with acquisitions")
    labels = iso_week_labels(ds.time.values)
    masked = mask_clear(ds, clear, bands)
    weeks = sorted(set(labels))
    parts = []
    for w in weeks:
        sel = np.flatnonzero(labels == w)
        sub = masked.isel(time=sel)
        # the median of one or two values is their mean: exact, and much cheaper than nanmedian
        how = "mean" if reducer == "median" and len(sel) <= 2 else reducer
        red = getattr(sub, how)("time", skipna=True)
        red = red.astype("float32")
        red["n_clear"] = clear.isel(time=sel).sum("time").astype("uint16")
        red["n_obs"] = xr.full_like(red["n_clear"], len(sel), dtype="uint16")
        parts.append(red)
    out = xr.concat(parts, dim="week", coords="minimal", compat="override")
    starts = [np.datetime64(week_bounds(w)[0], "ns") for w in weeks]
    return out.assign_coords(week=("week", np.array(weeks, dtype=object)), week_start=("week", starts))
