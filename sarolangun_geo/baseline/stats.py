"""Exact robust statistics of the ring buffers (sorting network in cache-sized blocks), refreshed where a week folded looks."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import xarray as xr

from .state import _INDEX_VARS, BASELINE_VARS, BUF_NODATA, BUF_SCALE, BaselineParams, _index_values, season_of
from .store import _SPLIT_DIMS

__all__ = ["baseline_stats", "folded_pixels", "reference_bands", "refresh_stats", "state_reference_bands"]

@functools.lru_cache(maxsize=64)
def _network(m: int) -> tuple[tuple[int, int], ...]:
    """Compare-exchange pairs of Batcher's odd-even merge sort for ``m`` keys (any ``m``).

    A sorting network sorts every pixel's short ring buffer with a fixed
    sequence of vectorised ``minimum``/``maximum`` over all pixels at once:
    ~10x faster than ``numpy.sort`` along a short axis of a million pixels.
    """
    pairs = []
    p = 1
    while p < m:
        k = p
        while k >= 1:
            for j in range(k % p, m - k, 2 * k):
                for i in range(min(k, m - j - k)):
                    if (i + j) // (p * 2) == (i + j + k) // (p * 2):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return tuple(pairs)


def _network_sort(a: np.ndarray) -> None:
    """Sort ``a`` (``(m, n)``) along axis 0 in place, in cache-sized blocks of columns."""
    pairs = _network(a.shape[0])
    step = 16384
    tmp = np.empty(min(step, a.shape[1]), a.dtype)
    for c0 in range(0, a.shape[1], step):
        blk = a[:, c0:c0 + step]
        t = tmp[:blk.shape[1]]
        for i, j in pairs:
            np.minimum(blk[i], blk[j], out=t)
            np.maximum(blk[i], blk[j], out=blk[j])
            blk[i] = t


def _sorted_stats(a: np.ndarray, quantiles: tuple[float, ...], with_mad: bool = True) -> np.ndarray:
    """Exact NaN-aware median, MAD and quantiles along the last axis (numpy kernel).

    ``a`` holds int16 ring-buffer codes.  Returns float32 values with a new
    last axis ``[median, mad_raw (if with_mad), *quantiles]`` (linear
    interpolation, as ``numpy.nanquantile``); NaN where a pixel has no value.
    The int16 codes are sorted directly with a sorting network (empty slots,
    ``BUF_NODATA``, sort first).  Pixels are processed in blocks whose
    temporaries stay in the CPU cache (the kernel is memory-bound otherwise).
    """
    a = np.asarray(a, dtype="int16")
    lead = a.shape[:-1]
    m = a.shape[-1]
    flat = a.reshape(-1, m)
    k = 1 + int(with_mad) + len(quantiles)
    out = np.empty((flat.shape[0], k), "float32")
    step = max(1024, 262144 // max(m, 1))  # ~0.5 MB of int16 codes per block
    for p0 in range(0, flat.shape[0], step):
        out[p0:p0 + step] = _sorted_stats_block(flat[p0:p0 + step].T.copy(), quantiles, with_mad)
    return out.reshape(*lead, k)


def _sorted_stats_block(s: np.ndarray, quantiles: tuple[float, ...], with_mad: bool) -> np.ndarray:
    """:func:`_sorted_stats` of one block ``s`` (``(m, pixels)``, a private copy: sorted in place)."""
    m = s.shape[0]
    _network_sort(s)
    n = (s != BUF_NODATA).sum(axis=0)
    empty = n == 0
    last = np.maximum(n - 1, 0)

    def q(arr: np.ndarray, frac: float, first: np.ndarray) -> np.ndarray:
        pos = last * frac
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, last).astype(np.intp)
        vlo = np.take_along_axis(arr, np.minimum(first + lo, m - 1)[None], 0)[0].astype("float32")
        vhi = np.take_along_axis(arr, np.minimum(first + hi, m - 1)[None], 0)[0].astype("float32")
        out = (vlo + (vhi - vlo) * (pos - lo)) * np.float32(BUF_SCALE)
        return np.where(empty, np.float32(np.nan), out).astype("float32")

    first = (m - n).astype(np.intp)  # valid codes start after the empty slots
    med = q(s, 0.5, first)
    parts = [med]
    if with_mad:
        # deviations in half-code units, so a median halfway between two codes stays exact
        med2 = np.where(empty, 0, np.rint(2 * med / BUF_SCALE)).astype("int32")
        dev = s.astype("int32")
        dev *= 2
        dev -= med2[None]
        np.abs(dev, out=dev)
        dev[s == BUF_NODATA] = np.iinfo("int32").max  # empty slots sort last
        _network_sort(dev)
        parts.append(q(dev, 0.5, np.zeros_like(first)) / 2)
    parts += [q(s, f, first) for f in quantiles]
    return np.stack(parts, axis=-1)


def _season_stats(buf: np.ndarray, count: np.ndarray, season: int | None, min_obs_season: int,
                  quantiles: tuple[float, ...], with_mad: bool) -> np.ndarray:
    """Kernel of :func:`_robust`: ``buf`` ``(..., season, slot)``, ``count`` ``(..., season)``.

    [median, mad_raw?] of the season ``season`` where it has ``min_obs_season``
    looks, else of both seasons pooled (pooled everywhere when ``season`` is
    None); then the pooled ``quantiles``.  The pooled sort runs only for the
    pixels that need it, so a mature baseline costs one short sort per pixel.
    """
    lead = buf.shape[:-2]
    m = buf.shape[-1]
    b = np.asarray(buf).reshape(-1, 2, m)
    k = 2 if with_mad else 1
    res = np.full((b.shape[0], k + len(quantiles)), np.nan, "float32")
    if season is None:
        need = np.ones(b.shape[0], bool)
    else:
        need = np.asarray(count).reshape(-1, 2)[:, season] < min_obs_season
        res[:, :k] = _sorted_stats(b[:, season, :], (), with_mad)
    if quantiles:
        pooled = _sorted_stats(b.reshape(-1, 2 * m), quantiles, with_mad)
        res[:, k:] = pooled[:, k:]
        res[need, :k] = pooled[need, :k]
    elif need.any():
        res[need, :k] = _sorted_stats(b[need].reshape(-1, 2 * m), (), with_mad)
    return res.reshape(*lead, res.shape[-1])


def _robust(buf: xr.DataArray, count: xr.DataArray, season: int | None, params: BaselineParams,
            quantiles: tuple[float, ...] = (), with_mad: bool = True) -> list[xr.DataArray]:
    """[median, MAD x 1.4826 (floored) or None, *pooled quantiles] of int16-coded ``buf``.

    Season ``season`` where it has ``min_obs_season`` looks, else both seasons pooled.
    """
    if buf.chunks:
        buf = buf.chunk({"season": -1, "slot": -1})
        count = count.chunk({"season": -1})
    k = 2 if with_mad else 1
    res = xr.apply_ufunc(_season_stats, buf, count,
                         kwargs={"season": season, "min_obs_season": params.min_obs_season,
                                 "quantiles": quantiles, "with_mad": with_mad},
                         input_core_dims=[["season", "slot"], ["season"]], output_core_dims=[["_stat"]],
                         dask="parallelized", output_dtypes=["float32"],
                         dask_gufunc_kwargs={"output_sizes": {"_stat": k + len(quantiles)}})
    med = res.isel(_stat=0)
    mad = np.maximum(res.isel(_stat=1) * 1.4826, params.mad_floor).where(med.notnull()).astype("float32") \
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
        res = _robust(buf, count, season_idx, params, q, with_mad)
        out[f"{v}_median"] = res[0].astype("float32")
        if with_mad:
            out[f"{v}_mad"] = res[1].astype("float32")  # type: ignore[union-attr]
        if q:
            out["mndwi_p90"] = res[2].astype("float32")
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


def refresh_stats(stats: xr.Dataset, state: xr.Dataset, params: BaselineParams, when: Any,
                  changed: Any, *, copy: bool = True) -> xr.Dataset:
    """``baseline_stats(state, params, when)``, recomputing only the pixels whose state changed.

    ``stats`` are the statistics of an earlier state for the same season as
    ``when`` (check with :func:`season_of`), and ``changed`` (bool ``(y, x)``)
    marks the pixels whose state differs from that earlier state (e.g.
    :func:`folded_pixels`).  Every statistic is a function of one pixel's
    state, so the other pixels keep their values: the result is bit-identical
    to a full :func:`baseline_stats`, at a fraction of its cost in a cloudy week
    when few pixels got a new look.  Numpy-backed inputs; returns a new Dataset
    (``copy=False``: writes into ``stats``' own arrays, which must not be used afterwards).
    """
    mask = np.asarray(changed, bool)
    if mask.shape != (state.sizes["y"], state.sizes["x"]):
        raise ValueError(f"changed has shape {mask.shape}, the state {(state.sizes['y'], state.sizes['x'])}")
    idx = np.flatnonzero(mask.ravel())
    if 2 * idx.size > mask.size:  # most pixels changed: the full computation is as cheap
        return baseline_stats(state, params, when).compute()
    out = stats.copy(deep=copy)
    if not idx.size:
        return out
    sub = {str(name): _pixels(var, idx) for name, var in state.data_vars.items()}
    part = baseline_stats(xr.Dataset(sub, attrs=state.attrs), params, when).compute()
    for v in out.data_vars:
        if out[v].dims != ("y", "x"):
            raise ValueError(f"stats variable {v} has dims {out[v].dims}, expected ('y', 'x')")
        np.put(out[v].values, idx, part[v].values)
    return out


def _pixels(var: xr.DataArray, idx: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    """``var`` at the flat ``(y, x)`` pixel indices ``idx``: dims ``("pixel", *other dims)``.

    Gathered one index of the leading ``season``/``month`` dimension at a time,
    so a lazily read (or dask) state holds one of its chunks at a time.
    """
    rest = [str(d) for d in var.dims if d not in ("y", "x")]
    if not rest or rest[0] not in _SPLIT_DIMS:
        flat = var.transpose("y", "x", *rest).values.reshape(-1, *(var.sizes[d] for d in rest))
        return ("pixel", *rest), flat[idx]
    dim, inner = rest[0], rest[1:]
    var = var.transpose(dim, *inner, "y", "x")
    sizes = tuple(var.sizes[d] for d in inner)
    pieces = [np.moveaxis(_index_values(var, i).reshape(*sizes, -1)[..., idx], -1, 0) for i in range(var.sizes[dim])]
    return ("pixel", *rest), np.stack(pieces, axis=1)


def folded_pixels(count_before: Any, state: xr.Dataset) -> np.ndarray:
    """Pixels (bool ``(y, x)``) that :func:`update_state` folded a look into since ``count_before``.

    ``count_before`` is ``state["count"].sum("season")`` (as numpy) taken before
    the fold; a fold adds one to a season's count for every look it writes.
    """
    return np.asarray(state["count"].sum("season").transpose("y", "x").values) != np.asarray(count_before)


def reference_bands(stats: xr.Dataset, changed: xr.DataArray | None = None) -> xr.Dataset:
    """Baseline ``nir`` and ``swir16`` medians for :func:`sarolangun_geo.masking.clear_mask`.

    ``changed`` (bool ``(y, x)``, e.g. pixels with an ongoing detection) blanks
    the reference there: the baseline no longer describes a pixel whose cover
    changed, and a dark abandoned pit measured against its old forest would
    otherwise be taken for an unflagged cloud shadow on every clear day (the
    shadow test is skipped where the reference is NaN).
    """
    ref = xr.Dataset({"nir": stats["nir_median"], "swir16": stats["swir16_median"]})
    return ref if changed is None else ref.where(~changed.astype(bool))


def state_reference_bands(state: xr.Dataset, params: BaselineParams, when: Any = None) -> xr.Dataset:
    """:func:`reference_bands` straight from a state, computing only the two medians it needs.

    What a backfill uses between its batches: the same values as
    ``reference_bands(baseline_stats(state, params, when))`` at a third of the cost.
    """
    season_idx = int(season_of(when, params)[0]) if when is not None else None
    ref = {v: _robust(state[f"buf_{v}"], state["count"], season_idx, params, with_mad=False)[0].astype("float32")
           for v in ("nir", "swir16")}
    ds = xr.Dataset(ref)
    return ds.drop_vars([c for c in ds.coords if c not in ("y", "x", "spatial_ref")])


# --------------------------------------------------------------------------- per-tile I/O

