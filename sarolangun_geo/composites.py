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


def _in_memory_alike(sub: xr.Dataset, clear: xr.DataArray) -> bool:
    """Whether the bands of ``sub`` (float) and ``clear`` are numpy arrays on the same dims and indexes."""
    return isinstance(clear.data, np.ndarray) and all(
        isinstance(v.data, np.ndarray) and v.dtype.kind == "f" and v.dims == clear.dims
        for v in sub.data_vars.values()) and all(
        k in sub.indexes and sub.indexes[k].equals(clear.indexes[k]) for k in clear.indexes)


def _clear_mean(values: np.ndarray, clear: np.ndarray) -> np.ndarray:
    """Mean of the clear, non-NaN ``values`` along the last axis (NaN where none).

    The same arithmetic as ``np.nanmean`` of the values with the non-clear ones
    set to NaN (what ``mask_clear(...).mean(..., skipna=True)`` computes), in
    fewer passes: the same float sums in the same order, then the same division.
    """
    values, clear = np.moveaxis(values, -1, 0), np.moveaxis(clear, -1, 0)  # back to (time, ...)
    valid = clear & ~np.isnan(values)
    cnt = np.sum(valid, axis=0, dtype=np.intp)
    tot = np.sum(np.where(valid, values, 0), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.divide(tot, cnt, out=tot, casting="unsafe")


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
    names = bands or tuple(str(v) for v in ds.data_vars if v != "scl")
    weeks = sorted(set(labels))
    parts = []
    for w in weeks:
        idx = np.flatnonzero(labels == w)
        n = len(idx)
        # the usual time-sorted cube: a slice (a view, not a copy)
        sel = slice(idx[0], idx[-1] + 1) if idx[-1] - idx[0] + 1 == n else idx
        # the median of one or two values is their mean: exact, and much cheaper than nanmedian
        how = "mean" if reducer == "median" and n <= 2 else reducer
        sub, sub_clear = ds[list(names)].isel(time=sel), clear.isel(time=sel)
        if how == "mean" and _in_memory_alike(sub, sub_clear):
            red = xr.Dataset({b: xr.apply_ufunc(_clear_mean, sub[b], sub_clear, input_core_dims=[["time"]] * 2)
                              for b in names})
        else:
            red = getattr(mask_clear(sub, sub_clear, names), how)("time", skipna=True)
        red = red.astype("float32", copy=False)
        red["n_clear"] = sub_clear.sum("time").astype("uint16")
        red["n_obs"] = xr.full_like(red["n_clear"], n, dtype="uint16")
        parts.append(red)
    out = (xr.concat(parts, dim="week", coords="minimal", compat="override") if len(parts) > 1
           else parts[0].expand_dims("week"))  # the same Dataset, without copying the arrays
    starts = [np.datetime64(week_bounds(w)[0], "ns") for w in weeks]
    return out.assign_coords(week=("week", np.array(weeks, dtype=object)), week_start=("week", starts))
