"""PETI (illegal gold mining) evidence and confidence, per pixel.

Per clear acquisition (:func:`acquisition_evidence`) a pixel is a *candidate*
when land that the baseline saw as vegetated

1. lost its vegetation (NDVI fell well below the baseline median, by an
   absolute margin *and* by ``veg_loss_z`` robust sigmas), and
2. became bare soil / tailings (BSI up) or new water, and
3. has new **turbid** water on it or within ``support_radius_px`` – the pits
   and ponds that set PETI apart from plantation clearing, landslides and
   village growth (bare, no ponds), while rice flooding and river sandbars
   fail (1): they are not on baseline-vegetated land, or their water is in the
   baseline's seasonal range – *or* a deposit of washed **tailings** on it or
   within that radius, near permanent water (:func:`bright_tailings`,
   :func:`tailings_deposit`): a site dug mostly into spoil, with ponds too
   small or too few to resolve, still shows the bright, iron-poor sand that
   sluicing leaves, which cleared lateritic soil, landslide scars and roofs
   do not.

Evidence kinds form the §3 bitmask (1 vegetation loss, 2 bare soil/tailings,
4 new turbid water, 8 pit texture, 16 near permanent water) and a weighted
``score``.  Persistence across clear observations (:func:`update_detection`)
sets the confidence: low after one observation, medium once confirmed (or at
once when all four physical kinds agree), high after ``confirm_high``
observations or two with three kinds, highest when ``confirm_high``
observations carry all four kinds.  Candidates that are not seen again on
``reset_after_misses`` clear looks before being confirmed are dropped – missed
clouds and shadows are transient.

**Activity** (``last_active``) is not the same as evidence.  An abandoned pit
keeps confirming the change on every clear look (bare spoil or a stagnant pond
still differs from the vegetated baseline), so ``last_detected`` keeps moving
for a dead mine.  A worked mine *changes between clear looks*: pits are dug
into new ground, ponds are pumped, stirred and filled with tailings, spoil is
moved over regrowth.  An abandoned one only settles: its ponds clear and green
(turbidity falls), its spoil revegetates (NDVI rises), a stable pit stays as it
was.  So a confirming look (a clear candidate) is *active* when the pixel
changed in the direction of disturbance since its previous clear look (the
raw ``ndvi, mndwi, ndti`` of that look are kept for every pixel as
``prev_ndvi``, ``prev_mndwi``, ``prev_ndti``; raw indices, so a switch of the
baseline season changes nothing):

* on land in both looks, NDVI fell by more than ``active_ndvi_drop``: forest
  or regrowth cleared and dug (new ground: the growth of a site, fresh
  clearing next to it), fresh spoil dumped on revegetating ground;
* its water state flipped: MNDWI crossed ``[water] water_mndwi`` with a step of
  more than ``active_mndwi_step`` (a pit flooded or dug below the water table,
  a pond pumped dry or filled with spoil);
* water in both looks, and its turbidity (NDTI) rose by more than
  ``active_ndti_rise`` (a pond stirred or fed new slurry).

The look that confirms a pixel whose first look was active counts too (new
ground joins the site's polygon only once confirmed).  A fresh state takes the
baseline medians as every pixel's look before monitoring; a pixel without any
earlier look has nothing to compare with, and its evidence is not activity.
Late evidence on old ground – a pixel at the rim of a pit that was already
bare and only now passes the candidate test (noise at a threshold, a pond's
support flickering) – is not activity; nor are falling turbidity, rising NDVI
and small steps (noise, haze, soil moisture).

``last_active`` (day of the latest active look, -1 none) is the signal the
site lifecycle uses; a polygon's value needs several of its pixels
(:mod:`sarolangun_geo.sites.polygonize`), so a few noisy pixels do not keep a
site alive.  A detection state stored before ``last_active`` existed loads
with ``last_active = last_detected`` (what activity meant then) and no
previous look (:func:`with_activity_state`).

:func:`peti_evidence` runs a week's acquisitions through both and returns the
``docs/architecture.md`` §3 Dataset, which is also the state carried to the
next week (store it with :func:`sarolangun_geo.baseline.write_state`,
``name="detection"``).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..grid import check_grid
from ..indices import ArrayLike
from .acquisition import (
    D_VARS,
    KIND_BARE,
    KIND_NEAR_WATER,
    KIND_TEXTURE,
    KIND_VEG_LOSS,
    KIND_WATER,
    acquisition_evidence,
    bright_tailings,
    tailings_deposit,
)
from .params import DetectionParams
from .water import near_water

__all__ = [
    "KIND_BARE",
    "KIND_NEAR_WATER",
    "KIND_TEXTURE",
    "KIND_VEG_LOSS",
    "KIND_WATER",
    "LOOK_NONE",
    "LOOK_SCALE",
    "STATE_VARS",
    "acquisition_evidence",
    "bright_tailings",
    "confidence_level",
    "count_kinds",
    "empty_detection_state",
    "epoch_day",
    "peti_evidence",
    "tailings_deposit",
    "update_detection",
    "with_activity_state",
]

#: Variables carried from week to week.
STATE_VARS = ("n_confirm", "n_miss", "first_detected", "last_detected", "kinds", "score", "last_active",
              "prev_ndvi", "prev_mndwi", "prev_ndti")
#: Index values of the previous clear look are stored as int16 ``round(index x LOOK_SCALE)``, ...
LOOK_SCALE = 10_000
#: ... and ``LOOK_NONE`` where the pixel has had no clear look yet (or the index was NaN).
LOOK_NONE = -32768
_LOOK_VARS = ("prev_ndvi", "prev_mndwi", "prev_ndti")


def epoch_day(t: Any) -> int:
    """Days since 1970-01-01 of a date/datetime (the §3 date encoding)."""
    return int((pd.Timestamp(t).normalize() - pd.Timestamp("1970-01-01")).days)


def empty_detection_state(template: xr.Dataset | xr.DataArray, *,
                          looks_from: xr.Dataset | None = None) -> xr.Dataset:
    """A detection state with nothing detected, on the (y, x) grid of ``template``.

    ``looks_from``: baseline statistics (:func:`sarolangun_geo.baseline.baseline_stats`)
    whose ``ndvi_median, mndwi_median, ndti_median`` stand for each pixel's look
    before monitoring began (the ``prev_*`` reference of its first clear look;
    ``LOOK_NONE`` where NaN).  Without it, no pixel has a previous look.
    """
    ref = template if isinstance(template, xr.DataArray) else next(iter(template.data_vars.values()))
    ref = ref.isel({d: 0 for d in ref.dims if d not in ("y", "x")}, drop=True)
    ds = xr.Dataset({
        "n_confirm": xr.zeros_like(ref, dtype="uint8"),
        "n_miss": xr.zeros_like(ref, dtype="uint8"),
        "first_detected": xr.full_like(ref, -1, dtype="int32"),
        "last_detected": xr.full_like(ref, -1, dtype="int32"),
        "kinds": xr.zeros_like(ref, dtype="uint8"),
        "score": xr.zeros_like(ref, dtype="float32"),
        "last_active": xr.full_like(ref, -1, dtype="int32"),
        **{k: xr.full_like(ref, LOOK_NONE, dtype="int16") for k in _LOOK_VARS},
    })
    if looks_from is not None:
        for k in _LOOK_VARS:
            med = looks_from[f"{k[5:]}_median"]
            med = med.drop_vars([c for c in med.coords if c not in ("y", "x", "spatial_ref")])
            ds[k] = xr.apply_ufunc(_look, med, dask="parallelized", output_dtypes=[np.int16])
    ds = ds.drop_vars([c for c in ds.coords if c not in ("y", "x", "spatial_ref")])
    ds.attrs["acquisitions"] = "[]"
    return ds


def with_activity_state(state: xr.Dataset) -> xr.Dataset:
    """``state`` with the activity variables, added if missing (a state stored before they existed).

    A missing ``last_active`` becomes a copy of ``last_detected``: before the
    activity test existed, the latest confirming look *was* the activity date,
    so an upgraded state keeps the sites' statuses of the old rule until its
    pixels are seen again.  Missing ``prev_*`` values become ``LOOK_NONE`` (no
    previous look: the next clear look sets them, and the look after it is
    compared with it).  Returns a new Dataset; ``state`` is not changed.
    """
    add: dict[str, xr.DataArray] = {}
    if "last_active" not in state:
        add["last_active"] = state["last_detected"].astype("int32")
    for k in _LOOK_VARS:
        if k not in state:
            add[k] = xr.full_like(state["last_detected"], LOOK_NONE, dtype="int16")
    return state.assign(add) if add else state


def _look(v: Any) -> Any:
    """Index values (float, NaN) as the stored int16 look values (numpy array in, numpy array out)."""
    scaled = np.clip(v, -1.0, 1.0)
    scaled *= LOOK_SCALE
    np.round(scaled, out=scaled)
    scaled[np.isnan(v)] = LOOK_NONE
    return scaled.astype("int16")


def _unlook(v: Any) -> Any:
    """Stored int16 look values as float32 indices (NaN where none; numpy array in, numpy array out)."""
    return np.where(v != LOOK_NONE, v.astype("float32") / np.float32(LOOK_SCALE), np.float32("nan")).astype(
        "float32")


def _changed(prev: tuple[Any, Any, Any], now: tuple[Any, Any, Any], params: DetectionParams) -> Any:
    """Change in the direction of disturbance since the pixel's previous clear look (bool, y, x).

    ``prev`` is the previous look's ``(ndvi, mndwi, ndti)`` (float, NaN none),
    ``now`` this look's.  Pixels without a previous look, or with NaN now, are
    False.  Arrays of any kind (numpy, xarray).
    """
    mp, w0 = params.mining, params.water.water_mndwi
    p_ndvi, p_mndwi, p_ndti = prev
    ndvi, mndwi, ndti = now
    was_water, is_water = p_mndwi >= w0, mndwi >= w0
    land = (p_mndwi < w0) & (mndwi < w0)
    veg_drop = land & (ndvi - p_ndvi < -mp.active_ndvi_drop)
    flip = (was_water != is_water) & (abs(mndwi - p_mndwi) > mp.active_mndwi_step)
    stirred = was_water & is_water & (ndti - p_ndti > mp.active_ndti_rise)
    return ~np.isnan(p_mndwi) & ~np.isnan(mndwi) & (veg_drop | flip | stirred)


def update_detection(state: xr.Dataset, evidence: xr.Dataset, clear: xr.DataArray, day: int,
                     params: DetectionParams) -> xr.Dataset:
    """Fold one acquisition's evidence into the persistence state.

    ``clear`` (bool, y, x) decides which pixels were observed; cloudy pixels
    keep their state.  A clear candidate increments ``n_confirm`` and stamps
    ``first_detected``/``last_detected`` with ``day``; a clear non-candidate
    increments ``n_miss``, and an unconfirmed detection (``n_confirm <
    confirm_medium``) is reset after ``reset_after_misses`` misses.

    Activity (module docstring): a clear candidate that changed towards
    disturbance since its previous clear look stamps ``last_active`` with
    ``day``; so does the look that confirms a pixel whose earlier look was
    active.  Every clear look stores the pixel's ``ndvi, mndwi, ndti`` as
    ``prev_*``.  ``last_active`` is reset with the detection.  Evidence
    without those indices (``ndvi, mndwi, ndti``) compares nothing, so it
    shows no activity.  A ``state`` without the activity variables is
    completed by :func:`with_activity_state`.
    """
    state = with_activity_state(state)
    clear = clear.astype(bool).fillna(False) if clear.dtype != bool else clear
    has_looks = all(k in evidence for k in ("ndvi", "mndwi", "ndti"))
    looks = [evidence[k] for k in ("ndvi", "mndwi", "ndti")] if has_looks else []
    # every rule in one pass over numpy blocks (clear first: the outputs take its dims order)
    folded = xr.apply_ufunc(
        _fold, clear, evidence["candidate"], evidence["kinds"], evidence["score"], *(state[k] for k in STATE_VARS),
        *looks, kwargs={"day": day, "params": params}, output_core_dims=[[]] * len(STATE_VARS),
        dask="parallelized", output_dtypes=[_STATE_DTYPES[k] for k in STATE_VARS], join="exact",
        keep_attrs=False)
    out = xr.Dataset(dict(zip(STATE_VARS, folded, strict=True)))
    # attributes as ``xr.where`` leaves them: those of the values a clear look takes
    out["score"].attrs = dict(evidence["score"].attrs)
    for k, v in zip(_LOOK_VARS, looks or [state[k] for k in _LOOK_VARS], strict=True):
        out[k].attrs = dict(v.attrs)
    out.attrs = dict(state.attrs)
    return out


_STATE_DTYPES = {"n_confirm": "uint8", "n_miss": "uint8", "first_detected": "int32", "last_detected": "int32",
                 "kinds": "uint8", "score": "float32", "last_active": "int32",
                 **{k: "int16" for k in _LOOK_VARS}}


def _fold(clear: np.ndarray, candidate: np.ndarray, ev_kinds: np.ndarray, ev_score: np.ndarray,
          *arrays: np.ndarray, day: int, params: DetectionParams) -> tuple[np.ndarray, ...]:
    """The rules of :func:`update_detection` on arrays (new arrays; the inputs are not changed).

    ``arrays``: the state's ``STATE_VARS``, then (optional) the look's ``ndvi,
    mndwi, ndti``.  Returns the new ``STATE_VARS``.  The counters are uint8 and
    saturate at 255.
    """
    mp = params.mining
    st = dict(zip(STATE_VARS, arrays[:len(STATE_VARS)], strict=True))
    now = arrays[len(STATE_VARS):]
    day32 = np.int32(day)
    hit = clear & candidate
    miss = clear & ~candidate
    n_new = st["n_confirm"].astype("uint8")
    np.add(n_new, 1, out=n_new, where=hit & (n_new < 255))
    first = st["first_detected"].astype("int32")
    np.copyto(first, day32, where=hit & (first < 0))
    last = st["last_detected"].astype("int32")
    np.copyto(last, day32, where=hit)
    kinds = st["kinds"].astype("uint8")
    np.bitwise_or(kinds, ev_kinds.astype("uint8", copy=False), out=kinds, where=hit)
    n_miss = st["n_miss"].astype("uint8")
    np.copyto(n_miss, 0, where=hit)
    np.add(n_miss, 1, out=n_miss, where=miss & (n_miss < 255))
    reset = miss & (n_miss >= mp.reset_after_misses) & (n_new < mp.confirm_medium)
    # active: the look that confirms a pixel whose earlier look was active (new ground joins the
    # polygon), or a hit that changed since its previous look (tested on the hits only)
    n = st["n_confirm"]
    active = hit & (n > 0) & (n < mp.confirm_medium) & (st["last_active"] >= 0)
    if now and hit.any():
        prev = tuple(_unlook(st[k][hit]) for k in _LOOK_VARS)
        active[hit] |= _changed(prev, tuple(v[hit] for v in now), params)
    last_active = st["last_active"].astype("int32")
    np.copyto(last_active, day32, where=active)
    looks = [st[k].astype("int16") for k in _LOOK_VARS]
    for look, index in zip(looks, now, strict=False):
        np.copyto(look, _look(index), where=clear)
    for a, fill in ((n_new, 0), (n_miss, 0), (first, -1), (last, -1), (kinds, 0), (last_active, -1)):
        np.copyto(a, fill, where=reset)
    score = np.where(clear, ev_score, st["score"]).astype("float32", copy=False)
    return n_new, n_miss, first, last, kinds, score, last_active, *looks


def count_kinds(kinds: ArrayLike) -> ArrayLike:
    """Number of physical evidence kinds (vegetation loss, bare, water, texture) in a bitmask (uint8)."""
    k = kinds.astype("uint8")
    n = (k & 1) + ((k >> 1) & 1) + ((k >> 2) & 1) + ((k >> 3) & 1)
    return n.astype("uint8")


def confidence_level(state: xr.Dataset, params: DetectionParams) -> xr.DataArray:
    """Confidence 0..4 from persistence (``n_confirm``) and agreeing kinds (``kinds``)."""
    conf = xr.apply_ufunc(_confidence, state["n_confirm"], state["kinds"], kwargs={"params": params},
                          dask="parallelized", output_dtypes=[np.uint8], keep_attrs=False)
    return conf.rename("confidence")


def _confidence(n: np.ndarray, kinds: np.ndarray, params: DetectionParams) -> np.ndarray:
    """:func:`confidence_level` on arrays (uint8)."""
    mp = params.mining
    nk = count_kinds(kinds)
    conf = np.where(n >= 1, 1, 0)
    conf = np.where((n >= mp.confirm_medium) | ((n >= 1) & (nk >= mp.single_obs_medium_kinds)), 2, conf)
    conf = np.where((n >= mp.confirm_high) | ((n >= mp.confirm_medium) & (nk >= mp.high_kinds)), 3, conf)
    conf = np.where((n >= mp.confirm_high) & (nk >= mp.highest_kinds), 4, conf)
    return conf.astype("uint8")


def _take_where(cond: np.ndarray, *values: np.ndarray) -> tuple[np.ndarray, ...]:
    """``np.where(cond, new, old)`` as float32 for each pair of the ``new..., old...`` ``values``."""
    k = len(values) // 2
    return tuple(np.where(cond, new, old).astype("float32", copy=False)
                 for new, old in zip(values[:k], values[k:], strict=True))


def peti_evidence(cube: xr.Dataset, clear: xr.DataArray, stats: xr.Dataset, params: DetectionParams,
                  state: xr.Dataset | None = None) -> xr.Dataset:
    """Run a week's acquisitions through the evidence rules; the §3 Dataset.

    Parameters
    ----------
    cube
        Bands ``blue, green, red, nir, swir16`` ``(time, y, x)`` (the week's acquisitions).
    clear
        bool ``(time, y, x)`` from :func:`sarolangun_geo.masking.clear_mask`.
    stats
        :func:`sarolangun_geo.baseline.baseline_stats` (for the week's season).
    state
        The previous week's output (or ``None`` to start fresh: then the
        baseline medians stand for the look before monitoring, see
        :func:`empty_detection_state`).

    Returns
    -------
    xr.Dataset
        dims ``(y, x)``: ``confidence`` (uint8 0..4), ``score`` (float32, of
        the latest clear look), ``n_confirm`` (uint8), ``first_detected`` /
        ``last_detected`` / ``last_active`` (int32 days since 1970-01-01, -1
        none; ``last_active``: latest look that showed activity), ``kinds``
        (uint8 bitmask, accumulated over confirming looks), ``d_ndvi, d_bsi,
        d_mndwi, d_ndti`` (float32, latest clear look of the week, NaN if
        none), ``permanent_water`` (bool), plus state ``n_miss`` (uint8),
        ``prev_ndvi, prev_mndwi, prev_ndti`` (int16, index x ``LOOK_SCALE``
        at the pixel's latest clear look, ``LOOK_NONE`` before any) and
        ``n_clear`` (uint8, clear looks this week).  A ``state`` stored
        without the activity variables is completed by
        :func:`with_activity_state`.  ``attrs["acquisitions"]`` lists the
        folded dates; acquisitions already folded are skipped, so a rerun is
        idempotent.
    """
    gbox = check_grid(cube)
    check_grid(stats, gbox)
    st = (empty_detection_state(stats, looks_from=stats) if state is None
          else with_activity_state(state)[list(STATE_VARS)])
    st.attrs = dict(state.attrs) if state is not None else dict(st.attrs)
    done = set(json.loads(st.attrs.get("acquisitions", "[]")))
    d_last = {k: xr.full_like(stats["ndvi_median"], np.nan, dtype="float32") for k in D_VARS}
    n_clear = xr.zeros_like(stats["ndvi_median"], dtype="uint8")
    keep = ("time", "y", "x", "spatial_ref")
    cube = cube.drop_vars([c for c in cube.coords if c not in keep])
    clear = clear.drop_vars([c for c in clear.coords if c not in keep])
    times = sorted(cube.time.values)
    near = near_water(stats["permanent_water"], params.water)  # the baseline's: the same for every look
    for t in times:
        date = str(pd.Timestamp(t).date())
        if date in done:
            continue
        obs = cube.sel(time=t).drop_vars("time", errors="ignore")
        ok = clear.sel(time=t).drop_vars("time", errors="ignore")
        ev = acquisition_evidence(obs, stats, params, near=near)
        st = update_detection(st, ev, ok, epoch_day(t), params)
        latest = xr.apply_ufunc(_take_where, ok, *(ev[k] for k in D_VARS), *(d_last[k] for k in D_VARS),
                                output_core_dims=[[]] * len(D_VARS), dask="parallelized",
                                output_dtypes=[np.float32] * len(D_VARS), join="exact", keep_attrs=False)
        d_last = {k: v.assign_attrs(ev[k].attrs) for k, v in zip(D_VARS, latest, strict=True)}
        n_clear = (n_clear + ok.astype("uint8")).astype("uint8")
        done.add(date)
    out = st.copy()
    out["confidence"] = confidence_level(st, params)
    for k in D_VARS:
        out[k] = d_last[k]
    out["permanent_water"] = stats["permanent_water"].astype(bool)
    out["n_clear"] = n_clear
    out = out.drop_vars([c for c in out.coords if c not in ("y", "x", "spatial_ref")])
    out.attrs = {"acquisitions": json.dumps(sorted(done))}
    order = ["confidence", "score", "n_confirm", "first_detected", "last_detected", "last_active", "kinds",
             *D_VARS, "permanent_water", "n_miss", "n_clear", *_LOOK_VARS]
    return out[order]
