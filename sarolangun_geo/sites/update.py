"""The weekly state update of the registry, as pure functions over DataFrames.

:func:`step` takes the current site table and this week's attributed
polygons and returns the new site table and the observation rows; the
registry (:mod:`.registry`) only reads and writes.  :func:`refresh` re-applies
the verification-derived fields (``verification``, ``suppressed``,
``recurrence``, legality override, priority) and is also used right after a
verification import.

Verification effects:

* latest outcome ``false_positive`` -> ``suppressed`` while ``area_ha <=
  suppress_growth_factor x`` the site's area at verification time;
* latest outcome ``legal`` -> ``legality = "dalam_izin"`` (field finding);
* latest outcome ``acted_on`` -> ``recurrence`` is reset, and new activity
  observed after the visit makes the site ``aktif_kembali`` with the
  recurrence weight added to its priority (see :mod:`.lifecycle`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .lifecycle import next_status, quiet_credit, run_window, week_bounds
from .matching import match_sites
from .params import SitesConfig
from .priority import priority_ranks, priority_scores
from .schema import SITE_COLUMNS

__all__ = ["WeekResult", "empty_state", "format_site_id", "refresh", "site_number", "step"]

_COLS = [c for c, _ in SITE_COLUMNS]
_CARRY = ("kecamatan", "kode_kemendagri_kec", "kode_bps_kec", "desa", "kode_desa", "lat", "lon", "lat_dms",
          "lon_dms", "dist_water_m", "dist_road_m", "dist_settlement_m", "legality", "legality_detail",
          "evidence", "d_ndvi", "d_bsi", "d_mndwi", "d_ndti")


@dataclass(frozen=True)
class WeekResult:
    """Output of :func:`step`: new ``sites`` state, ``observations`` rows, next id and counts."""

    sites: pd.DataFrame
    observations: pd.DataFrame
    next_id: int
    counts: dict[str, int]


def format_site_id(n: int) -> str:
    """``123 -> "SRL-PETI-000123"``."""
    return f"SRL-PETI-{n:06d}"


def site_number(site_id: str) -> int:
    """``"SRL-PETI-000123" -> 123``."""
    return int(str(site_id).rsplit("-", 1)[-1])


def empty_state() -> pd.DataFrame:
    """An empty site table (all columns plus ``geometry``)."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in [*_COLS, "geometry"]})


def _get(row: Mapping[str, Any], key: str, default: Any = None) -> Any:
    v = row.get(key, default)
    if v is None or (isinstance(v, float) and np.isnan(v) and default is not None):
        return default
    return v


def _merge_dates(a: str, b: str, keep: int) -> str:
    dates = sorted({d for d in f"{a or ''},{b or ''}".split(",") if d})
    return ",".join(dates[-keep:])


def _clear_credit(sid: str, fstats: pd.DataFrame | None, cfg: SitesConfig, span_weeks: int) -> int | None:
    """Quiet clear weeks this run would add for site ``sid`` (:func:`.lifecycle.quiet_credit`).

    None when ``fstats`` carries no clear information (no ``clear_frac``
    column); 0 for an unobserved (cloudy) run or a site missing from ``fstats``.
    A seen-clear footprint (``clear_frac >= min_clear_frac``) counts
    ``min(span_weeks, clear_looks)``, or one week without a ``clear_looks`` column.
    """
    if fstats is None or "clear_frac" not in fstats.columns:
        return None
    if sid not in fstats.index:
        return 0
    frac = float(fstats.at[sid, "clear_frac"])
    if not (np.isfinite(frac) and frac >= cfg.lifecycle.min_clear_frac):
        return 0
    looks = float(fstats.at[sid, "clear_looks"]) if "clear_looks" in fstats.columns else 1.0
    return quiet_credit(max(looks, 1.0), span_weeks)


def _inactivity(prev: Mapping[str, Any], active: bool, week: str, cfg: SitesConfig,
                credit: int | None) -> tuple[int, bool]:
    """New ``quiet_clear_weeks`` of a site and the inactivity signal **I** (see :mod:`.lifecycle`).

    The count comes from ``prev`` (the state before this run), so a rerun of
    the week does not count it twice.  Activity resets it; a run without
    activity adds ``credit`` (:func:`_clear_credit`: 0 when the footprint was
    not seen clear).  Without clear information (``credit`` None) the count is
    left as it is and **I** falls back to calendar weeks since ``last_seen``.
    """
    count = int(_get(prev, "quiet_clear_weeks", 0) or 0)
    if active:
        return 0, False
    lc = cfg.lifecycle
    if credit is None:
        last = prev.get("last_seen") or ""
        days = (week_bounds(week)[1] - dt.date.fromisoformat(last)).days if last else -1
        return count, days >= 7 * lc.inactive_weeks
    count += credit
    return count, count >= lc.inactive_weeks


def _recovering(sid: str, fstats: pd.DataFrame | None, cfg: SitesConfig, recovery: Mapping[str, bool] | None,
                credit: int | None) -> bool:
    """Recovery signal **R** of a site without fresh activity (see :mod:`.lifecycle`).

    An explicit ``recovery`` entry wins.  Otherwise the footprint's mean
    ``d_ndvi`` must be back near the baseline (``>= rehab_d_ndvi``) while no
    footprint pixel reaches the site threshold or the footprint was seen clear
    in the run (``credit > 0``: a revegetated pit keeps its old confidence).
    """
    if recovery is not None and sid in recovery:
        return bool(recovery[sid])
    if fstats is None or sid not in fstats.index:
        return False
    fs = fstats.loc[sid]
    d = float(fs["d_ndvi"])
    quiet = fs["confidence"] < cfg.polygonize.min_confidence or bool(credit)
    return bool(np.isfinite(d) and d >= cfg.lifecycle.rehab_d_ndvi and quiet)


def _fresh(obs: str, prev: Mapping[str, Any], window_start: str) -> bool:
    """Fresh activity: the polygon's activity date is in the run's window and new to the site."""
    return bool(obs) and obs >= window_start and obs > (prev.get("last_seen") or "")


def _activity_date(p: Mapping[str, Any], detected: str, mode: str = "change") -> str:
    """A polygon's activity date (ISO, "" none): its ``last_active``, or ``detected`` without that column.

    ``last_active`` (:mod:`.polygonize`) dates the latest look on which enough of
    the polygon's pixels *changed* (a worked mine); polygons from evidence
    without it (states stored before it existed, older callers) fall back to
    the latest confirming observation, the former rule, which ``mode="evidence"``
    (``[lifecycle] activity``) always uses.
    """
    if mode == "evidence" or "last_active" not in p:
        return detected
    v = p["last_active"]
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def _detected_record(prev: Mapping[str, Any] | None, p: Mapping[str, Any], sid: str, parent: str | None,
                     week: str, cfg: SitesConfig, latest: Mapping[str, Any] | None,
                     fstats: pd.DataFrame | None = None, *, window_start: str = "", span_weeks: int = 1,
                     recovery: Mapping[str, bool] | None = None) -> tuple[dict[str, Any], bool]:
    """The new record of a site a polygon matched (or a new site), and whether it was observed active."""
    week_end = week_bounds(week)[1].isoformat()
    det = _get(p, "last_detected", "") or week_end
    obs = _activity_date(p, det, cfg.lifecycle.activity)
    area = float(p["area_ha"])
    base = dict(prev) if prev is not None else {}
    if prev is None or parent is not None:
        first = _get(p, "first_detected", "") or det
        status, ratio, quiet, active = "baru", 1.0, 0, True
        if parent is not None and prev is not None:
            first = prev.get("first_seen") or first
            active = _fresh(obs, prev, window_start)
            status = next_status(prev["status"], active=active, grown=False, recurrence=False,
                                 recovering=False, inactive=False)
            quiet = 0 if active else int(_get(prev, "quiet_clear_weeks", 0) or 0)
        seen = (obs or det) if active or prev is None else (prev.get("last_seen") or "")
        rec = {"site_id": sid, "status": status, "first_seen": first, "last_seen": seen, "prev_area_ha": area,
               "max_area_ha": area, "growth": ratio, "recurrence": 0, "parent_id": parent, "obs_dates": "",
               "merged_ids": "", "merged_into": None, "verification": "", "verification_date": "",
               "verified_area_ha": None, "suppressed": 0, "quiet_clear_weeks": quiet}
    else:
        prev_area = float(_get(prev, "area_ha", 0.0) or 0.0)
        ratio = area / prev_area if prev_area > 0 else 1.0
        active = _fresh(obs, prev, window_start)
        grown = active and ratio > cfg.lifecycle.growth_factor
        acted = latest is not None and latest.get("outcome") == "acted_on"
        visit = str(latest.get("date")) if latest is not None else ""
        recurrence = bool(active and acted and obs > visit and not _get(prev, "recurrence", 0))
        last = prev.get("last_seen") or ""
        credit = _clear_credit(sid, fstats, cfg, span_weeks)
        quiet, inactive = _inactivity(prev, active, week, cfg, credit)
        recovering = not active and _recovering(sid, fstats, cfg, recovery, credit)
        status = next_status(prev["status"], active=active, grown=grown, recurrence=recurrence,
                             recovering=recovering, inactive=inactive)
        rec = {"status": status, "prev_area_ha": prev_area, "growth": ratio,
               "last_seen": max(last, obs) if active else last,
               "max_area_ha": max(area, float(_get(prev, "max_area_ha", 0.0) or 0.0)),
               "recurrence": 1 if recurrence else int(_get(prev, "recurrence", 0) or 0),
               "quiet_clear_weeks": quiet}
    base.update(rec)
    base.update({k: p.get(k) for k in _CARRY if k in p})
    base.update(site_id=sid, geometry=p["geometry"], area_ha=area, last_week=week,
                confidence=int(_get(p, "confidence", 0) or 0), n_confirm=int(_get(p, "n_confirm", 0) or 0),
                kinds=int(_get(p, "kinds", 0) or 0), footprint_d_ndvi=p.get("d_ndvi"),
                obs_dates=_merge_dates(base.get("obs_dates", ""), _get(p, "obs_dates", "") or det,
                                       cfg.lifecycle.max_obs_dates))
    return base, active


def _undetected_record(prev: Mapping[str, Any], week: str, cfg: SitesConfig, fstats: pd.DataFrame | None,
                       recovery: Mapping[str, bool] | None, span_weeks: int = 1) -> dict[str, Any]:
    rec = dict(prev)
    sid = rec["site_id"]
    if fstats is not None and sid in fstats.index:
        rec["footprint_d_ndvi"] = float(fstats.at[sid, "d_ndvi"])
    credit = _clear_credit(sid, fstats, cfg, span_weeks)
    recovering = _recovering(sid, fstats, cfg, recovery, credit)
    rec["quiet_clear_weeks"], inactive = _inactivity(prev, False, week, cfg, credit)
    rec["status"] = next_status(rec["status"], active=False, grown=False, recurrence=False,
                                recovering=recovering, inactive=inactive)
    rec["growth"] = 0.0
    return rec


def refresh(sites: pd.DataFrame, verifications: pd.DataFrame, cfg: SitesConfig) -> pd.DataFrame:
    """Re-derive verification fields and priority of ``sites`` (returns a new frame).

    ``verifications`` has columns ``site_id, date, outcome, site_area_ha`` (all
    rows; the latest per site by ``date`` then insertion order is used).
    """
    df = sites.copy()
    if len(verifications):
        latest = verifications.reset_index(drop=True).reset_index().sort_values(["date", "index"])
        latest = latest.groupby("site_id").last()
        lat = latest.reindex(df["site_id"].values)
        has = lat["outcome"].notna().to_numpy()
        df["verification"] = np.where(has, lat["outcome"].fillna("").values, "")
        df["verification_date"] = np.where(has, lat["date"].fillna("").values, "")
        df["verified_area_ha"] = np.where(has, lat["site_area_ha"].values, np.nan)
        legal = (df["verification"] == "legal").to_numpy()
        df.loc[legal, "legality"] = "dalam_izin"
        df.loc[legal, "legality_detail"] = "verifikasi lapangan " + df.loc[legal, "verification_date"].astype(str)
        acted = ((df["verification"] == "acted_on") & (df["verification_date"] >= df["last_seen"].fillna(""))
                 ).to_numpy()
        df.loc[acted, "recurrence"] = 0
    for c, v in (("verification", ""), ("verification_date", ""), ("recurrence", 0)):
        df[c] = df[c].fillna(v) if c in df else v
    area = pd.to_numeric(df["area_ha"], errors="coerce").to_numpy(dtype=float)
    vfy = pd.to_numeric(df.get("verified_area_ha"), errors="coerce").to_numpy(dtype=float)
    fp = (df["verification"] == "false_positive").to_numpy()
    with np.errstate(invalid="ignore"):
        df["suppressed"] = (fp & ~(area > vfy * cfg.verification.suppress_growth_factor)).astype(int)
    live = df["merged_into"].isna().to_numpy() | (df["merged_into"] == "").to_numpy()
    prio = priority_scores(df, cfg.priority)
    df["priority"] = np.where(live, prio, 0.0)
    ranks = np.zeros(len(df), dtype="int64")
    if live.any():
        ranks[live] = priority_ranks(prio[live], df["site_id"].to_numpy()[live])
    df["priority_rank"] = ranks
    return df


def step(state: pd.DataFrame, polygons: pd.DataFrame, week: str, next_id: int, cfg: SitesConfig, *,
         verifications: pd.DataFrame | None = None, footprint_stats: pd.DataFrame | None = None,
         recovery: Mapping[str, bool] | None = None, span_weeks: int = 1) -> WeekResult:
    """Advance the site table by one run (matching, ids, lifecycle, verification, priority).

    Parameters
    ----------
    state
        Current site table (all rows, retired ones included), with ``geometry``.
    polygons
        This week's attributed polygons (``area_ha``, ``geometry`` EPSG:32748, and
        the optional columns of :func:`.attributes.attribute_sites`).
    week
        ISO week ``YYYY-Www``.
    next_id
        Next free site number (ids are never reused).
    verifications
        All verification rows (``site_id, date, outcome, site_area_ha``).
    footprint_stats, recovery
        Rehabilitation signal per site id and, with ``clear_frac`` (and
        ``clear_looks``) columns in ``footprint_stats``, whether and how often
        each footprint was seen clear in the run (the inactivity count, see
        :mod:`.lifecycle`).
    span_weeks
        Weeks the run folded, ending with ``week`` (a catch-up span; 1 for a
        weekly run): the run's window (:func:`.lifecycle.run_window`) decides
        which evidence is fresh, and the span caps the clear-week credit.

    Notes
    -----
    ``observations.detected`` is 1 for a site observed *active* in the run
    (fresh activity, or a new site), 0 for one that a polygon merely still
    covers, or whose status changed without activity.
    """
    verifs = verifications if verifications is not None else pd.DataFrame(
        columns=["site_id", "date", "outcome", "site_area_ha"])
    window_start = run_window(week, span_weeks)[0].isoformat()
    retired = state["merged_into"].notna() & (state["merged_into"] != "")
    live = state[~retired]
    prev_by_id = {r["site_id"]: r for r in live.to_dict("records")}
    latest = {}
    if len(verifs):
        for r in verifs.reset_index(drop=True).reset_index().sort_values(["date", "index"]).to_dict("records"):
            latest[r["site_id"]] = r
    m = match_sites(list(live["site_id"]), live["geometry"].to_numpy(), list(live["first_seen"].fillna("")),
                    polygons.geometry.to_numpy() if len(polygons) else np.zeros(0, dtype=object),
                    cfg.matching.min_overlap)
    ids: list[str] = []
    for sid in m.site_ids:
        if sid is None:
            sid, next_id = format_site_id(next_id), next_id + 1
        ids.append(sid)
    records: dict[str, dict[str, Any]] = {}
    events: dict[str, str] = {}
    active: dict[str, bool] = {}
    merged_into = {old: ids[i] for old, i in m.merged.items()}
    for i, p in enumerate(polygons.to_dict("records")):
        sid, parent = ids[i], m.parent_ids[i]
        prev = prev_by_id.get(parent if parent is not None else sid)
        records[sid], active[sid] = _detected_record(prev, p, sid, parent, week, cfg, latest.get(sid),
                                                     footprint_stats, window_start=window_start,
                                                     span_weeks=span_weeks, recovery=recovery)
        events[sid] = "split" if parent else ("new" if prev is None else "continue")
    for old, new in sorted(merged_into.items()):
        rec = records[new]
        rec["merged_ids"] = ",".join(sorted({*filter(None, str(rec.get("merged_ids") or "").split(",")), old}))
        events[new] = "merge"
    for sid, prev in prev_by_id.items():
        if sid in records:
            continue
        if sid in merged_into:
            records[sid] = {**prev, "merged_into": merged_into[sid], "growth": 0.0}
            events[sid] = "merged_into"
        else:
            records[sid] = _undetected_record(prev, week, cfg, footprint_stats, recovery, span_weeks)
            if records[sid]["status"] != prev["status"]:
                events[sid] = "status"
    out = pd.concat([state[retired], pd.DataFrame(list(records.values()))], ignore_index=True)
    out = out.reindex(columns=[*_COLS, "geometry"])
    out = out.assign(_n=out["site_id"].map(site_number)).sort_values("_n").drop(columns="_n")
    out = refresh(out.reset_index(drop=True), verifs, cfg)
    obs = out[out["site_id"].isin(list(events))].copy()
    obs["event"] = obs["site_id"].map(events)
    matched = obs["event"].isin(["new", "continue", "split", "merge"]).to_numpy()
    obs["detected"] = obs["site_id"].map(lambda s: int(active.get(s, False))).astype(int)
    obs["week"] = week
    obs["last_detected"] = [records[s].get("last_seen") if m else None for s, m in zip(
        obs["site_id"], matched, strict=True)]
    counts = {"n_polygons": len(polygons), "n_new": sum(e == "new" for e in events.values()),
              "n_merged": len(merged_into), "n_split": sum(e == "split" for e in events.values()),
              "n_sites": int((~(out["merged_into"].notna() & (out["merged_into"] != ""))).sum())}
    return WeekResult(sites=out, observations=obs.reset_index(drop=True), next_id=next_id, counts=counts)
