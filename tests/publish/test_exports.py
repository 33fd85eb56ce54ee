"""export_sites: every format read back, filters, and hostile values neutralised."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import xml.etree.ElementTree as ET
import zipfile

import geopandas as gpd
import gpxpy
import openpyxl
import pytest

from sarolangun_geo.errors import ExportError, UnknownKecamatanError
from sarolangun_geo.publish import SiteFilter, export_sites, filter_sites
from sarolangun_geo.publish.exports import neutralise

from .conftest import HOSTILE_NAME, HOSTILE_NOTE, WEEK

KML_NS = {"k": "http://www.opengis.net/kml/2.2"}


def test_neutralise():
    assert neutralise("=1+2") == "'=1+2"
    for c in "=+-@\t\r":
        assert neutralise(c + "x").startswith("'")
    assert neutralise("Limun") == "Limun"
    assert neutralise(-2.5) == -2.5


def test_export_csv__neutralised(tmp_path, sites):
    p = export_sites(sites, tmp_path / "s.csv", week=WEEK)
    text = p.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(sites)
    assert rows[0]["site_id"].startswith("SRL-PETI-")
    notes = [r["verification"] for r in rows] + [r["evidence"] for r in rows]
    assert "'" + HOSTILE_NOTE in notes
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    assert HOSTILE_NAME in [r["desa"] for r in rows]  # CSV is data, not HTML: kept verbatim


def test_export_xlsx__read_back(tmp_path, sites):
    p = export_sites(sites, tmp_path / "s.xlsx", week=WEEK)
    wb = openpyxl.load_workbook(p)
    ws = wb["PETI"]
    assert ws.freeze_panes == "C2"
    assert ws.cell(1, 1).value == "ID lokasi" and ws.cell(1, 1).font.bold
    assert ws.column_dimensions["A"].width >= 15
    values = [c.value for row in ws.iter_rows(min_row=2) for c in row]
    assert "'" + HOSTILE_NOTE in values
    assert all(not (isinstance(v, str) and v.startswith("=")) for v in values)
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    assert ws.max_row == len(sites) + 1
    assert "Keterangan" in wb.sheetnames
    en = openpyxl.load_workbook(export_sites(sites, tmp_path / "e.xlsx", lang="en", week=WEEK))
    assert en["PETI"].cell(1, 1).value == "Site ID" and "Fields" in en.sheetnames


def test_export_kml_kmz__read_back(tmp_path, sites):
    kml = export_sites(sites, tmp_path / "s.kml", week=WEEK)
    root = ET.parse(kml).getroot()
    points = [pm for pm in root.iter(f"{{{KML_NS['k']}}}Placemark") if pm.find("k:Point", KML_NS) is not None]
    assert sorted(pm.find("k:name", KML_NS).text for pm in points) == sorted(sites["site_id"])
    descs = " ".join(pm.find("k:description", KML_NS).text for pm in points)
    assert "<table>" in descs  # HTML for Google Earth's balloon ...
    assert HOSTILE_NAME not in descs and "&lt;script&gt;alert(1)&lt;/script&gt;" in descs  # ... values escaped
    styles = {s.get("id") for s in root.iter(f"{{{KML_NS['k']}}}Style")}
    assert len(styles) >= 6
    kmz = export_sites(sites, tmp_path / "s.kmz", week=WEEK)
    with zipfile.ZipFile(kmz) as zf:
        assert zf.namelist() == ["doc.kml"]
        assert zf.read("doc.kml") == kml.read_bytes()


def test_export_gpx__read_back(tmp_path, sites):
    p = export_sites(sites, tmp_path / "s.gpx", filters=SiteFilter(top_n=5), week=WEEK)
    g = gpxpy.parse(p.read_text())
    top = sites.sort_values("priority_rank").head(5)
    assert [w.name for w in g.waypoints] == list(top["site_id"])
    assert g.waypoints[0].latitude == pytest.approx(top["lat"].iloc[0], abs=1e-6)


def test_export_geojson_gpkg__read_back(tmp_path, sites):
    gj = json.loads(export_sites(sites, tmp_path / "s.geojson", week=WEEK).read_text())
    assert len(gj["features"]) == len(sites)
    g = gpd.read_file(export_sites(sites, tmp_path / "s.gpkg", week=WEEK))
    assert g.crs.to_epsg() == 4326 and len(g) == len(sites)
    assert list(g.columns[:3]) == ["site_id", "status", "confidence"]


def test_export_pdf__field_sheet(tmp_path, sites, road_segments):
    p = export_sites(sites, tmp_path / "s.pdf", filters=SiteFilter(top_n=12), roads=road_segments, week=WEEK)
    data = p.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert 2 <= pages <= 6
    again = export_sites(sites, tmp_path / "t.pdf", filters=SiteFilter(top_n=12), roads=road_segments, week=WEEK)
    assert again.read_bytes() == data  # invariant PDF


def test_export_html__field_sheet_escaped(tmp_path, sites, road_segments):
    p = export_sites(sites, tmp_path / "s.html", roads=road_segments, week=WEEK)
    html = p.read_text()
    assert HOSTILE_NAME not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "km ke arah" in html or " m ke arah" in html
    assert html.count('class="box"') == 5 * len(sites)
    assert "°" in html  # DMS


def test_export_zip__evidence_pack(tmp_path, published, sites):
    out, res = published
    p = export_sites(sites, tmp_path / "e.zip", filters=SiteFilter(kecamatan=("Limun",)), chips=res.chips,
                     chips_root=out / WEEK, provenance={"config_hash": "abc", "items": ["x"]}, week=WEEK)
    with zipfile.ZipFile(p) as zf:
        man = json.loads(zf.read("manifest.json"))
        assert man["provenance"]["config_hash"] == "abc"
        listed = {f["path"] for f in man["files"]}
        assert listed == set(zf.namelist()) - {"manifest.json"}
        assert any(n.startswith("chips/") and n.endswith("_after_tc.png") for n in listed)
        for f in man["files"]:
            assert hashlib.sha256(zf.read(f["path"])).hexdigest() == f["sha256"]


def test_filter_sites(sites):
    assert set(filter_sites(sites, SiteFilter(kecamatan=("limun",)))["kecamatan"]) == {"Limun"}
    assert len(filter_sites(sites, SiteFilter(kecamatan=("Limun", "15.03.01")))) >= 8
    assert set(filter_sites(sites, SiteFilter(status=("baru", "meluas")))["status"]) == {"baru", "meluas"}
    assert (filter_sites(sites, SiteFilter(min_area_ha=3))["area_ha"] >= 3).all()
    assert (filter_sites(sites, SiteFilter(min_confidence=3))["confidence"] >= 3).all()
    since = dt.date(2026, 9, 1)
    assert (filter_sites(sites, SiteFilter(since=since))["last_seen"] >= "2026-09-01").all()
    top = filter_sites(sites, SiteFilter(top_n=3))
    assert list(top["priority_rank"]) == [1, 2, 3]
    d = sites["desa"].iloc[5]
    assert set(filter_sites(sites, SiteFilter(desa=(d.upper(),)))["desa"]) == {d}
    s = sites.copy()
    s.loc[0, "suppressed"] = True
    assert len(filter_sites(s, None)) == len(s) - 1
    assert len(filter_sites(s, SiteFilter(include_suppressed=True))) == len(s)


def test_export_sites__errors(tmp_path, sites):
    with pytest.raises(ExportError, match="unknown export format"):
        export_sites(sites, tmp_path / "s.shp")
    with pytest.raises(ExportError, match="unknown status"):
        export_sites(sites, tmp_path / "s.csv", filters=SiteFilter(status=("hilang",)))
    with pytest.raises(UnknownKecamatanError):
        export_sites(sites, tmp_path / "s.csv", filters=SiteFilter(kecamatan=("Atlantis",)))
