"""Printable field sheets (HTML and PDF) for verification teams.

One sheet lists the selected sites in priority order.  It opens with an
overview map of the sites; each site then gets a thumbnail (its latest
true-colour chip, or a small vector map when there is no chip), its
coordinates in decimal degrees and DMS, directions from the nearest road
(distance and bearing from the nearest point of the road layer) and
verification tick boxes with room for notes.  The PDF is made with
reportlab in invariant mode (no dates or random ids), so it is byte-identical
on rerun; the HTML is a self-contained page (images as data URIs).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib.figure import Figure
from pyproj import Geod

from .. import aoi
from ._io import atomic_write_bytes, atomic_write_text
from .i18n import compass, status_label, strings, t
from .mapview import STATUS_COLOURS

__all__ = ["CHECKS", "overview_png", "road_directions", "site_thumbnail", "write_field_sheet", "write_field_sheets"]

CHECKS = ("sheet.check.visited", "sheet.check.active", "sheet.check.inactive", "sheet.check.none",
          "sheet.check.photo")
_GEOD = Geod(ellps="WGS84")


def road_directions(sites: gpd.GeoDataFrame, roads: gpd.GeoDataFrame | None) -> list[dict[str, Any] | None]:
    """For each site, the nearest road point and the distance/bearing from it to the site.

    Returns one dict per site (``dist_m``, ``bearing`` in degrees true from
    the road point to the site centre, ``road_lat``, ``road_lon``, ``road``)
    or ``None`` when no road layer is given.
    """
    if roads is None or len(roads) == 0:
        return [None] * len(sites)
    lines = roads.to_crs(32748)
    tree = shapely.STRtree(lines.geometry.values)
    names = lines["name"] if "name" in lines.columns else lines.get("road_id", pd.Series([""] * len(lines)))
    pts = gpd.GeoSeries(gpd.points_from_xy(sites["lon"], sites["lat"]), crs=4326).to_crs(32748)
    out: list[dict[str, Any] | None] = []
    for pt, lat, lon in zip(pts, sites["lat"], sites["lon"], strict=True):
        i = int(tree.nearest(pt))
        line = lines.geometry.iloc[i]
        rp = line.interpolate(line.project(pt))
        rll = gpd.GeoSeries([rp], crs=32748).to_crs(4326).iloc[0]
        az, _, dist = _GEOD.inv(rll.x, rll.y, float(lon), float(lat))
        out.append({"dist_m": float(dist), "bearing": float(az) % 360, "road_lat": round(rll.y, 6),
                    "road_lon": round(rll.x, 6), "road": str(names.iloc[i])})
    return out


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def overview_png(sites: gpd.GeoDataFrame, roads: gpd.GeoDataFrame | None) -> bytes:
    """A 7 x 5 inch overview map: kecamatan outlines, roads, numbered sites (PNG)."""
    fig = Figure(figsize=(7, 4.6), dpi=110)
    ax = fig.add_subplot()
    kec = aoi.load_kecamatan()
    codes = set(sites["kode_kemendagri_kec"]) if len(sites) else set()
    sel = kec[kec["kode_kemendagri"].isin(codes)] if codes else kec
    sel.boundary.plot(ax=ax, color="#444", lw=1)
    if roads is not None and len(roads):
        roads.to_crs(4326).plot(ax=ax, color="#b07a2a", lw=1)
    for i, r in enumerate(sites.itertuples(index=False), start=1):
        ax.plot(r.lon, r.lat, "o", ms=7, mec="#111", mfc=STATUS_COLOURS.get(r.status, "#000"))
        ax.annotate(str(i), (r.lon, r.lat), xytext=(4, 4), textcoords="offset points", fontsize=7)
    w, s, e, n = sel.total_bounds
    ax.set_xlim(w - 0.01, e + 0.01)
    ax.set_ylim(s - 0.01, n + 0.01)
    ax.set_aspect(1 / np.cos(np.deg2rad((s + n) / 2)))
    ax.tick_params(labelsize=7)
    ax.set_xlabel("")
    ax.set_ylabel("")
    fig.tight_layout()
    return _png(fig)


def site_thumbnail(site: Any, chip_png: bytes | None, roads: gpd.GeoDataFrame | None) -> bytes:
    """The site's after chip if given, else a 1.2-inch vector map of the site and nearby roads."""
    if chip_png:
        return chip_png
    fig = Figure(figsize=(1.2, 1.2), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    g = gpd.GeoSeries([site.geometry], crs=4326).to_crs(32748)
    c = g.iloc[0].centroid
    if roads is not None and len(roads):
        roads.to_crs(32748).plot(ax=ax, color="#b07a2a", lw=1.5)
    g.plot(ax=ax, color=STATUS_COLOURS.get(site.status, "#000"), alpha=0.6, edgecolor="#111")
    ax.set_xlim(c.x - 700, c.x + 700)
    ax.set_ylim(c.y - 700, c.y + 700)
    ax.set_axis_off()
    ax.annotate("N", (0.9, 0.85), xycoords="axes fraction", ha="center", fontsize=7)
    ax.annotate("", (0.9, 0.98), (0.9, 0.86), xycoords="axes fraction", arrowprops={"arrowstyle": "->"})
    return _png(fig)


def _dist(m: float) -> str:
    return f"{m / 1000:.1f} km" if m >= 1000 else f"{m:.0f} m"


def _records(sites: gpd.GeoDataFrame, roads: gpd.GeoDataFrame | None, chips: pd.DataFrame | None,
             chips_root: Path | None, lang: str, cache: dict[str, bytes]) -> list[dict[str, Any]]:
    dirs = road_directions(sites, roads)
    g4326 = sites.to_crs(4326)
    recs = []
    for i, (r, d) in enumerate(zip(g4326.itertuples(index=False), dirs, strict=True), start=1):
        chip = None
        if chips is not None and chips_root is not None and r.site_id in chips.index and chips.loc[r.site_id, "after_tc"]:
            chip = (Path(chips_root) / chips.loc[r.site_id, "after_tc"]).read_bytes()
        direction = t("sheet.no_roads", lang) if d is None else t(
            "sheet.directions_text", lang, dist=_dist(d["dist_m"]), compass=compass(d["bearing"], lang),
            bearing=f"{d['bearing']:.0f}", lat=f"{d['road_lat']:.6f}", lon=f"{d['road_lon']:.6f}")
        recs.append({
            "n": i, "site_id": str(r.site_id), "status": status_label(r.status, lang),
            "colour": STATUS_COLOURS.get(r.status, "#000"), "area": f"{float(r.area_ha):.2f} ha",
            "place": f"{r.desa}, {r.kecamatan}", "dates": f"{str(r.first_seen)[:10]} – {str(r.last_seen)[:10]}",
            "decimal": f"{float(r.lat):.6f}, {float(r.lon):.6f}", "dms": f"{r.lat_dms} {r.lon_dms}",
            "directions": direction, "confidence": t(f"confidence.{int(r.confidence)}", lang),
            "thumb": cache[r.site_id] if r.site_id in cache else cache.setdefault(
                r.site_id, site_thumbnail(r, chip, roads)),
        })
    return recs


_HTML = """<!DOCTYPE html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ s['sheet.title'] }}</title>
<style>
 body { font: 13px/1.4 Arial, sans-serif; margin: 16px; color: #111; }
 h1 { font-size: 18px; margin: 0 0 4px; } .meta { color: #555; margin-bottom: 8px; }
 .site { border: 1px solid #999; padding: 8px; margin: 10px 0; display: grid; grid-template-columns: 110px 1fr 220px; gap: 10px; break-inside: avoid; }
 .site img { width: 104px; height: 104px; border: 1px solid #666; }
 .dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; border: 1px solid #111; }
 .box { display: inline-block; width: 13px; height: 13px; border: 1.5px solid #111; margin-right: 6px; vertical-align: -2px; }
 .notes { border-bottom: 1px solid #777; height: 22px; }
 img.overview { max-width: 100%; border: 1px solid #999; }
 @media print { body { margin: 0; } }
</style></head><body>
<h1>{{ s['sheet.title'] }}</h1>
<div class="meta">{{ subtitle }} · {{ count }}</div>
<img class="overview" src="{{ overview }}" alt="overview">
{% for r in recs %}
<div class="site">
  <div><img src="{{ r.thumb }}" alt="{{ r.site_id }}"></div>
  <div><b>{{ r.n }}. {{ r.site_id }}</b> <span class="dot" style="background:{{ r.colour }}"></span> {{ r.status }} · {{ r.area }} · {{ r.confidence }}<br>
    {{ r.place }}<br>{{ r.dates }}<br>
    {{ s['sheet.decimal'] }}: <b>{{ r.decimal }}</b><br>DMS: {{ r.dms }}<br>
    {{ s['sheet.directions'] }}: {{ r.directions }}</div>
  <div>{% for c in checks %}<div><span class="box"></span>{{ c }}</div>{% endfor %}
    <div>{{ s['sheet.notes'] }}:</div><div class="notes"></div><div class="notes"></div>
    <div>{{ s['sheet.officer'] }}:</div><div class="notes"></div></div>
</div>
{% endfor %}
</body></html>
"""


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _html(recs: list[dict[str, Any]], overview: bytes, subtitle: str, lang: str) -> str:
    from jinja2 import Environment

    env = Environment(autoescape=True)
    return env.from_string(_HTML).render(
        lang=lang, s=strings(lang), subtitle=subtitle, count=t("sheet.sites", lang, n=len(recs)),
        overview=_uri(overview), checks=[t(c, lang) for c in CHECKS],
        recs=[{**r, "thumb": _uri(r["thumb"])} for r in recs])


def _pdf(recs: list[dict[str, Any]], overview: bytes, subtitle: str, lang: str) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Flowable, Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table

    class Box(Flowable):  # an empty tick box
        def __init__(self, size: float = 3.6 * mm) -> None:
            super().__init__()
            self.width = self.height = size

        def draw(self) -> None:
            self.canv.setLineWidth(1)
            self.canv.rect(0, 0, self.width, self.height)

    ss = getSampleStyleSheet()
    body, small = ss["BodyText"], ss["BodyText"].clone("small", fontSize=8, leading=10)
    esc = html.escape
    story: list[Any] = [Paragraph(esc(t("sheet.title", lang)), ss["Title"]),
                        Paragraph(esc(f"{subtitle} · {t('sheet.sites', lang, n=len(recs))}"), body),
                        Image(io.BytesIO(overview), width=170 * mm, height=170 * mm * 4.6 / 7), Spacer(1, 4 * mm)]
    for r in recs:
        text = Paragraph(
            f"<b>{r['n']}. {esc(r['site_id'])}</b> · {esc(r['status'])} · {esc(r['area'])} · {esc(r['confidence'])}"
            f"<br/>{esc(r['place'])}<br/>{esc(r['dates'])}<br/>{esc(t('sheet.decimal', lang))}: "
            f"<b>{esc(r['decimal'])}</b><br/>DMS: {esc(r['dms'])}<br/>"
            f"{esc(t('sheet.directions', lang))}: {esc(r['directions'])}", small)
        checks = Table([[Box(), Paragraph(esc(t(c, lang)), small)] for c in CHECKS]
                       + [["", Paragraph(esc(t("sheet.notes", lang)) + ": ______________", small)],
                          ["", Paragraph(esc(t("sheet.officer", lang)) + ": ___________", small)]],
                       colWidths=[6 * mm, 48 * mm])
        row = Table([[Image(io.BytesIO(r["thumb"]), width=28 * mm, height=28 * mm), text, checks]],
                    colWidths=[31 * mm, 85 * mm, 56 * mm])
        row.setStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOX", (0, 0), (-1, -1), 0.8, colors.grey)])
        story.append(KeepTogether([row, Spacer(1, 3 * mm)]))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=14 * mm, rightMargin=14 * mm, topMargin=12 * mm,
                            bottomMargin=12 * mm, title=t("sheet.title", lang), author="sarolangun-geo",
                            invariant=True)
    doc.build(story)
    return buf.getvalue()


def write_field_sheets(sites: gpd.GeoDataFrame, paths: dict[str, Path], *,
                       roads: gpd.GeoDataFrame | None = None, chips: pd.DataFrame | None = None,
                       chips_root: str | Path | None = None, lang: str = "id", subtitle: str = "",
                       thumb_cache: dict[str, bytes] | None = None) -> dict[str, Path]:
    """Write the field sheet of prepared ``sites`` (already filtered and ordered) in several formats.

    ``paths`` maps ``"html"``/``"pdf"`` to output paths; the maps are drawn
    once for all formats (and per site once per ``thumb_cache``).
    """
    cache = {} if thumb_cache is None else thumb_cache
    recs = _records(sites, roads, chips, Path(chips_root) if chips_root else None, lang, cache)
    overview = overview_png(sites.to_crs(4326) if len(sites) else sites, roads)
    week = str(sites["week"].iloc[0]) if len(sites) and "week" in sites else ""
    subtitle = subtitle or " · ".join(x for x in (t("place.regency", lang), week) if x)
    out = {}
    for fmt, path in paths.items():
        if fmt == "html":
            out[fmt] = atomic_write_text(path, _html(recs, overview, subtitle, lang))
        else:
            out[fmt] = atomic_write_bytes(path, _pdf(recs, overview, subtitle, lang))
    return out


def write_field_sheet(sites: gpd.GeoDataFrame, path: str | Path, *, fmt: str = "pdf",
                      roads: gpd.GeoDataFrame | None = None, chips: pd.DataFrame | None = None,
                      chips_root: str | Path | None = None, lang: str = "id", subtitle: str = "") -> Path:
    """Write the field sheet of prepared ``sites`` as ``html`` or ``pdf`` (see :func:`write_field_sheets`)."""
    return write_field_sheets(sites, {fmt: Path(path)}, roads=roads, chips=chips, chips_root=chips_root,
                              lang=lang, subtitle=subtitle)[fmt]
