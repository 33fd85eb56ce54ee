"""Exact robust statistics of the ring buffers (sorting network in cache-sized blocks), refreshed where a week folded looks."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import xarray as xr

from .state import _INDEX_VARS, BASELINE_VARS, BUF_NODATA, BUF_SCALE, BaselineParams, _index_values, season_of
from .store import _SPLIT_DIMS

__all__ = ["baseline_stats", "folded_pixels", "reference_bands", "refresh_stats", "state_reference_bands",
           "stats_by_season"]

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
    """:func:`_sorted_stats` of one block ``s`` (``(m, pixels)``, a private copy: sorted in place).

    Slots empty in every pixel of the block are dropped before the sort: they
    would sort first and take no part in any statistic, so the result is the
    same, and a sparse ring buffer (a young baseline, the pooled sort of a
    season with few looks: slots fill from 0) sorts only its filled slots.
    """
    filled = (s != BUF_NODATA).any(axis=1)
    if not filled.all():
        s = s[filled] if filled.any() else s[:1]
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
        if not need.any():
            res[:, :k] = _sorted_stats(b[:, season, :], (), with_mad)
        elif not need.all():  # the others take pooled statistics below
            res[~need, :k] = _sorted_stats(b[~need, season, :], (), with_mad)
    if quantiles:
        pooled = _sorted_stats(b.reshape(-1, 2 * m), quantiles, with_mad)
        res[:, k:] = pooled[:, k:]
        res[need, :k] = pooled[need, :k]
    elif need.any():
        res[need, :k] = _sorted_stats(b[need].reshape(-1, 2 * m), (), with_mad)
    return res.reshape(*lead, res.shape[-1])


def _stat_kind(v: str) -> tuple[tuple[float, ...], bool]:
    """(pooled quantiles, with MAD) of the statistics of variable ``v``."""
    # the reflectances only need a median (shadow test); mndwi also gets its pooled p90
    return ((0.9,) if v == "mndwi" else ()), v in _INDEX_VARS


def _robust_raw(buf: xr.DataArray, count: xr.DataArray, season: int | None, params: BaselineParams,
                quantiles: tuple[float, ...] = (), with_mad: bool = True) -> xr.DataArray:
    """The kernel of :func:`_robust` over all pixels: float32, a new last dim ``_stat`` (lazy stays lazy)."""
    if buf.chunks:
        buf = buf.chunk({"season": -1, "slot": -1})
        count = count.chunk({"season": -1})
    k = 2 if with_mad else 1
    return xr.apply_ufunc(_season_stats, buf, count,
                          kwargs={"season": season, "min_obs_season": params.min_obs_season,
                                  "quantiles": quantiles, "with_mad": with_mad},
                          input_core_dims=[["season", "slot"], ["season"]], output_core_dims=[["_stat"]],
                          dask="parallelized", output_dtypes=["float32"],
                          dask_gufunc_kwargs={"output_sizes": {"_stat": k + len(quantiles)}})


def _robust_parts(res: xr.DataArray, params: BaselineParams, n_quantiles: int,
                  with_mad: bool) -> tuple[xr.DataArray, xr.DataArray | None, list[xr.DataArray]]:
    """(median, MAD x 1.4826 (floored) or None, [quantiles]) from a :func:`_robust_raw` result."""
    k = 2 if with_mad else 1
    med = res.isel(_stat=0)
    mad = np.maximum(res.isel(_stat=1) * 1.4826, params.mad_floor).where(  # type: ignore[union-attr]
        med.notnull()).astype("float32") if with_mad else None  # (np.maximum of a DataArray is one)
    return med, mad, [res.isel(_stat=k + i) for i in range(n_quantiles)]


def _robust(buf: xr.DataArray, count: xr.DataArray, season: int | None, params: BaselineParams,
            quantiles: tuple[float, ...] = (), with_mad: bool = True
            ) -> tuple[xr.DataArray, xr.DataArray | None, list[xr.DataArray]]:
    """(median, MAD x 1.4826 (floored) or None, [pooled quantiles]) of int16-coded ``buf``.

    Season ``season`` where it has ``min_obs_season`` looks, else both seasons pooled.
    """
    res = _robust_raw(buf, count, season, params, quantiles, with_mad)
    return _robust_parts(res, params, len(quantiles), with_mad)


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
    season_idx = int(season_of(when, params)[0]) if when is not None else None
    raw = {v: _robust_raw(state[f"buf_{v}"], state["count"], season_idx, params, *_stat_kind(v))
           for v in BASELINE_VARS}
    mndwi, ndvi = state["buf_mndwi"], state["buf_ndvi"]
    valid = mndwi != BUF_NODATA
    n_wet = ((mndwi > params.water_mndwi / BUF_SCALE) & valid).sum(["season", "slot"])
    n_veg = ((ndvi > params.veg_ndvi / BUF_SCALE) & (ndvi != BUF_NODATA)).sum(["season", "slot"])
    mobs = state["month_obs"]
    month_max = (state["month_water"] / mobs.where(mobs >= params.min_obs_month)).max("month", skipna=True)
    return _stats_dataset(raw, valid.sum(["season", "slot"]), n_wet, n_veg, month_max,
                          state["count"].sum("season"), params)


def _stats_dataset(raw: dict[str, xr.DataArray], n_valid: xr.DataArray, n_wet: xr.DataArray, n_veg: xr.DataArray,
                   month_max: xr.DataArray, n_obs: xr.DataArray, params: BaselineParams) -> xr.Dataset:
    """The Dataset of :func:`baseline_stats` from its per-pixel parts (numpy or dask, unchanged).

    ``raw``: :func:`_robust_raw` of each variable; ``n_valid`` / ``n_wet`` /
    ``n_veg``: int64 counts of valid, wet (MNDWI) and vegetated (NDVI) codes
    over both seasons; ``month_max``: the largest monthly water share (NaN
    where no month has enough looks); ``n_obs``: the looks ever folded.
    """
    out: dict[str, xr.DataArray] = {}
    for v in BASELINE_VARS:
        quantiles, with_mad = _stat_kind(v)
        med, mad, qs = _robust_parts(raw[v], params, len(quantiles), with_mad)
        out[f"{v}_median"] = med.astype("float32")
        if mad is not None:
            out[f"{v}_mad"] = mad.astype("float32")
        if qs:
            out["mndwi_p90"] = qs[0].astype("float32")
    has_obs = n_valid.where(n_valid > 0)
    out["water_freq"] = (n_wet / has_obs).astype("float32")
    out["water_freq_max"] = month_max.fillna(0).where(n_valid > 0).astype("float32")
    out["veg_freq"] = (n_veg / has_obs).astype("float32")
    out["n_obs"] = n_obs = n_obs.astype("uint16")
    enough = n_obs >= params.min_obs
    out["permanent_water"] = enough & (out["water_freq"] >= params.permanent_water_freq)
    out["seasonal_water"] = enough & (out["water_freq_max"] >= params.seasonal_water_freq)
    out["vegetated"] = enough & (out["veg_freq"] >= params.vegetated_freq)
    ds = xr.Dataset(out)
    return ds.drop_vars([c for c in ds.coords if c not in ("y", "x", "spatial_ref")])


def stats_by_season(state: xr.Dataset, params: BaselineParams, when: Any = None) -> xr.Dataset:
    """``baseline_stats(state, params, when).compute()``, bit for bit, reading one season chunk at a time.

    The ring buffers are taken one variable and one season at a time (the
    chunks a store keeps, :func:`~sarolangun_geo.baseline.store.read_state`
    with ``load=False`` reads only those), and sorted in cache-sized blocks of
    pixels straight from their ``(slot, pixel)`` layout.  So at most one
    variable's buffers of both seasons are held (64 MB for a full tile at
    N = 16) instead of all of them (~400 MB, plus as much again in
    temporaries); the other season is read only where a statistic needs it.
    The month climatology is reduced one month at a time.  Inputs on numpy,
    lazily read or dask arrays; returns a numpy-backed Dataset.
    """
    season_idx = int(season_of(when, params)[0]) if when is not None else None
    pix = [str(d) for d in state["buf_ndvi"].dims if d not in ("season", "slot")]
    shape = tuple(state.sizes[d] for d in pix)
    coords = {c: state.coords[c] for c in ("y", "x", "spatial_ref")
              if c in state.coords and set(state.coords[c].dims) <= set(pix)}

    def wrap(a: np.ndarray, *extra: str) -> xr.DataArray:
        return xr.DataArray(a.reshape(*shape, *a.shape[1:]), dims=(*pix, *extra), coords=coords)

    count = np.asarray(state["count"].transpose("season", *pix).values).reshape(2, -1)
    raw, freq = {}, {}
    for v in BASELINE_VARS:
        buf = state[f"buf_{v}"].transpose("season", "slot", *pix)
        threshold = {"mndwi": params.water_mndwi, "ndvi": params.veg_ndvi}.get(v)
        res, counts = _var_stats(buf, count, season_idx, params.min_obs_season, *_stat_kind(v), threshold)
        raw[v] = wrap(res, "_stat")
        if counts is not None:
            freq[v] = (wrap(counts[0]), wrap(counts[1]))
    month_max = wrap(_month_water_max(state, params, pix).reshape(-1))
    return _stats_dataset(raw, *freq["mndwi"], freq["ndvi"][1], month_max, wrap(count.sum(axis=0)), params)


def _var_stats(buf: xr.DataArray, count: np.ndarray, season: int | None, min_obs_season: int,
               quantiles: tuple[float, ...], with_mad: bool,
               threshold: float | None) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """:func:`_season_stats` of one variable's ``buf`` (dims ``(season, slot, *pixel dims)``), season by season.

    ``count`` is ``(season, pixel)`` (pixel dims flattened).  Returns ``(pixel, stat)``
    float32 and, when ``threshold`` is given, the valid codes and those above
    ``threshold`` per pixel over both seasons (int64), else None.  A season is read at most once, and the
    other season only when a pooled statistic or a count needs it.
    """
    n = count.shape[1]
    k = 2 if with_mad else 1
    res = np.full((n, k + len(quantiles)), np.nan, "float32")
    cache: dict[int, np.ndarray] = {}

    def seasons(*which: int) -> list[np.ndarray]:
        for s in which:
            if s not in cache:  # one stored chunk of a lazily read state; a view of an in-memory one
                cache[s] = _index_values(buf, s).reshape(buf.sizes["slot"], -1)
        return [cache[s] for s in which]

    if season is None:
        need = np.ones(n, bool)
    else:
        need = count[season] < min_obs_season
        own = np.flatnonzero(~need)  # the pixels whose season has enough looks (the others take pooled ones)
        if own.size == n:
            res[:, :k] = _column_stats(seasons(season), (), with_mad)
        elif own.size:
            res[own, :k] = _column_stats(seasons(season), (), with_mad, own)
    if quantiles:
        pooled = _column_stats(seasons(0, 1), quantiles, with_mad)
        res[:, k:] = pooled[:, k:]
        res[need, :k] = pooled[need, :k]
    elif need.any():
        cols = np.flatnonzero(need)
        res[cols, :k] = _column_stats(seasons(0, 1), (), with_mad, cols)
    if threshold is None:
        return res, None
    (valid0, above0), (valid1, above1) = (_code_counts(a, threshold) for a in seasons(0, 1))
    return res, (valid0 + valid1, above0 + above1)


def _column_stats(parts: list[np.ndarray], quantiles: tuple[float, ...], with_mad: bool,
                  cols: np.ndarray | None = None) -> np.ndarray:
    """:func:`_sorted_stats` of the pixels (columns ``cols``, default all) of ``parts`` stacked along slots.

    ``parts`` are ``(slot, pixel)`` int16 arrays (one per season), read only:
    each block of pixels is copied before it is sorted.  Returns ``(pixel, stat)`` float32.
    """
    n = parts[0].shape[1] if cols is None else cols.size
    m = sum(p.shape[0] for p in parts)
    out = np.empty((n, 1 + int(with_mad) + len(quantiles)), "float32")
    step = max(1024, 262144 // max(m, 1))  # ~0.5 MB of int16 codes per block, as _sorted_stats
    for p0 in range(0, n, step):
        sel = slice(p0, p0 + step) if cols is None else cols[p0:p0 + step]
        width = len(range(n)[p0:p0 + step])
        block = np.empty((m, width), "int16")  # a private, C-ordered copy (the sort runs along its rows)
        r0 = 0
        for p in parts:
            block[r0:r0 + p.shape[0]] = p[:, sel]
            r0 += p.shape[0]
        out[p0:p0 + step] = _sorted_stats_block(block, quantiles, with_mad)
    return out


def _code_counts(a: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Valid codes and codes above ``threshold`` (a value, not a code) per column of ``a`` (int64)."""
    n_valid = np.empty(a.shape[1], np.int64)
    n_above = np.empty(a.shape[1], np.int64)
    step = 65536
    for p0 in range(0, a.shape[1], step):
        blk = a[:, p0:p0 + step]
        valid = blk != BUF_NODATA
        n_valid[p0:p0 + step] = np.count_nonzero(valid, axis=0)
        n_above[p0:p0 + step] = np.count_nonzero((blk > threshold / BUF_SCALE) & valid, axis=0)
    return n_valid, n_above


def _month_water_max(state: xr.Dataset, params: BaselineParams, pix: list[str]) -> np.ndarray:
    """The largest monthly water share per pixel (dims ``pix``; NaN where no month has ``min_obs_month`` looks).

    The same values as ``(month_water / month_obs.where(...)).max("month")`` of
    :func:`baseline_stats` (a maximum is exact), one month's arrays at a time.
    """
    mobs, mwat = state["month_obs"].transpose("month", *pix), state["month_water"].transpose("month", *pix)
    best = None
    for i in range(mobs.sizes["month"]):
        obs = mobs.isel(month=i, drop=True)
        share = np.asarray((mwat.isel(month=i, drop=True) / obs.where(obs >= params.min_obs_month)).values)
        best = share if best is None else np.fmax(best, share)
    assert best is not None
    return best


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
        return stats_by_season(state, params, when)
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

