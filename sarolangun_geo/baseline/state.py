"""The per-pixel ring-buffer state of the baseline: its layout, the fold of new looks (see the package docstring)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import BaselineError
from ..grid import check_grid
from ..indices import compute_indices

__all__ = ["BASELINE_VARS", "BUF_NODATA", "BUF_SCALE", "BaselineParams", "empty_state", "season_of", "state_acquisitions", "update_state"]

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
                 exclude: xr.DataArray | None = None, *, copy: bool = True) -> xr.Dataset:
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
    copy
        ``False`` lets the numpy fold write into ``state``'s own arrays instead
        of copies (the pipeline's private state: saves a copy of the ring
        buffers per call); ``state`` must not be used afterwards.

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
    if not any(_is_lazy(o) for o in (state, values, clear, exclude)):
        out = _fold_numpy(state, values, clear, exclude, order, seasons, params, copy)
        out.attrs["acquisitions"] = json.dumps(sorted(done | {dates[i] for i in order}))
        return out
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


def _is_lazy(obj: Any) -> bool:
    if obj is None:
        return False
    if isinstance(obj, xr.Dataset):
        return any(v.chunks is not None for v in obj.data_vars.values())
    return obj.chunks is not None


def _fold_numpy(state: xr.Dataset, values: xr.Dataset, clear: xr.DataArray, exclude: xr.DataArray | None,
                order: list[int], seasons: np.ndarray, params: BaselineParams, copy: bool = True) -> xr.Dataset:
    """:func:`update_state` for numpy-backed inputs: scatter each clear value into its slot in place.

    The same result as the lazy path, without materialising a full
    ``(slot, y, x)`` temporary per acquisition and variable.  Only the seasons
    and months of the folded acquisitions are touched: of a state read lazily
    (``read_state(..., load=False)``) only those are read, and the others stay
    on disk, as lazy (dask) parts of the returned variables, so a week holds one
    season's ring buffers, not both (:func:`write_state` links the others).
    """
    n = params.buffer_size
    months = pd.DatetimeIndex(values.time.values).month
    touched = {"season": sorted({int(seasons[i]) for i in order}),
               "month": sorted({int(months[i]) - 1 for i in order})}
    dtypes = {**{f"buf_{v}": "int16" for v in BASELINE_VARS}, "count": "uint16", "month_obs": "uint16",
              "month_water": "uint16"}
    parts: dict[str, dict[int, np.ndarray]] = {}
    for name, dtype in dtypes.items():
        var = state[name]
        dim = str(var.dims[0])
        parts[name] = {}
        for i in touched[dim]:
            a = var.isel({dim: i}).values  # a view of an in-memory state; one chunk of a lazily read one
            writable = a.flags.writeable and a.flags.c_contiguous and a.dtype == dtype
            parts[name][i] = a if not copy and writable else np.array(a, dtype=dtype, order="C")
    vals = {v: values[v].transpose("time", "y", "x").values for v in BASELINE_VARS}
    ok_all = clear.transpose("time", "y", "x").values.astype(bool) & ~np.isnan(vals["ndvi"])
    if exclude is not None:
        ex = exclude.transpose(*(("time",) if "time" in exclude.dims else ()), "y", "x").values.astype(bool)
        ok_all = ok_all & ~(ex if ex.ndim == 3 else ex[None])
    water_code = params.water_mndwi
    for i in order:
        s, m = int(seasons[i]), int(months[i]) - 1
        yy, xx = np.nonzero(ok_all[i])
        count = parts["count"][s]
        slot = (count[yy, xx] % n).astype(np.intp)
        for v in BASELINE_VARS:
            x = vals[v][i, yy, xx]
            code = np.clip(np.rint(x / BUF_SCALE), -32767, 32767)
            parts[f"buf_{v}"][s][slot, yy, xx] = np.where(np.isnan(x), BUF_NODATA, code).astype("int16")
        count[yy, xx] += np.uint16(1)
        parts["month_obs"][m][yy, xx] += np.uint16(1)
        wet = vals["mndwi"][i, yy, xx] > water_code
        parts["month_water"][m][yy[wet], xx[wet]] += np.uint16(1)
    out = state.copy()
    for name, dtype in dtypes.items():
        out[name] = (state[name].dims, _assemble(state[name], parts[name], dtype))
    out.attrs = dict(state.attrs)
    return out


def _assemble(var: xr.DataArray, parts: dict[int, np.ndarray], dtype: str) -> Any:
    """``var`` with its leading-dimension slices ``parts`` replaced (numpy if ``var`` is in memory, else dask).

    The slices of a lazily read ``var`` that are not in ``parts`` stay unread:
    they become dask chunks that read them when (if ever) computed.
    """
    dim = str(var.dims[0])
    if var.variable._in_memory:
        full = var.values
        if full.dtype != dtype or not all(np.may_share_memory(p, full) for p in parts.values()):
            full = np.array(full, dtype=dtype, order="C")
            for i, p in parts.items():
                full[i] = p
        return full
    import dask.array as da

    def chunk(task: Any, shape: tuple[int, ...]) -> Any:  # a one-chunk dask array (from_array would copy)
        name = f"state-{uuid.uuid4().hex}"
        return da.Array({(name, *(0,) * len(shape)): task}, name, chunks=tuple((n,) for n in shape), dtype=dtype)

    shape = (1, *var.shape[1:])
    pieces = [chunk(parts[i][None], shape) if i in parts
              else chunk((_read, var.isel({dim: slice(i, i + 1)}), dtype), shape) for i in range(var.sizes[dim])]
    return da.concatenate(pieces, axis=0)


def _index_values(var: xr.DataArray, i: int) -> np.ndarray:
    """``var[i]`` along its leading dimension, as numpy (read-only use).

    For a variable of :func:`_assemble` this reads one stored chunk, or returns a
    folded one as it is (``.values`` would copy it: dask copies one-chunk results).
    """
    import dask
    import dask.array as da
    from dask.core import flatten

    x = var.isel({var.dims[0]: i}).data
    if isinstance(x, da.Array) and x.npartitions == 1:
        (out,) = dask.get(x.__dask_graph__(), list(flatten(x.__dask_keys__())))
        return np.asarray(out)
    return np.asarray(x)


def _read(var: xr.DataArray, dtype: str) -> np.ndarray:
    """The values of a lazily read ``var`` (a task of :func:`_assemble`: reads when computed)."""
    return np.asarray(var.values, dtype=dtype)


def _encode(v: xr.DataArray) -> xr.DataArray:
    """float -> int16 ring-buffer code (``round(v / BUF_SCALE)``, NaN -> ``BUF_NODATA``)."""
    code = np.clip(np.rint(v / BUF_SCALE), -32767, 32767)
    return xr.where(v.notnull(), code, BUF_NODATA).astype("int16")


def _decode(a: Any) -> Any:
    """int16 ring-buffer codes -> float32 values, NaN for ``BUF_NODATA`` (numpy, dask or xarray)."""
    if hasattr(a, "dims"):
        return (a.astype("float32") * np.float32(BUF_SCALE)).where(a != BUF_NODATA)
    return np.where(a == BUF_NODATA, np.float32(np.nan), a.astype("float32") * np.float32(BUF_SCALE))
