"""Weekly HTML reports: one for the regency and one per kecamatan.

Each page holds a summary of counts and hectares by status with the change
from last week, the offline folium map (:mod:`.mapview`), trend charts
(:mod:`.charts`), the site table by priority and links to the exports.  The
page is rendered by Jinja with autoescape on, so every name and note from
the data is HTML-escaped; only Leaflet's own code and the map script (whose
data goes through :func:`.mapview.script_json`) are inserted raw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from .. import aoi
from ._io import atomic_write_text
from .charts import merge_history, status_summary, trend_chart_uri, weekly_trend
from .i18n import legality_label, status_label, strings, t
from .mapview import STATUS_COLOURS, build_map, leaflet_assets, render_map
from .schema import label
from .stac import week_interval

__all__ = ["REGENCY", "ReportSettings", "render_report", "write_reports"]

REGENCY = "regency"
_TABLE = (("priority_rank", True), ("site_id", False), ("status", False), ("kecamatan", False),
          ("desa", False), ("area_ha", True), ("confidence", True), ("first_seen", False),
          ("last_seen", False), ("lat", True), ("lon", True), ("legality", False), ("verification", False))


@dataclass(frozen=True)
class ReportSettings:
    """Report options: ``lang`` (``id``/``en``), online ``basemap`` tiles (optional,
    the page works without them), and ``max_table_rows`` of the site table."""

    lang: str = "id"
    basemap: bool = True
    max_table_rows: int = 200
    extra: Mapping[str, Any] = field(default_factory=dict)


def _env() -> Environment:
    return Environment(loader=PackageLoader("sarolangun_geo.publish", "templates"),
                       autoescape=select_autoescape(["html", "j2"], default=True), keep_trailing_newline=True)


def _bounds(gdf: gpd.GeoDataFrame) -> list[list[float]]:
    w, s, e, n = gdf.to_crs(4326).total_bounds
    return [[round(float(s), 6), round(float(w), 6)], [round(float(n), 6), round(float(e), 6)]]


def _columns(scope: str) -> tuple[tuple[str, bool], ...]:
    """Site-table columns; a kecamatan page leaves out the kecamatan column."""
    return tuple(c for c in _TABLE if not (scope != REGENCY and c[0] == "kecamatan"))


def _rows(sites: gpd.GeoDataFrame, chips: pd.DataFrame | None, lang: str, limit: int,
          columns: tuple[tuple[str, bool], ...]) -> list[dict[str, Any]]:
    rows = []
    for r in sites.head(limit).itertuples(index=False):
        cells = []
        for name, num in columns:
            v = getattr(r, name)
            if name == "status":
                v = status_label(v, lang)
            elif name == "area_ha":
                v = f"{float(v):.2f}"
            elif name in ("lat", "lon"):
                v = f"{float(v):.6f}"
            elif name in ("first_seen", "last_seen"):
                v = str(v)[:10]
            elif name == "legality":
                v = legality_label(v, lang)
            cells.append({"v": "" if v is None else str(v), "num": num,
                          "nw": name in ("site_id", "first_seen", "last_seen", "status"),
                          "link": name == "site_id"})
            if name == "site_id":  # the latest chip next to the ID
                img = {"v": "", "num": False, "img": "", "alt": ""}
                if chips is not None and r.site_id in chips.index and chips.loc[r.site_id, "after_tc"]:
                    img["img"] = "../" + chips.loc[r.site_id, "after_tc"]
                    img["alt"] = f"{r.site_id} {chips.loc[r.site_id, 'after_date']}"
                cells.append(img)
        rows.append({"cells": cells})
    return rows


def render_report(*, week: str, scope: str, sites: gpd.GeoDataFrame, roads: gpd.GeoDataFrame | None,
                  history: pd.DataFrame | None, chips: pd.DataFrame | None, image: dict[str, Any] | None,
                  exports: Sequence[tuple[str, str]], provenance: Mapping[str, Any],
                  settings: ReportSettings = ReportSettings()) -> str:
    """HTML of one report page.

    Parameters
    ----------
    scope
        ``"regency"`` or a kecamatan slug; ``sites``/``roads`` are the
        prepared frames of :mod:`.layers` already restricted to it.
    history
        Earlier site snapshots (see :mod:`.charts`) or None; restricted to
        the scope and merged with ``sites`` here.
    image
        ``{"href", "bounds"}`` of the true-colour overlay PNG, relative to the page.
    exports
        ``(label, relative href)`` pairs.
    """
    lang = settings.lang
    kec_all = aoi.load_kecamatan()
    desa_all = aoi.load_desa()
    if scope == REGENCY:
        title, kec, desa = t("title.regency", lang), kec_all, desa_all
    else:
        row = kec_all[kec_all["slug"] == scope].iloc[0]
        title = t("title.kecamatan", lang, name=row["nama"])
        kec = kec_all[kec_all["slug"] == scope]
        desa = desa_all[desa_all["kode_kec"] == row["kode_kemendagri"]]
    history = merge_history(history, sites, week)
    if scope != REGENCY:
        history = history[history["kecamatan_slug"] == scope]
    labels = {n: label("peti_sites", n, lang) for n in ("area_ha", "confidence", "desa")}
    m = build_map(sites=sites, roads=roads, kecamatan=kec, desa=desa, bounds=_bounds(kec), image=image,
                  chips=chips, chip_prefix="../", labels=labels, lang=lang, basemap=settings.basemap)
    parts = render_map(m)
    trend = weekly_trend(history)
    charts = []
    if len(trend) > 1:
        charts = [{"uri": trend_chart_uri(trend["active_ha"], t("trend.area", lang)), "alt": t("trend.area", lang)},
                  {"uri": trend_chart_uri(trend["new_sites"], t("trend.new", lang), kind="bar", colour="#e31a1c"),
                   "alt": t("trend.new", lang)}]
    roads_line = ""
    if roads is not None and len(roads):
        dmg = roads[roads["damaged"].astype(bool)]
        roads_line = t("summary.roads", lang, n=len(dmg), total=len(roads),
                       km=f"{dmg['length_m'].sum() / 1000:.1f}")
    start, end = week_interval(week)
    n_more = max(0, len(sites) - settings.max_table_rows)
    js, css = leaflet_assets()
    ctx = {
        "lang": lang, "s": strings(lang), "title": title, "week": week, "scope": scope,
        "week_label": t("week", lang, week=week, start=start.date().isoformat(), end=end.date().isoformat()),
        "kecamatan_links": [{"slug": r.slug, "name": r.nama, "href": f"{r.slug}.html"} for r in kec_all.itertuples()],
        "summary": status_summary(history, week, lang), "colours": STATUS_COLOURS, "roads_line": roads_line,
        "map_html": parts.html, "map_script": parts.script, "charts": charts,
        "table_head": [h for n, num in _columns(scope) for h in
                       ([{"label": label("peti_sites", n, lang), "num": num}]
                        + ([{"label": t("popup.after", lang), "num": False}] if n == "site_id" else []))],
        "rows": _rows(sites, chips, lang, settings.max_table_rows, _columns(scope)),
        "more": t("table.more", lang, n=n_more) if n_more else "",
        "exports": [{"label": lbl, "href": href} for lbl, href in exports],
        "footer": t("generated_from", lang, config=provenance.get("config_hash", "-")),
        "leaflet_js": js, "leaflet_css": css,
    }
    return _env().get_template("report.html.j2").render(**ctx)


def write_reports(week_dir: str | Path, week: str, *, sites: gpd.GeoDataFrame, roads: gpd.GeoDataFrame | None,
                  history: pd.DataFrame | None, chips: pd.DataFrame | None,
                  images: Mapping[str, dict[str, Any] | None], exports: Mapping[str, Sequence[tuple[str, str]]],
                  provenance: Mapping[str, Any], settings: ReportSettings = ReportSettings()) -> dict[str, Path]:
    """Write ``reports/index.html`` and ``reports/<slug>.html`` for the 11 kecamatan.

    ``images`` and ``exports`` are keyed by scope (``"regency"`` or slug).
    Returns ``{scope: path}``.
    """
    out_dir = Path(week_dir) / "reports"
    out: dict[str, Path] = {}
    scopes = [REGENCY, *aoi.load_kecamatan()["slug"]]
    for scope in scopes:
        if scope == REGENCY:
            s, r = sites, roads
        else:
            s = sites[sites["kecamatan_slug"] == scope]
            r = None if roads is None else roads[roads["kecamatan_slug"] == scope]
        html = render_report(week=week, scope=scope, sites=s, roads=r, history=history, chips=chips,
                             image=images.get(scope), exports=exports.get(scope, ()), provenance=provenance,
                             settings=settings)
        out[scope] = atomic_write_text(out_dir / ("index.html" if scope == REGENCY else f"{scope}.html"), html)
    return out
