"""HTML reports: escaping, offline (no CDN), language, embedded JSON safety."""

from __future__ import annotations

import json
import re

import pytest

from sarolangun_geo.publish.i18n import CATALOG, t
from sarolangun_geo.publish.layers import prepare_sites
from sarolangun_geo.publish.mapview import leaflet_assets, script_json
from sarolangun_geo.publish.report import ReportSettings, render_report

from .conftest import HOSTILE_NAME, HOSTILE_NOTE, WEEK

_EXTERNAL = re.compile(r"""<(script|link|img|iframe)[^>]+(src|href)=["']?(https?:)?//""", re.I)


def test_script_json__cannot_close_script():
    s = script_json({"a": "</script><!-- x -->", "b": "\u2028", "c": "a&b"})
    assert "</" not in s and "<!--" not in s and "\u2028" not in s and "&" not in s
    assert json.loads(s) == {"a": "</script><!-- x -->", "b": "\u2028", "c": "a&b"}


def test_leaflet_assets__inlined():
    js, css = leaflet_assets()
    assert "Leaflet 1.9" in js[:300] and "</script" not in js
    assert "url(images/" not in css and "data:image/png;base64," in css


@pytest.mark.parametrize("page", ["index.html", "limun.html"])
def test_report__escaped_and_offline(published, page):
    out, _ = published
    html = (out / WEEK / "reports" / page).read_text()
    assert HOSTILE_NAME not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # in the site table
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in html  # in the map's JSON
    assert _EXTERNAL.search(html) is None, _EXTERNAL.search(html)
    for cdn in ("jquery", "bootstrap", "font-awesome", "awesome-markers", "cdn.jsdelivr", "cdnjs"):
        assert cdn not in html.lower(), cdn
    assert html.count("<script>") == html.count("</script>")
    assert 'lang="id"' in html and "Ringkasan" in html


def test_report__hostile_note_not_executable(published):
    out, _ = published
    html = (out / WEEK / "reports" / "index.html").read_text()
    assert HOSTILE_NOTE not in html  # its quote is escaped ...
    assert HOSTILE_NOTE.replace("'", "&#39;") in html  # ... and it is shown as text in the site table


def test_report__links_resolve(published):
    out, _ = published
    w = out / WEEK / "reports"
    for page in ("index.html", "limun.html"):
        html = (w / page).read_text()
        hrefs = [h for h in re.findall(r'(?:href|src)="([^"#:]+)"', html) if "'" not in h]
        assert hrefs
        for h in hrefs:
            assert (w / h).resolve().exists(), (page, h)


def test_report__english(sites, road_segments, history):
    s = prepare_sites(sites, WEEK)
    html = render_report(week=WEEK, scope="regency", sites=s, roads=None, history=None, chips=None,
                         image=None, exports=[("CSV", "x.csv")], provenance={}, settings=ReportSettings(lang="en"))
    assert 'lang="en"' in html and "Summary" in html and "Ringkasan" not in html
    assert t("trend.none", "en") in html


def test_i18n__catalog_complete():
    for key, pair in CATALOG.items():
        assert len(pair) == 2 and all(pair), key
