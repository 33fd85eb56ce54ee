"""PETI evidence of one clear acquisition against the baseline, per pixel.

The per-acquisition half of :mod:`sarolangun_geo.change.mining` (see its docstring for
the rules and the evidence kinds): :func:`acquisition_evidence` runs the per-pixel
rules in one pass over numpy blocks (:func:`_pixel_rules`, lazy on dask through
``xarray.apply_ufunc``), then the neighbourhood tests (pit texture, tailings
deposits, support by water or tailings), then the candidate, kinds and score
(:func:`_candidate_rules`).  The persistence across looks is in ``mining``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..indices import INDEX_FUNCTIONS, ArrayLike
from ..masking import dilate, focal_mean
from .params import DetectionParams, MiningParams
from .water import is_turbid, near_water, new_water, pit_texture

__all__ = [
    "D_VARS",
    "KIND_BARE",
    "KIND_NEAR_WATER",
    "KIND_TEXTURE",
    "KIND_VEG_LOSS",
    "KIND_WATER",
    "acquisition_evidence",
    "bright_tailings",
    "tailings_deposit",
]

#: Evidence kinds, the bits of ``kinds``.
KIND_VEG_LOSS, KIND_BARE, KIND_WATER, KIND_TEXTURE, KIND_NEAR_WATER = 1, 2, 4, 8, 16
#: Index differences against the baseline medians, per acquisition.
D_VARS = ("d_ndvi", "d_bsi", "d_mndwi", "d_ndti")


def bright_tailings(blue: ArrayLike, green: ArrayLike, red: ArrayLike,
                    params: MiningParams) -> ArrayLike:
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
    frac = focal_mean(tailings.astype(bool), params.tailings_radius_px)  # bool: exact counts
    return tailings & (frac >= params.tailings_min_frac)


def acquisition_evidence(obs: xr.Dataset, stats: xr.Dataset, params: DetectionParams, *,
                         near: xr.DataArray | None = None) -> xr.Dataset:
    """Evidence of one acquisition against the baseline.

    Parameters
    ----------
    obs
        Bands ``blue, green, red, nir, swir16`` (float reflectance, NaN nodata), dims ``(y, x)``.
    stats
        :func:`sarolangun_geo.baseline.baseline_stats` for the season of ``obs``.
    params
        :class:`~sarolangun_geo.change.params.DetectionParams`.
    near
        Optional :func:`~sarolangun_geo.change.water.near_water` of ``stats["permanent_water"]``
        (bool, y, x), when the caller has it already (it depends on the baseline only).

    Returns
    -------
    xr.Dataset
        ``candidate`` (bool), ``kinds`` (uint8 bitmask), ``score`` (float32,
        0..1), ``d_ndvi, d_bsi, d_mndwi, d_ndti`` (float32, NaN where ``obs``
        or the baseline is NaN), and the look's own ``ndvi, mndwi, ndti``
        (float32, NaN where ``obs`` is NaN; the activity test of
        :func:`update_detection`).  Cloudiness is *not* handled here; combine
        with the clear mask in :func:`update_detection`.
    """
    mp, wp = params.mining, params.water
    # the per-pixel rules in one pass over numpy blocks, then the neighbourhood tests
    args = [obs[b] for b in _OBS_BANDS] + [stats[k] for k in _STATS_VARS]
    px = dict(zip(_PIXEL_OUT, xr.apply_ufunc(
        _pixel_rules, *args, kwargs={"params": params}, output_core_dims=[[]] * len(_PIXEL_OUT),
        dask="parallelized", output_dtypes=[np.float32] * 7 + [bool] * 6, join="inner"), strict=True))
    texture = pit_texture(px["water_cleared"], px["cleared_bare"], wp)
    near = near_water(stats["permanent_water"], wp) if near is None else near
    tailings = tailings_deposit(px["tailings"], mp)
    support = dilate(px["water_cleared"] | (tailings & near), mp.support_radius_px)
    candidate, kinds, score = xr.apply_ufunc(
        _candidate_rules, px["veg_loss"], px["bare"], px["water"], texture, near, support,
        kwargs={"params": params}, output_core_dims=[[], [], []], dask="parallelized",
        output_dtypes=[bool, np.uint8, np.float32], join="inner")
    out = xr.Dataset({"candidate": candidate, "kinds": kinds, "score": score,
                      **{k: px[k] for k in (*D_VARS, "ndvi", "mndwi", "ndti")}})
    return out.drop_vars([c for c in ("time", "quantile") if c in out.coords])


_OBS_BANDS = ("blue", "green", "red", "nir", "swir16")
_STATS_VARS = ("ndvi_median", "bsi_median", "mndwi_median", "ndti_median", "ndvi_mad", "vegetated", "mndwi_p90",
               "water_freq_max")
_PIXEL_OUT = (*D_VARS, "ndvi", "mndwi", "ndti", "veg_loss", "bare", "water", "water_cleared", "cleared_bare",
              "tailings")


def _pixel_rules(blue: np.ndarray, green: np.ndarray, red: np.ndarray, nir: np.ndarray, swir16: np.ndarray,
                 *stats_values: np.ndarray, params: DetectionParams) -> tuple[np.ndarray, ...]:
    """The per-pixel rules of :func:`acquisition_evidence` on arrays (the ``_PIXEL_OUT`` values).

    ``stats_values`` are the ``_STATS_VARS`` of the baseline statistics.
    """
    mp, wp = params.mining, params.water
    st = dict(zip(_STATS_VARS, stats_values, strict=True))
    bands = {"blue": blue, "green": green, "red": red, "nir": nir, "swir16": swir16}
    idx = {}
    for k in ("ndvi", "bsi", "mndwi", "ndti"):
        func, needs = INDEX_FUNCTIONS[k]
        idx[k] = func(**{b: bands[b] for b in needs}).astype("float32", copy=False)
    d = {f"d_{k}": (idx[k] - st[f"{k}_median"]).astype("float32", copy=False) for k in idx}
    vegetated = st["vegetated"].astype(bool, copy=False)
    veg_loss = (vegetated & (d["d_ndvi"] < mp.veg_loss_dndvi)
                & (d["d_ndvi"] < -mp.veg_loss_z * st["ndvi_mad"]) & (idx["ndvi"] < mp.veg_loss_max_ndvi))
    bare = (idx["bsi"] > mp.bare_bsi) & (d["d_bsi"] > mp.bare_dbsi) & (idx["ndvi"] < mp.bare_max_ndvi)
    water = new_water(idx["mndwi"], st["mndwi_p90"], st["water_freq_max"], wp) & is_turbid(idx["ndti"], wp)
    cleared_bare = bare & veg_loss
    tailings = cleared_bare & bright_tailings(blue, green, red, mp)
    return (*d.values(), idx["ndvi"], idx["mndwi"], idx["ndti"], veg_loss, bare, water, water & vegetated,
            cleared_bare, tailings)


def _score_table(mp: MiningParams) -> np.ndarray:
    """Score (float32) of each ``kinds`` bitmask 0..31: the weighted share of its kinds."""
    bits = np.arange(32)
    veg, bare, water, texture, near = ((bits & k) > 0 for k in (KIND_VEG_LOSS, KIND_BARE, KIND_WATER,
                                                                 KIND_TEXTURE, KIND_NEAR_WATER))
    score = (mp.w_veg_loss * veg + mp.w_bare * bare + mp.w_water * water + mp.w_texture * texture
             + mp.w_near_water * near)
    wsum = mp.w_veg_loss + mp.w_bare + mp.w_water + mp.w_texture + mp.w_near_water
    return (score / wsum).astype("float32")


def _candidate_rules(veg_loss: np.ndarray, bare: np.ndarray, water: np.ndarray, texture: np.ndarray,
                     near: np.ndarray, support: np.ndarray, params: DetectionParams) -> tuple[np.ndarray, ...]:
    """``candidate`` (bool), ``kinds`` (uint8 bitmask) and ``score`` (float32) from the evidence kinds."""
    candidate = veg_loss & (bare | water) & support
    kinds = veg_loss.astype("uint8")  # KIND_VEG_LOSS
    for mask, bit in ((bare, KIND_BARE), (water, KIND_WATER), (texture, KIND_TEXTURE), (near, KIND_NEAR_WATER)):
        kinds |= mask.astype("uint8") * np.uint8(bit)
    return candidate, kinds, _score_table(params.mining)[kinds]
