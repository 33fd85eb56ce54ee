"""Weekly summary numbers and trend charts (matplotlib PNG as data URIs).

``history`` is a tidy table of site snapshots, one row per (week, site):
``week`` (``YYYY-Www``), ``site_id``, ``status``, ``area_ha``, ``kecamatan``.
The pipeline builds it from the registry's ``site_observations``; the current
week is appended from the published sites.
"""

from __future__ import annotations

import base64
import io

import pandas as pd
from matplotlib.figure import Figure

from .. import aoi
from .i18n import status_label, t
from .schema import STATUSES

__all__ = [
    "ACTIVE_STATUSES",
    "HISTORY_COLUMNS",
    "merge_history",
    "status_summary",
    "trend_chart_uri",
    "weekly_trend",
]

HISTORY_COLUMNS = ("week", "site_id", "status", "area_ha", "kecamatan")
#: Statuses whose area counts as active PETI.
ACTIVE_STATUSES = ("baru", "aktif", "meluas", "aktif_kembali")


def merge_history(history: pd.DataFrame | None, sites: pd.DataFrame, week: str) -> pd.DataFrame:
    """History with this week's sites replacing any rows of ``week``; adds ``kecamatan_slug``."""
    cur = pd.DataFrame({"week": week, "site_id": sites["site_id"], "status": sites["status"],
                        "area_ha": sites["area_ha"].astype(float), "kecamatan": sites["kecamatan"]})
    parts = [cur]
    if history is not None and len(history):
        missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
        if missing:
            from ..errors import ExportError

            raise ExportError(f"history lacks column(s) {missing}; expected {list(HISTORY_COLUMNS)}")
        parts.insert(0, history.loc[history["week"] < week, list(HISTORY_COLUMNS)])
    h = pd.concat(parts, ignore_index=True)
    h["kecamatan_slug"] = h["kecamatan"].astype(str).map(aoi.slugify)
    return h.sort_values(["week", "site_id"], kind="mergesort").reset_index(drop=True)


def status_summary(hist: pd.DataFrame, week: str, lang: str = "id") -> list[dict[str, object]]:
    """Rows ``{status, label, count, area_ha, d_count, d_area_ha}`` plus a total row.

    Changes are against the latest earlier week in ``hist``; ``None`` when there is none.
    """
    cur = hist[hist["week"] == week]
    prev_weeks = sorted(w for w in hist["week"].unique() if w < week)
    prev = hist[hist["week"] == prev_weeks[-1]] if prev_weeks else None
    rows = []
    for st in (*STATUSES, None):
        c = cur if st is None else cur[cur["status"] == st]
        row: dict[str, object] = {"status": st or "total", "label": t("summary.total", lang) if st is None
                                  else status_label(st, lang), "count": len(c),
                                  "area_ha": round(float(c["area_ha"].sum()), 2), "d_count": None,
                                  "d_area_ha": None, "watch": st is None or st in ACTIVE_STATUSES}
        if prev is not None:
            p = prev if st is None else prev[prev["status"] == st]
            row["d_count"] = len(c) - len(p)
            row["d_area_ha"] = round(float(c["area_ha"].sum() - p["area_ha"].sum()), 2)
        rows.append(row)
    return rows


def weekly_trend(hist: pd.DataFrame) -> pd.DataFrame:
    """Per week: ``active_ha`` (area of active statuses) and ``new_sites`` (status ``baru``)."""
    if len(hist) == 0:
        return pd.DataFrame(columns=["active_ha", "new_sites"])
    act = hist[hist["status"].isin(ACTIVE_STATUSES)].groupby("week")["area_ha"].sum()
    new = hist[hist["status"] == "baru"].groupby("week")["site_id"].count()
    weeks = sorted(hist["week"].unique())
    return pd.DataFrame({"active_ha": act.reindex(weeks, fill_value=0.0),
                         "new_sites": new.reindex(weeks, fill_value=0)}).rename_axis("week")


def trend_chart_uri(series: pd.Series, title: str, kind: str = "line", colour: str = "#b10026") -> str:
    """A small PNG chart (600 x 220 px) of a weekly series as a ``data:`` URI (deterministic)."""
    fig = Figure(figsize=(6.0, 2.2), dpi=100)
    ax = fig.add_subplot()
    x = list(range(len(series)))
    if kind == "bar":
        ax.bar(x, series.to_numpy(), color=colour, width=0.7)
    else:
        ax.plot(x, series.to_numpy(), color=colour, marker="o", lw=2, ms=4)
        ax.fill_between(x, series.to_numpy(dtype=float), color=colour, alpha=0.12)
    labels = [str(w)[5:] for w in series.index]
    step = max(1, len(labels) // 10)
    ax.set_xticks(x[::step], labels[::step], fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
