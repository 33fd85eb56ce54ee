"""Priority score (0–100) and rank of registry sites.

Formula (weights and scales in ``data/config/sites.toml`` ``[priority]``)::

    growth     = clip((area_ha / prev_area_ha - 1) / growth_saturation, 0, 1)   # this week, 0 if undetected
    size       = clip(area_ha / size_saturation_ha, 0, 1)
    water      = clip(1 - dist_water_m / water_scale_m, 0, 1)                  # 0 if unknown
    settlement = clip(1 - dist_settlement_m / settlement_scale_m, 0, 1)        # 0 if unknown
    forest     = 1 if legality == "hutan_lindung" else 0
    recurrence = 1 if active again after an "acted_on" field visit else 0
    confidence = confidence / 4
    outside    = 1 if legality == "luar_izin" else 0

    raw = w_growth*growth + w_size*size + w_water*water + w_settlement*settlement
          + w_forest*forest + w_recurrence*recurrence + w_confidence*confidence + w_outside_permit*outside
    priority = clip(raw, 0, 100)
             * inactive_factor  if status in {tidak_aktif, rehabilitasi}
             * permit_factor    if legality == "dalam_izin"
             = 0                if the site is suppressed (verified false positive)

rounded to 0.1.  ``priority_rank`` is 1 for the highest priority among the
current (not merged) sites, ties broken by ``site_id``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .params import PriorityConfig

__all__ = ["priority_ranks", "priority_scores"]


def _num(df: pd.DataFrame, col: str, default: float = np.nan) -> np.ndarray:
    if col not in df:
        return np.full(len(df), default)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype="float64")


def priority_scores(sites: pd.DataFrame, config: PriorityConfig | None = None) -> np.ndarray:
    """Priority (0..100, float) of each row of ``sites`` (see the module docstring).

    Uses columns ``area_ha``, ``growth`` (area ratio this week, 0/NaN if none),
    ``dist_water_m``, ``dist_settlement_m``, ``legality``, ``recurrence``,
    ``confidence``, ``status`` and ``suppressed``; missing columns count as 0.
    """
    c = config or PriorityConfig()
    clip = lambda a: np.clip(np.nan_to_num(a, nan=0.0), 0.0, 1.0)  # noqa: E731
    growth = clip((_num(sites, "growth", 0.0) - 1.0) / c.growth_saturation)
    size = clip(_num(sites, "area_ha", 0.0) / c.size_saturation_ha)
    water = clip(1.0 - _num(sites, "dist_water_m") / c.water_scale_m)
    settle = clip(1.0 - _num(sites, "dist_settlement_m") / c.settlement_scale_m)
    legality = sites["legality"].astype(str).to_numpy() if "legality" in sites else np.full(len(sites), "")
    forest = (legality == "hutan_lindung").astype(float)
    outside = (legality == "luar_izin").astype(float)
    recur = clip(_num(sites, "recurrence", 0.0))
    conf = clip(_num(sites, "confidence", 0.0) / 4.0)
    raw = (c.w_growth * growth + c.w_size * size + c.w_water * water + c.w_settlement * settle
           + c.w_forest * forest + c.w_recurrence * recur + c.w_confidence * conf + c.w_outside_permit * outside)
    out = np.clip(raw, 0.0, 100.0)
    status = sites["status"].astype(str).to_numpy() if "status" in sites else np.full(len(sites), "")
    out = np.where(np.isin(status, ["tidak_aktif", "rehabilitasi"]), out * c.inactive_factor, out)
    out = np.where(legality == "dalam_izin", out * c.permit_factor, out)
    suppressed = _num(sites, "suppressed", 0.0) > 0
    return np.round(np.where(suppressed, 0.0, out), 1)


def priority_ranks(priority: np.ndarray, site_ids: np.ndarray) -> np.ndarray:
    """Rank 1..n by descending priority, ties by ascending ``site_id``."""
    order = np.lexsort((np.asarray(site_ids, dtype=str), -np.asarray(priority, dtype=float)))
    ranks = np.empty(len(order), dtype="int64")
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks
