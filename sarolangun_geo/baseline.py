"""Baseline statistics as persistent, incrementally updated per-tile state.

What is kept
------------
For every pixel, every *season* (wet / dry, months from the config) and every
baseline variable (``ndvi, bsi, mndwi, ndti`` and the reflectances ``nir,
swir16`` used by the shadow test), a **ring buffer of the last N clear
observations** (``buf_<var>``, int16 codes of value / 1e-4, dims ``(season, slot, y, x)``, int16 codes of ``value / 1e-4``) and the
number of clear observations ever folded in (``count``, ``(season, y, x)``).
The next clear value of a pixel goes to slot ``count % N``.  A month-of-year
water climatology (``month_obs``, ``month_water``: clear and water looks per
calendar month, uint16, never forgotten) remembers seasonal flooding beyond
the buffer's window.

Why a ring buffer: the statistics the detector needs (median, MAD, quantiles,
water/vegetation frequency) are then **exact** over a well-defined window –
"the last N clear observations of this pixel in this season" – instead of
approximate sketches, and the memory is bounded (``6 vars x 2 seasons x N x
2 bytes`` per pixel: 384 MB per 10 km tile at N = 16, much less compressed).
int16 codes keep values to 1e-4, far below any threshold, and decode fast.

Incremental and idempotent
--------------------------
:func:`update_state` folds a cube of new acquisitions into a state; the ISO
dates already folded are recorded in ``state.attrs["acquisitions"]`` and are
skipped on a rerun, so re-running a week (or a backfill) changes nothing.  A
backfill is just :func:`update_state` on :func:`empty_state` with the history.
Pixels flagged by ``exclude`` (ongoing detections) are not folded, so an
active mine does not become "normal" after N observations.

Storage
-------
:func:`write_state` / :func:`read_state` keep one zarr store per canonical tile
(``<state_dir>/<name>/<tile_id>.zarr``), written atomically (temp + rename).
The same helpers carry the week-to-week detection state of
:mod:`sarolangun_geo.change.mining`.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .errors import BaselineError
from .grid import check_grid, iter_tile_geoboxes
from .indices import compute_indices

__all__ = [
    "BASELINE_VARS",
    "BaselineParams",
    "baseline_stats",
    "empty_state",
    "read_state",
    "reference_bands",
    "season_of",
    "state_acquisitions",
    "update_state",
    "write_state",
]

#: Variables kept in the ring buffers.
BASELINE_VARS: tuple[str, ...] = ("ndvi", "bsi", "mndwi", "ndti", "nir", "swir16")
_INDEX_VARS = ("ndvi", "bsi", "mndwi", "ndti")
#: Ring buffers hold ``round(value / BUF_SCALE)`` as int16; ``BUF_NODATA`` marks an empty slot.
BUF_SCALE = 1e-4
BUF_NODATA = -32768
_SEASONS = ("wet", "dry")


@dataclass(frozen=True)
class BaselineParams:
    """Baseline settings (``[baseline]`` of ``data/config/detection.toml``)."""

    buffer_size: int = 16
    dry_months: tuple[int, ...] = (6, 7, 8, 9)
    min_obs_season: int = 5
    min_obs: int = 5
    min_obs_month: int = 2
    water_mndwi: float = 0.1
    permanent_water_freq: float = 0.75
    seasonal_water_freq: float = 0.2
    veg_ndvi: float = 0.55
    vegetated_freq: float = 0.7
    mad_floor: float = 0.03


def season_of(time: Any, params: BaselineParams) -> np.ndarray:
    """Season index (0 wet, 1 dry) of each datetime in ``time``."""
    months = pd.DatetimeIndex(np.atleast_1d(np.asarray(time))).month
    return np.isin(months, params.dry_months).astype("int8")


def empty_state(template: xr.DataArray | xr.Dataset, params: BaselineParams) -> xr.Dataset:
    """A state with no observation, on the ``(y, x)`` grid of ``template`` (numpy-backed)."""
    check_grid(template)
    y, x = template["y"], template["x"]
    ny, nx = y.size, x.size
    n = params.buffer_size
    coords = {"season": np.arange(len(_SEASONS), dtype="int8"), "slot": np.arange(n), "y": y, "x": x}
    if "spatial_ref" in template.coords:
        coords["spatial_ref"] = template.coords["spatial_ref"]
    data: dict[str, Any] = {
        f"buf_{v}": (("season", "slot", "y", "x"), np.full((2, n, ny, nx), BUF_NODATA, dtype="int16"))
        for v in BASELINE_VARS
    }
    data["count"] = (("season", "y", "x"), np.zeros((2, ny, nx), dtype="uint16"))
    data["month_obs"] = (("month", "y", "x"), np.zeros((12, ny, nx), dtype="uint16"))
    data["month_water"] = (("month", "y", "x"), np.zeros((12, ny, nx), dtype="uint16"))
    coords["month"] = np.arange(1, 13, dtype="int8")
    ds = xr.Dataset(data, coords=coords)
    ds.attrs = {"acquisitions": "[]", "seasons": "0 wet, 1 dry", "buffer_size": n,
                "dry_months": json.dumps(list(params.dry_months))}
    return ds


def state_acquisitions(state: xr.Dataset) -> list[str]:
    """ISO dates of the acquisitions already folded into ``state``."""
    return list(json.loads(state.attrs.get("acquisitions", "[]")))


def _check_compatible(state: xr.Dataset, params: BaselineParams) -> None:
    if int(state.attrs.get("buffer_size", -1)) != params.buffer_size or state.sizes["slot"] != params.buffer_size:
        raise BaselineError(
            f"baseline state has buffer_size {state.attrs.get('buffer_size')}, the config asks for "
            f"{params.buffer_size}; rebuild the baseline with a backfill or restore the old setting"
        )
    if json.loads(state.attrs.get("dry_months", "[]")) != list(params.dry_months):
        raise BaselineError("baseline state was built with other dry_months; rebuild it with a backfill")


def update_state(state: xr.Dataset, cube: xr.Dataset, clear: xr.DataArray, params: BaselineParams,
                 exclude: xr.DataArray | None = None) -> xr.Dataset:
    """Fold the clear observations of ``cube`` into ``state`` (returns a new state).

    Parameters
    ----------
    state
        From :func:`empty_state`, :func:`read_state` or a previous update.
    cube
        Bands ``blue, green, red, nir, swir16`` (float reflectance), dims
        ``(time, y, x)`` on the state's grid.
    clear
        bool ``(time, y, x)`` clear mask.
    exclude
        Optional bool ``(y, x)`` or ``(time, y, x)``: pixels not to fold in
        (ongoing detections).

    Acquisitions whose date is already recorded in the state are skipped, so
    the update is idempotent.  Lazy inputs stay lazy (the graph grows with
    the number of acquisitions; compute or persist between batches).
    """
    _check_compatible(state, params)
    check_grid(cube, check_grid(state))
    done = set(state_acquisitions(state))
    dates = [str(pd.Timestamp(t).date()) for t in cube.time.values]
    idx = [i for i, d in enumerate(dates) if d not in done]
    order = sorted(idx, key=lambda i: cube.time.values[i])
    if not order:
        return state
    keep = ("time", "y", "x", "spatial_ref")
    cube = cube.drop_vars([c for c in cube.coords if c not in keep])
    clear = clear.drop_vars([c for c in clear.coords if c not in keep])
    if exclude is not None:
        exclude = exclude.drop_vars([c for c in exclude.coords if c not in keep])
    values = compute_indices(cube, _INDEX_VARS)
    values["nir"] = cube["nir"].astype("float32")
    values["swir16"] = cube["swir16"].astype("float32")
    seasons = season_of(cube.time.values, params)
    slot = xr.DataArray(np.arange(params.buffer_size), dims="slot")
    bufs = {(s, v): state[f"buf_{v}"].isel(season=s, drop=True) for s in range(2) for v in BASELINE_VARS}
    counts = {s: state["count"].isel(season=s, drop=True) for s in range(2)}
    months = pd.DatetimeIndex(cube.time.values).month
    month_obs = {m: state["month_obs"].sel(month=m, drop=True) for m in range(1, 13)}
    month_water = {m: state["month_water"].sel(month=m, drop=True) for m in range(1, 13)}
    for i in order:
        s = int(seasons[i])
        ok = clear.isel(time=i).drop_vars("time", errors="ignore")
        val_t = values.isel(time=i).drop_vars("time", errors="ignore")
        ok = ok & val_t["ndvi"].notnull()
        if exclude is not None:
            ex = exclude.isel(time=i).drop_vars("time", errors="ignore") if "time" in exclude.dims else exclude
            ok = ok & ~ex.astype(bool)
        write = (slot == (counts[s] % params.buffer_size)) & ok
        codes = {v: _encode(val_t[v]) for v in BASELINE_VARS}
        for v in BASELINE_VARS:
            bufs[(s, v)] = xr.where(write, codes[v], bufs[(s, v)]).astype("int16")
        counts[s] = (counts[s] + ok.astype("uint16")).astype("uint16")
        m = int(months[i])
        month_obs[m] = (month_obs[m] + ok.astype("uint16")).astype("uint16")
        wet = ok & (val_t["mndwi"] > params.water_mndwi)
        month_water[m] = (month_water[m] + wet.astype("uint16")).astype("uint16")
    season = xr.DataArray(np.arange(2, dtype="int8"), dims="season")
    out = state.copy()
    for v in BASELINE_VARS:
        buf = xr.concat([bufs[(0, v)], bufs[(1, v)]], dim=season)
        out[f"buf_{v}"] = buf.transpose("season", "slot", "y", "x").astype("int16")
    out["count"] = xr.concat([counts[0], counts[1]], dim=season).transpose("season", "y", "x").astype("uint16")
    month = xr.DataArray(np.arange(1, 13, dtype="int8"), dims="month")
    out["month_obs"] = xr.concat([month_obs[m] for m in range(1, 13)], dim=month).transpose("month", "y", "x")
    out["month_water"] = xr.concat([month_water[m] for m in range(1, 13)], dim=month).transpose("month", "y", "x")
    out.attrs = dict(state.attrs)
    out.attrs["acquisitions"] = json.dumps(sorted(done | {dates[i] for i in order}))
    return out


def _encode(v: xr.DataArray) -> xr.DataArray:
    """float -> int16 ring-buffer code (``round(v / BUF_SCALE)``, NaN -> ``BUF_NODATA``)."""
    code = np.clip(np.rint(v / BUF_SCALE), -32767, 32767)
    return xr.where(v.notnull(), code, BUF_NODATA).astype("int16")


def _decode(a: Any) -> Any:
    """int16 ring-buffer codes -> float32 values, NaN for ``BUF_NODATA`` (numpy, dask or xarray)."""
    if hasattr(a, "dims"):
        return (a.astype("float32") * np.float32(BUF_SCALE)).where(a != BUF_NODATA)
    return np.where(a == BUF_NODATA, np.float32(np.nan), a.astype("float32") * np.float32(BUF_SCALE))


def _sorted_stats(a: np.ndarray, quantiles: tuple[float, ...], with_mad: bool = True) -> np.ndarray:
    """Exact NaN-aware median, MAD and quantiles along the last axis (numpy kernel).

    ``a`` holds int16 ring-buffer codes.  Returns float32 values with a new
    last axis ``[median, mad_raw (if with_mad), *quantiles]`` (linear
    interpolation, as ``numpy.nanquantile``); NaN where a pixel has no value.
    The int16 codes are sorted directly (empty slots sort first), along the
    first axis, which numpy does several times faster than along a short
    last axis.
    """
    a = np.sort(np.moveaxis(np.asarray(a, dtype="int16"), -1, 0), axis=0)
    m = a.shape[0]
    n = (a != BUF_NODATA).sum(axis=0)
    empty = n == 0

    def q(arr: np.ndarray, frac: float, first: np.ndarray) -> np.ndarray:
        pos = np.maximum(n - 1, 0) * frac
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0)).astype(np.intp)
        vlo = np.take_along_axis(arr, np.minimum(first + lo, m - 1)[None], 0)[0].astype("float32")
        vhi = np.take_along_axis(arr, np.minimum(first + hi, m - 1)[None], 0)[0].astype("float32")
        out = (vlo + (vhi - vlo) * (pos - lo)) * np.float32(BUF_SCALE)
        return np.where(empty, np.float32(np.nan), out).astype("float32")

    first = (m - n).astype(np.intp)  # valid codes start after the empty slots
    med = q(a, 0.5, first)
    parts = [med]
    if with_mad:
        # deviations in half-code units, so a median halfway between two codes stays exact
        med2 = np.where(empty, 0, np.rint(2 * med / BUF_SCALE)).astype("int32")
        dev = np.abs(2 * a.astype("int32") - med2[None])
        dev = np.where(a == BUF_NODATA, np.iinfo("int32").max, dev)  # empty slots sort last
        parts.append(q(np.sort(dev, axis=0), 0.5, np.zeros_like(first)) / 2)
    parts += [q(a, f, first) for f in quantiles]
    return np.stack(parts, axis=-1)


def _robust(buf: xr.DataArray, dims: list[str], mad_floor: float,
            quantiles: tuple[float, ...] = (), with_mad: bool = True) -> list[xr.DataArray]:
    """[median, MAD x 1.4826 (floored) or None, *quantiles] of int16-coded ``buf`` over ``dims``."""
    stacked = buf.stack(_obs=dims) if len(dims) > 1 else buf.rename({dims[0]: "_obs"})
    if "_obs" in stacked.indexes:
        stacked = stacked.drop_vars([c for c in stacked.coords if c in ("_obs", *dims)])
    stacked = stacked.chunk({"_obs": -1}) if stacked.chunks else stacked
    k = 2 if with_mad else 1
    res = xr.apply_ufunc(_sorted_stats, stacked, kwargs={"quantiles": quantiles, "with_mad": with_mad},
                         input_core_dims=[["_obs"]], output_core_dims=[["_stat"]],
                         dask="parallelized", output_dtypes=["float32"],
                         dask_gufunc_kwargs={"output_sizes": {"_stat": k + len(quantiles)}})
    med = res.isel(_stat=0)
    mad = np.maximum(res.isel(_stat=1) * 1.4826, mad_floor).where(med.notnull()).astype("float32") \
        if with_mad else None
    return [med, mad, *[res.isel(_stat=k + i) for i in range(len(quantiles))]]


def baseline_stats(state: xr.Dataset, params: BaselineParams, when: Any = None) -> xr.Dataset:
    """Per-pixel robust statistics from a state, for the season of date ``when``.

    Returns a Dataset ``(y, x)`` with ``<v>_median`` for ``v`` in ndvi, bsi,
    mndwi, ndti, nir, swir16 and ``<v>_mad`` (MAD x 1.4826, floored at
    ``mad_floor``) for the four indices, of the season of ``when`` when that
    season has at least ``min_obs_season`` observations, else of both seasons
    pooled; and pooled ``mndwi_p90``, ``n_obs`` (uint16),
    ``water_freq`` (share of clear obs with MNDWI > ``water_mndwi``),
    ``water_freq_max`` (the largest share over the months of the year that
    have ``min_obs_month`` looks: rice flooded every January is seasonal
    water even if the ring buffer has forgotten last January), ``veg_freq``,
    ``permanent_water``, ``seasonal_water``, ``vegetated`` (bool).
    NaN statistics where a pixel has no observation.  The statistics are
    exact (sorting the ring buffer), not approximations.
    """
    bufs = {v: state[f"buf_{v}"] for v in BASELINE_VARS}
    count = state["count"]
    n_obs = count.sum("season").astype("uint16")
    out: dict[str, xr.DataArray] = {}
    season_idx = int(season_of(when, params)[0]) if when is not None else None
    for v, buf in bufs.items():
        with_mad = v in _INDEX_VARS  # the reflectances only need a median (shadow test)
        q = (0.9,) if v == "mndwi" else ()
        pooled = _robust(buf, ["season", "slot"], params.mad_floor, q, with_mad)
        med, mad = pooled[0], pooled[1]
        assert med is not None
        if season_idx is not None:
            med_s, mad_s = _robust(buf.isel(season=season_idx, drop=True), ["slot"], params.mad_floor,
                                   with_mad=with_mad)[:2]
            enough = count.isel(season=season_idx, drop=True) >= params.min_obs_season
            med = xr.where(enough, med_s, med)
            mad = xr.where(enough, mad_s, mad) if with_mad else None  # type: ignore[assignment]
        out[f"{v}_median"] = med.astype("float32")
        if with_mad:
            out[f"{v}_mad"] = mad.astype("float32")  # type: ignore[union-attr]
        if q:
            out["mndwi_p90"] = pooled[2].astype("float32")
    mndwi_code = bufs["mndwi"]
    valid = mndwi_code != BUF_NODATA
    wet = (mndwi_code > params.water_mndwi / BUF_SCALE) & valid
    n_valid = valid.sum(["season", "slot"])
    out["water_freq"] = (wet.sum(["season", "slot"]) / n_valid.where(n_valid > 0)).astype("float32")
    mobs = state["month_obs"]
    month_freq = state["month_water"] / mobs.where(mobs >= params.min_obs_month)
    out["water_freq_max"] = month_freq.max("month", skipna=True).fillna(0).where(n_valid > 0).astype("float32")
    veg = (bufs["ndvi"] > params.veg_ndvi / BUF_SCALE) & (bufs["ndvi"] != BUF_NODATA)
    out["veg_freq"] = (veg.sum(["season", "slot"]) / n_valid.where(n_valid > 0)).astype("float32")
    out["n_obs"] = n_obs
    enough = n_obs >= params.min_obs
    out["permanent_water"] = enough & (out["water_freq"] >= params.permanent_water_freq)
    out["seasonal_water"] = enough & (out["water_freq_max"] >= params.seasonal_water_freq)
    out["vegetated"] = enough & (out["veg_freq"] >= params.vegetated_freq)
    ds = xr.Dataset(out)
    return ds.drop_vars([c for c in ds.coords if c not in ("y", "x", "spatial_ref")])


def reference_bands(stats: xr.Dataset) -> xr.Dataset:
    """Baseline ``nir`` and ``swir16`` medians for :func:`sarolangun_geo.masking.clear_mask`."""
    return xr.Dataset({"nir": stats["nir_median"], "swir16": stats["swir16_median"]})


# --------------------------------------------------------------------------- per-tile I/O

def _tile_path(state_dir: Path, name: str, tile: str) -> Path:
    return Path(state_dir) / name / f"{tile}.zarr"


def write_state(state: xr.Dataset, state_dir: str | Path, name: str = "baseline") -> list[Path]:
    """Write ``state`` as one zarr store per canonical tile it touches; returns the paths.

    Each store is written to a temporary folder and renamed into place, so a
    crash never leaves a half-written tile.  Attributes (the folded
    acquisitions) go with every tile.
    """
    gbox = check_grid(state)
    paths = []
    for tid, tbox in iter_tile_geoboxes(gbox):
        y0 = round((gbox.affine.f - tbox.affine.f) / 10)
        x0 = round((tbox.affine.c - gbox.affine.c) / 10)
        part = state.isel(y=slice(y0, y0 + tbox.shape[0]), x=slice(x0, x0 + tbox.shape[1]))
        part = part.compute()
        for v in part.variables.values():
            v.encoding = {}
        dest = _tile_path(Path(state_dir), name, tid)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        part.to_zarr(tmp, mode="w", consolidated=False)
        if dest.exists():
            old = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.old")
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old)
        else:
            tmp.rename(dest)
        paths.append(dest)
    return paths


def read_state(state_dir: str | Path, geobox: Any, name: str = "baseline") -> xr.Dataset | None:
    """Read the per-tile state covering ``geobox`` (numpy-backed); ``None`` if no tile exists yet.

    Raises
    ------
    BaselineError
        If only some tiles exist, or a tile was written for another extent.
    """
    parts, missing = [], []
    for tid, tbox in iter_tile_geoboxes(geobox):
        p = _tile_path(Path(state_dir), name, tid)
        if not p.exists():
            missing.append(tid)
            continue
        ds = xr.open_zarr(p, consolidated=False).load()
        x_first = tbox.affine.c + tbox.affine.a / 2
        y_first = tbox.affine.f + tbox.affine.e / 2
        if (ds.sizes["y"], ds.sizes["x"]) != tuple(tbox.shape) or not (
                np.isclose(float(ds.x[0]), x_first) and np.isclose(float(ds.y[0]), y_first)):
            raise BaselineError(f"state tile {p} covers another extent than the requested area; run the "
                                "backfill for this area or use the same AOI as the one the state was built for")
        parts.append(ds)
    if not parts:
        return None
    if missing:
        raise BaselineError(f"state {name!r} in {state_dir} lacks tiles {missing}; run a backfill for them")
    acq = {json.dumps(sorted(json.loads(p.attrs.get("acquisitions", "[]")))) for p in parts}
    if len(acq) > 1:
        raise BaselineError(f"state {name!r} tiles in {state_dir} folded different acquisitions; "
                            "rerun the weekly update for the AOI (it is idempotent)")
    if len(parts) == 1:
        return parts[0]
    out = xr.combine_by_coords(parts, combine_attrs="override")
    assert isinstance(out, xr.Dataset)
    return out
