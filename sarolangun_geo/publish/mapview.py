"""The report's interactive map: folium for the frame, one offline JS layer for the data.

folium builds the ``L.map`` (canvas renderer, optional online basemap) and a
single :class:`DataLayers` element draws everything else from one embedded
JSON payload: the true-colour image overlay, kecamatan and desa boundaries,
road segments coloured by score, sites as canvas circle markers coloured by
status (with polygons from zoom 14), popups, the legend and a layer switch.

Offline by construction: only folium's map ``<div>`` and ``<script>`` are
used (never its ``<head>``, which links jQuery/Bootstrap/Font-Awesome from
CDNs); Leaflet's JS and CSS are inlined from the ``xstatic-leaflet`` package.
Every string reaches the page either through :func:`script_json` (which
escapes ``<``, ``>``, ``&`` and U+2028/9 so ``</script>`` and ``<!--`` cannot
occur) or through the ``esc()`` JS helper before it becomes HTML.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import folium
import geopandas as gpd
import pandas as pd
from branca.element import Figure, MacroElement
from jinja2 import Template

from ..errors import ExportError
from .i18n import status_label, strings
from .layers import geometry_json
from .schema import STATUSES

__all__ = ["STATUS_COLOURS", "MapParts", "build_map", "leaflet_assets", "render_map", "script_json"]

STATUS_COLOURS = {"baru": "#e31a1c", "aktif": "#ff7f00", "meluas": "#b10026", "tidak_aktif": "#7f7f7f",
                  "rehabilitasi": "#33a02c", "aktif_kembali": "#6a3d9a"}
ROAD_RAMP = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
_JS_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


@dataclass(frozen=True)
class MapParts:
    """The pieces of a rendered map to place in a page: ``html`` (the div) and ``script``."""

    html: str
    script: str


def script_json(obj: Any) -> str:
    """JSON safe to embed inside ``<script>``: no ``</``, ``<!--``, ``]]>`` or line separators."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JS_ESCAPES[m.group(0)], s)


@lru_cache(maxsize=1)
def leaflet_assets() -> tuple[str, str]:
    """(leaflet.js, leaflet.css) from xstatic-leaflet, CSS images inlined as data URIs."""
    import xstatic.pkg.leaflet as xl

    base = Path(xl.BASE_DIR)
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def _img(m: re.Match[str]) -> str:
        data = base64.b64encode((base / "images" / m.group(1)).read_bytes()).decode()
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"url\(images/([a-z0-9-]+\.png)\)", _img, css)
    return js.replace("</script", "<\\/script"), css


class DataLayers(MacroElement):
    """All data layers of the report map, drawn by one script from one JSON payload."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  var t0 = performance.now();
  var map = {{ this._parent.get_name() }};
  var D = {{ this.payload }};
  var T = D.t;
  var canvas = L.canvas({padding: 0.5, tolerance: 4});
  function esc(s) { return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]; }); }
  function rampColour(x) { var r = D.ramp; return r[Math.max(0, Math.min(r.length - 1, Math.floor(x * r.length)))]; }
  var overlays = {};
  if (D.basemap) { overlays[esc(T['layer.basemap'])] = {{ this.basemap.get_name() if this.basemap else 'null' }}; }
  if (D.image) {
    overlays[esc(T['layer.truecolour'])] = L.imageOverlay(D.image.href, D.image.bounds,
      {opacity: 0.95, alt: T['layer.truecolour']}).addTo(map);
  }
  var kec = L.geoJSON(D.kecamatan, {renderer: canvas, interactive: false,
    style: {color: '#ffffff', weight: 2.5, opacity: 0.9, fill: false}}).addTo(map);
  var desa = L.geoJSON(D.desa, {renderer: canvas, interactive: false,
    style: {color: '#ffffff', weight: 0.8, opacity: 0.7, dashArray: '3 3', fill: false}}).addTo(map);
  overlays[esc(T['layer.kecamatan'])] = kec; overlays[esc(T['layer.desa'])] = desa;
  var roads = L.geoJSON(D.roads, {renderer: canvas,
    style: function (f) { return {color: rampColour(f.properties.s), weight: f.properties.d ? 5 : 3, opacity: 0.95}; },
    onEachFeature: function (f, l) { l.bindPopup('<b>' + esc(T['popup.segment']) + ' ' + esc(f.properties.id) +
      '</b><br>' + esc(T['popup.score']) + ': ' + esc(f.properties.s.toFixed(2))); }}).addTo(map);
  overlays[esc(T['layer.roads'])] = roads;
  function chip(s, k, label) {
    if (!s.c[k]) { return ''; }
    return '<figure class="chip"><img src="' + esc(D.chipPrefix + s.c[k]) + '" width="96" height="96" alt="' +
      esc(label) + '"><figcaption>' + esc(label) + '</figcaption></figure>';
  }
  function popup(s) {
    var h = '<div class="site-popup"><b>' + esc(s.id) + '</b> &middot; ' + esc(D.status[s.st]) +
      '<br>' + esc(D.labels.area_ha) + ': ' + esc(s.a.toFixed(2)) +
      '<br>' + esc(T['popup.dates']) + ': ' + esc(s.f) + ' &ndash; ' + esc(s.l) +
      '<br>' + esc(D.labels.confidence) + ': ' + esc(s.cf) + ' (' + esc(T['confidence.' + s.cf]) + ')' +
      '<br>' + esc(D.labels.desa) + ': ' + esc(s.ds) +
      '<br>' + esc(T['popup.coords']) + ': ' + esc(s.y.toFixed(6)) + ', ' + esc(s.x.toFixed(6)) +
      '<div class="chips">' +
      chip(s, 'before_tc', T['popup.before'] + ' ' + s.bd + ' (' + T['popup.tc'] + ')') +
      chip(s, 'after_tc', T['popup.after'] + ' ' + s.ad + ' (' + T['popup.tc'] + ')') +
      chip(s, 'before_swir', T['popup.before'] + ' ' + s.bd + ' (' + T['popup.swir'] + ')') +
      chip(s, 'after_swir', T['popup.after'] + ' ' + s.ad + ' (' + T['popup.swir'] + ')') + '</div></div>';
    return h;
  }
  var sites = L.layerGroup(), byId = {};
  D.sites.forEach(function (s) {
    var m = L.circleMarker([s.y, s.x], {renderer: canvas, radius: s.r, baseRadius: s.r, color: '#111', weight: 1,
      fillColor: D.colours[s.st] || '#000', fillOpacity: 0.9});
    m.bindPopup(function () { return popup(s); }, {maxWidth: 240, minWidth: 200});
    sites.addLayer(m); byId[s.id] = m;
  });
  function openFromHash() {  // links like #site=SRL-PETI-000123 (from the site table) open that popup
    var m = /^#site=(.+)$/.exec(window.location.hash), mk = m && byId[decodeURIComponent(m[1])];
    if (!mk) { return; }
    var box = document.getElementById('map'); if (box && box.scrollIntoView) { box.scrollIntoView(); }
    map.setView(mk.getLatLng(), Math.max(map.getZoom(), 14), {animate: false});
    mk.openPopup();
  }
  window.addEventListener('hashchange', openFromHash);
  sites.addTo(map);
  function zoomRadius() {
    var k = map.getZoom() >= 12 ? 1 : (map.getZoom() >= 10 ? 0.7 : 0.45);
    sites.eachLayer(function (m) { m.setRadius(Math.max(2.5, m.options.baseRadius * k)); });
  }
  var polys = L.geoJSON(D.polygons, {renderer: canvas, interactive: false,
    style: function (f) { return {color: D.colours[f.properties.st] || '#000', weight: 2, fillOpacity: 0.15}; }});
  function zoomPolys() { if (map.getZoom() >= 14) { polys.addTo(map); } else { polys.remove(); } }
  map.on('zoomend', function () { zoomPolys(); zoomRadius(); });
  overlays[esc(T['layer.sites'])] = sites;
  L.control.layers(null, overlays, {collapsed: true}).addTo(map);
  L.control.scale({imperial: false}).addTo(map);
  var legend = L.control({position: 'bottomright'});
  legend.onAdd = function () {
    var div = L.DomUtil.create('div', 'map-legend');
    var h = '<b>' + esc(T['legend']) + '</b><br><i>' + esc(T['legend.sites']) + '</i>';
    D.order.forEach(function (st) { h += '<br><span class="sw dot" style="background:' + D.colours[st] +
      '"></span>' + esc(D.status[st]) + ' (' + (D.counts[st] || 0) + ')'; });
    h += '<br><i>' + esc(T['legend.roads']) + '</i><br>' + esc(T['legend.road_low']) + ' ';
    D.ramp.forEach(function (c) { h += '<span class="sw bar" style="background:' + c + '"></span>'; });
    h += ' ' + esc(T['legend.road_high']);
    h += '<br><span class="sw line"></span>' + esc(T['legend.boundaries']);
    div.innerHTML = h; return div;
  };
  legend.addTo(map);
  if (D.bounds) { map.fitBounds(D.bounds); }
  zoomPolys(); zoomRadius(); openFromHash();
  var stats = document.getElementById('map-stats');
  var n = D.sites.length + D.roads.features.length;
  if (stats) {
    stats.setAttribute('data-sites', String(D.sites.length));
    stats.setAttribute('data-roads', String(D.roads.features.length));
    stats.setAttribute('data-features', String(n));
    stats.setAttribute('data-render-ms', String(Math.round(performance.now() - t0)));
    stats.setAttribute('data-rendered', 'true');
    stats.textContent = T['map.features'].replace('{n}', String(n));
  }
})();
{% endmacro %}
""")

    def __init__(self, payload: dict[str, Any], basemap: folium.TileLayer | None = None) -> None:
        super().__init__()
        self._name = "DataLayers"
        self.payload = script_json(payload)
        self.basemap = basemap


def _compact_geojson(gdf: gpd.GeoDataFrame, props: dict[str, str], tolerance_m: float) -> dict[str, Any]:
    """FeatureCollection with short property keys and geometries simplified in metres."""
    if gdf is None or len(gdf) == 0:
        return {"type": "FeatureCollection", "features": []}
    g = gdf.to_crs(32748)
    geoms = g.geometry.simplify(tolerance_m) if tolerance_m else g.geometry
    geoms = gpd.GeoSeries(geoms, crs=32748).to_crs(4326)
    cols = {k: g[c].tolist() for k, c in props.items()}
    feats = [{"type": "Feature", "properties": {k: v[i] for k, v in cols.items()}, "geometry": geometry_json(geom)}
             for i, geom in enumerate(geoms) if geom is not None and not geom.is_empty]
    return {"type": "FeatureCollection", "features": feats}


def _site_records(sites: gpd.GeoDataFrame, chips: pd.DataFrame | None) -> list[dict[str, Any]]:
    recs = []
    for r in sites.itertuples(index=False):
        c = chips.loc[r.site_id] if chips is not None and r.site_id in chips.index else None
        recs.append({
            "id": r.site_id, "st": r.status, "a": round(float(r.area_ha), 2), "cf": int(r.confidence),
            "f": str(r.first_seen)[:10], "l": str(r.last_seen)[:10], "ds": str(r.desa),
            "y": round(float(r.lat), 6), "x": round(float(r.lon), 6),
            "r": round(min(12.0, 4.0 + 2.0 * float(r.area_ha) ** 0.5), 1),
            "bd": "" if c is None else c["before_date"], "ad": "" if c is None else c["after_date"],
            "c": {} if c is None else {k: c[k] for k in ("before_tc", "after_tc", "before_swir", "after_swir")
                                       if c[k]},
        })
    return recs


def build_map(*, sites: gpd.GeoDataFrame, roads: gpd.GeoDataFrame | None, kecamatan: gpd.GeoDataFrame,
              desa: gpd.GeoDataFrame, bounds: list[list[float]], image: dict[str, Any] | None,
              chips: pd.DataFrame | None, chip_prefix: str, labels: dict[str, str], lang: str = "id",
              basemap: bool = True) -> folium.Map:
    """Assemble the folium map of one report page (see module docstring).

    ``sites``/``roads`` are the prepared frames of :mod:`.layers`; ``image`` is
    ``{"href": relative PNG, "bounds": [[s, w], [n, e]]}`` or None; ``bounds``
    the initial view.
    """
    m = folium.Map(location=[-2.3, 102.6], zoom_start=10, tiles=None, prefer_canvas=True,
                   control_scale=False, height="100%", width="100%")
    tiles = None
    if basemap:
        tiles = folium.TileLayer("OpenStreetMap", max_zoom=19, show=False, control=False)
        tiles.add_to(m)
    counts = sites["status"].value_counts().to_dict() if len(sites) else {}
    payload: dict[str, Any] = {
        "t": strings(lang), "labels": labels, "status": {s: status_label(s, lang) for s in STATUSES},
        "order": list(STATUSES), "colours": STATUS_COLOURS, "ramp": list(ROAD_RAMP),
        "counts": {k: int(v) for k, v in sorted(counts.items())}, "basemap": basemap,
        "image": image, "bounds": bounds, "chipPrefix": chip_prefix,
        "kecamatan": _compact_geojson(kecamatan, {"n": "nama"}, 30.0),
        "desa": _compact_geojson(desa, {"n": "nama"}, 30.0),
        "roads": _compact_geojson(roads, {"id": "segment_id", "s": "score", "d": "damaged"}, 0.0),
        "polygons": _compact_geojson(sites, {"st": "status"}, 5.0),
        "sites": _site_records(sites, chips),
    }
    for f in payload["roads"]["features"]:
        f["properties"]["s"] = round(float(f["properties"]["s"]), 3)
        f["properties"]["d"] = bool(f["properties"]["d"])
    DataLayers(payload, tiles).add_to(m)
    return m


def _fix_ids(el: Any, counter: list[int]) -> None:
    """Replace folium's random element ids with sequential ones (byte-identical reruns)."""
    el._id = f"{counter[0]:04d}"
    counter[0] += 1
    for child in el._children.values():
        _fix_ids(child, counter)


def render_map(m: folium.Map) -> MapParts:
    """Render a map into its ``<div>`` and ``<script>`` (folium's CDN ``<head>`` is dropped)."""
    fig = cast(Figure, m.get_root())
    _fix_ids(fig, [0])
    fig.render()
    html = fig.html.render()
    script = fig.script.render()
    if re.search(r"https?://[^\"' ]+\.(js|css)\b", html + script):
        raise ExportError("the report map still references an external script or stylesheet; remove it so "
                          "the page works offline (see publish/mapview.py)")
    return MapParts(html=html, script=script.replace("</script", "<\\/script"))
