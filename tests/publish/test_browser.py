"""Reports rendered in headless Chromium with the network blocked.

The map uses Leaflet's canvas renderer, which draws no DOM paths, so the
page's script writes its feature counts into ``#map-stats`` data attributes
after rendering; the test reads them from ``--dump-dom``.  Screenshots go to
``tests/artifacts/``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from sarolangun_geo.publish.layers import prepare_sites
from sarolangun_geo.publish.report import ReportSettings, render_report

from .conftest import WEEK, make_sites

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium missing: run `make browser-deps` "
                                                "(apt-get install -y chromium)"),
]


def chromium(url: str, profile: Path, *args: str, budget_ms: int = 8000, timeout: int = 120) -> str:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars",
           f"--virtual-time-budget={budget_ms}", *args, url]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return res.stdout


def _stats(dom: str) -> dict[str, str]:
    m = re.search(r'<p id="map-stats"([^>]*)>', dom)
    assert m, "no #map-stats in the DOM"
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', m.group(1)))


@pytest.mark.parametrize("page, layer", [("index.html", "layers"), ("limun.html", "layers/kecamatan/limun")])
def test_report_renders_offline(published, tmp_path, artifacts, page, layer):
    out, _ = published
    n_sites = len(json.loads((out / WEEK / layer / "peti_sites.geojson").read_text())["features"])
    n_roads = len(json.loads((out / WEEK / layer / "road_damage.geojson").read_text())["features"])
    url = (out / WEEK / "reports" / page).as_uri()
    dom = chromium(url, tmp_path / "p1", "--dump-dom")
    stats = _stats(dom)
    assert stats["rendered"] == "true", "the map script did not finish (JS error?)"
    assert int(stats["sites"]) == n_sites
    assert int(stats["roads"]) == n_roads > 0
    assert int(stats["features"]) == n_sites + n_roads
    assert "leaflet-container" in dom and "map-legend" in dom and "leaflet-control-layers" in dom
    assert 'class="leaflet-image-layer' in dom  # the true-colour overlay
    shot = artifacts / f"report_{page.replace('.html', '')}.png"
    chromium(url, tmp_path / "p2", f"--screenshot={shot}", "--window-size=1280,1500")
    assert shot.is_file() and shot.stat().st_size > 20_000


def test_report_popup_from_link(published, tmp_path):
    """``#site=<id>`` (the site table's links) opens that site's popup: escaped text and four chips."""
    out, _ = published
    url = (out / WEEK / "reports" / "limun.html").as_uri() + "#site=SRL-PETI-000001"
    dom = chromium(url, tmp_path / "p", "--dump-dom")
    popup = re.search(r'<div class="site-popup">(.*?)</div></div>', dom, re.S)
    assert popup, "the popup did not open"
    text = popup.group(1)
    assert "SRL-PETI-000001" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>" not in text
    assert len(re.findall(r'<img src="../chips/SRL-PETI-000001_(before|after)_(tc|swir).png"', text)) == 4


@pytest.mark.slow
def test_report_5000_sites_is_responsive(tmp_path, artifacts):
    sites = prepare_sites(make_sites(5000, seed=5, cluster=0, jitter_m=1500), WEEK)
    html = render_report(week=WEEK, scope="regency", sites=sites, roads=None, history=None, chips=None, image=None,
                         exports=[], provenance={}, settings=ReportSettings(basemap=False))
    page = tmp_path / "big.html"
    page.write_text(html)
    assert len(html) < 6_000_000
    t0 = time.monotonic()
    dom = chromium(page.as_uri(), tmp_path / "p", "--dump-dom", budget_ms=20000)
    wall = time.monotonic() - t0
    stats = _stats(dom)
    assert stats["rendered"] == "true" and int(stats["sites"]) == 5000
    assert int(stats["render-ms"]) < 5000, stats
    assert wall < 90
    chromium(page.as_uri(), tmp_path / "p2", f"--screenshot={artifacts / 'report_5000_sites.png'}",
             "--window-size=1280,1500", budget_ms=20000)
