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
from ..indices import compute_indices
from ..masking import dilate, focal_mean
from .params import DetectionParams, MiningParams
from .water import is_turbid, near_water, new_water, pit_texture

__all__ = [
    "KIND_BARE",
    "KIND_NEAR_WATER",
    "KIND_TEXTURE",
    "KIND_VEG_LOSS",
    "KIND_WATER",
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
]

KIND_VEG_LOSS, KIND_BARE, KIND_WATER, KIND_TEXTURE, KIND_NEAR_WATER = 1, 2, 4, 8, 16
#: Variables carried from week to week.
STATE_VARS = ("n_confirm", "n_miss", "first_detected", "last_detected", "kinds", "score")
_D_VARS = ("d_ndvi", "d_bsi", "d_mndwi", "d_ndti")


def epoch_day(t: Any) -> int:
    """Days since 1970-01-01 of a date/datetime (the §3 date encoding)."""
    return int((pd.Timestamp(t).normalize() - pd.Timestamp("1970-01-01")).days)


def bright_tailings(blue: xr.DataArray, green: xr.DataArray, red: xr.DataArray,
                    params: MiningParams) -> xr.DataArray:
    """Washed tailings colour: bright, iron-poor sand and gravel (bool; NaN -> False).

    Sluicing strips the iron-oxide coatings and the fines off alluvial sand,
    so PETI spoil is far brighter in the visible (``red >= tailings_min_red``,
    ``green >= tailings_min_green``; quartz sand ~0.2-0.3) than the lateritic
    soil of clearings, landslide scars and dirt roads (red ~0.10-0.16; a few
    pixels reach ~0.19 on sunlit slopes under smoke haze, which the deposit,
    river-context and persistence tests then remove), while its spectrum still
    rises to the red like ground
    (``blue <= tailings_max_blue_red * red``; haze, cloud remnants and roofs
    are flat).  Only the colour: combine with vegetation loss and bare-soil
    evidence, see :func:`tailings_deposit`.  Surface reflectance, dims ``(y, x)``.
    """
    return ((red >= params.tailings_min_red) & (green >= params.tailings_min_green)
            & (blue <= params.tailings_max_blue_red * red))


def tailings_deposit(tailings: xr.DataArray, params: MiningParams) -> xr.DataArray:
    """Tailings pixels that lie in a deposit: local share >= ``tailings_min_frac`` (bool, y, x).

    The share is taken over a disk of ``tailings_radius_px``, so isolated
    bright pixels (cloud edges, mixed road or roof pixels) drop out while a
    spoil heap of a few hundred m² stays.
    """
    frac = focal_mean(tailings.astype("float32"), params.tailings_radius_px)
    return tailings & (frac >= params.tailings_min_frac)


def acquisition_evidence(obs: xr.Dataset, stats: xr.Dataset, params: DetectionParams) -> xr.Dataset:
    """Evidence of one acquisition against the baseline.

    Parameters
    ----------
    obs
        Bands ``blue, green, red, nir, swir16`` (float reflectance, NaN nodata), dims ``(y, x)``.
    stats
        :func:`sarolangun_geo.baseline.baseline_stats` for the season of ``obs``.
    params
        :class:`~sarolangun_geo.change.params.DetectionParams`.

    Returns
    -------
    xr.Dataset
        ``candidate`` (bool), ``kinds`` (uint8 bitmask), ``score`` (float32,
        0..1), ``d_ndvi, d_bsi, d_mndwi, d_ndti`` (float32, NaN where ``obs``
        or the baseline is NaN).  Cloudiness is *not* handled here; combine
        with the clear mask in :func:`update_detection`.
    """
    mp, wp = params.mining, params.water
    idx = compute_indices(obs, ("ndvi", "bsi", "mndwi", "ndti"))
    d = {f"d_{k}": (idx[k] - stats[f"{k}_median"]).astype("float32") for k in ("ndvi", "bsi", "mndwi", "ndti")}
    vegetated = stats["vegetated"].astype(bool)
    veg_loss = (vegetated & (d["d_ndvi"] < mp.veg_loss_dndvi)
                & (d["d_ndvi"] < -mp.veg_loss_z * stats["ndvi_mad"]) & (idx["ndvi"] < mp.veg_loss_max_ndvi))
    bare = (idx["bsi"] > mp.bare_bsi) & (d["d_bsi"] > mp.bare_dbsi) & (idx["ndvi"] < mp.bare_max_ndvi)
    water = new_water(idx["mndwi"], stats["mndwi_p90"], stats["water_freq_max"], wp) & is_turbid(idx["ndti"], wp)
    water_cleared = water & vegetated
    texture = pit_texture(water_cleared, bare & veg_loss, wp)
    near = near_water(stats["permanent_water"], wp)
    tailings = tailings_deposit(veg_loss & bare & bright_tailings(obs["blue"], obs["green"], obs["red"], mp), mp)
    support = dilate(water_cleared | (tailings & near), mp.support_radius_px)
    candidate = veg_loss & (bare | water) & support
    kinds = (veg_loss.astype("uint8") * KIND_VEG_LOSS + bare.astype("uint8") * KIND_BARE
             + water.astype("uint8") * KIND_WATER + texture.astype("uint8") * KIND_TEXTURE
             + near.astype("uint8") * KIND_NEAR_WATER).astype("uint8")
    score = (mp.w_veg_loss * veg_loss + mp.w_bare * bare + mp.w_water * water + mp.w_texture * texture
             + mp.w_near_water * near)
    wsum = mp.w_veg_loss + mp.w_bare + mp.w_water + mp.w_texture + mp.w_near_water
    out = xr.Dataset({"candidate": candidate, "kinds": kinds, "score": (score / wsum).astype("float32"), **d})
    return out.drop_vars([c for c in ("time", "quantile") if c in out.coords])


def empty_detection_state(template: xr.Dataset | xr.DataArray) -> xr.Dataset:
    """A detection state with nothing detected, on the (y, x) grid of ``template``."""
    ref = template if isinstance(template, xr.DataArray) else next(iter(template.data_vars.values()))
    ref = ref.isel({d: 0 for d in ref.dims if d not in ("y", "x")}, drop=True)
    ds = xr.Dataset({
        "n_confirm": xr.zeros_like(ref, dtype="uint8"),
        "n_miss": xr.zeros_like(ref, dtype="uint8"),
        "first_detected": xr.full_like(ref, -1, dtype="int32"),
        "last_detected": xr.full_like(ref, -1, dtype="int32"),
        "kinds": xr.zeros_like(ref, dtype="uint8"),
        "score": xr.zeros_like(ref, dtype="float32"),
    })
    ds = ds.drop_vars([c for c in ds.coords if c not in ("y", "x", "spatial_ref")])
    ds.attrs["acquisitions"] = "[]"
    return ds


def update_detection(state: xr.Dataset, evidence: xr.Dataset, clear: xr.DataArray, day: int,
                     params: DetectionParams) -> xr.Dataset:
    """Fold one acquisition's evidence into the persistence state.

    ``clear`` (bool, y, x) decides which pixels were observed; cloudy pixels
    keep their state.  A clear candidate increments ``n_confirm`` and stamps
    ``first_detected``/``last_detected`` with ``day``; a clear non-candidate
    increments ``n_miss``, and an unconfirmed detection (``n_confirm <
    confirm_medium``) is reset after ``reset_after_misses`` misses.
    """
    mp = params.mining
    clear = clear.astype(bool).fillna(False) if clear.dtype != bool else clear
    hit = clear & evidence["candidate"]
    miss = clear & ~evidence["candidate"]
    n = state["n_confirm"]
    n_new = xr.where(hit, np.minimum(n.astype("int32") + 1, 255), n).astype("uint8")
    first = xr.where(hit & (state["first_detected"] < 0), np.int32(day), state["first_detected"]).astype("int32")
    last = xr.where(hit, np.int32(day), state["last_detected"]).astype("int32")
    kinds = xr.where(hit, state["kinds"] | evidence["kinds"], state["kinds"]).astype("uint8")
    n_miss = xr.where(hit, 0, xr.where(miss, np.minimum(state["n_miss"].astype("int32") + 1, 255),
                                       state["n_miss"])).astype("uint8")
    reset = miss & (n_miss >= mp.reset_after_misses) & (n_new < mp.confirm_medium)
    out = xr.Dataset({
        "n_confirm": xr.where(reset, 0, n_new).astype("uint8"),
        "n_miss": xr.where(reset, 0, n_miss).astype("uint8"),
        "first_detected": xr.where(reset, -1, first).astype("int32"),
        "last_detected": xr.where(reset, -1, last).astype("int32"),
        "kinds": xr.where(reset, 0, kinds).astype("uint8"),
        "score": xr.where(clear, evidence["score"], state["score"]).astype("float32"),
    })
    out.attrs = dict(state.attrs)
    return out


def count_kinds(kinds: xr.DataArray) -> xr.DataArray:
    """Number of physical evidence kinds (vegetation loss, bare, water, texture) in a bitmask (uint8)."""
    k = kinds.astype("uint8")
    n = (k & 1) + ((k >> 1) & 1) + ((k >> 2) & 1) + ((k >> 3) & 1)
    return n.astype("uint8")


def confidence_level(state: xr.Dataset, params: DetectionParams) -> xr.DataArray:
    """Confidence 0..4 from persistence (``n_confirm``) and agreeing kinds (``kinds``)."""
    mp = params.mining
    n = state["n_confirm"]
    nk = count_kinds(state["kinds"])
    conf = xr.where(n >= 1, 1, 0)
    conf = xr.where((n >= mp.confirm_medium) | ((n >= 1) & (nk >= mp.single_obs_medium_kinds)), 2, conf)
    conf = xr.where((n >= mp.confirm_high) | ((n >= mp.confirm_medium) & (nk >= mp.high_kinds)), 3, conf)
    conf = xr.where((n >= mp.confirm_high) & (nk >= mp.highest_kinds), 4, conf)
    return conf.astype("uint8").rename("confidence")


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
        The previous week's output (or ``None`` to start fresh).

    Returns
    -------
    xr.Dataset
        dims ``(y, x)``: ``confidence`` (uint8 0..4), ``score`` (float32, of
        the latest clear look), ``n_confirm`` (uint8), ``first_detected`` /
        ``last_detected`` (int32 days since 1970-01-01, -1 none), ``kinds``
        (uint8 bitmask, accumulated over confirming looks), ``d_ndvi, d_bsi,
        d_mndwi, d_ndti`` (float32, latest clear look of the week, NaN if
        none), ``permanent_water`` (bool), plus state ``n_miss`` (uint8) and
        ``n_clear`` (uint8, clear looks this week).  ``attrs["acquisitions"]``
        lists the folded dates; acquisitions already folded are skipped, so
        a rerun is idempotent.
    """
    gbox = check_grid(cube)
    check_grid(stats, gbox)
    st = empty_detection_state(stats) if state is None else state[list(STATE_VARS)]
    st.attrs = dict(state.attrs) if state is not None else dict(st.attrs)
    done = set(json.loads(st.attrs.get("acquisitions", "[]")))
    d_last = {k: xr.full_like(stats["ndvi_median"], np.nan, dtype="float32") for k in _D_VARS}
    n_clear = xr.zeros_like(stats["ndvi_median"], dtype="uint8")
    keep = ("time", "y", "x", "spatial_ref")
    cube = cube.drop_vars([c for c in cube.coords if c not in keep])
    clear = clear.drop_vars([c for c in clear.coords if c not in keep])
    times = sorted(cube.time.values)
    for t in times:
        date = str(pd.Timestamp(t).date())
        if date in done:
            continue
        obs = cube.sel(time=t).drop_vars("time", errors="ignore")
        ok = clear.sel(time=t).drop_vars("time", errors="ignore")
        ev = acquisition_evidence(obs, stats, params)
        st = update_detection(st, ev, ok, epoch_day(t), params)
        for k in _D_VARS:
            d_last[k] = xr.where(ok, ev[k], d_last[k]).astype("float32")
        n_clear = (n_clear + ok.astype("uint8")).astype("uint8")
        done.add(date)
    out = st.copy()
    out["confidence"] = confidence_level(st, params)
    for k in _D_VARS:
        out[k] = d_last[k]
    out["permanent_water"] = stats["permanent_water"].astype(bool)
    out["n_clear"] = n_clear
    out = out.drop_vars([c for c in out.coords if c not in ("y", "x", "spatial_ref")])
    out.attrs = {"acquisitions": json.dumps(sorted(done))}
    order = ["confidence", "score", "n_confirm", "first_detected", "last_detected", "kinds", *_D_VARS,
             "permanent_water", "n_miss", "n_clear"]
    return out[order]
