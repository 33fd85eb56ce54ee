"""The output tree of publish_week: layout, rasters, STAC, determinism."""

from __future__ import annotations

import hashlib
import json

import pystac
import pytest
import rasterio

from sarolangun_geo.errors import ExportError
from sarolangun_geo.publish import publish_week
from sarolangun_geo.publish.week import check_week

from .conftest import PROVENANCE, WEEK


def _hashes(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_publish_week__tree(published):
    out, _ = published
    w = out / WEEK
    for rel in ("layers/peti_sites.geojson", "layers/road_damage.geojson",
                "layers/kecamatan/limun/peti_sites.geojson", "rasters/truecolour.tif",
                "rasters/evidence_confidence.tif", "rasters/evidence_score.tif", "reports/index.html",
                "reports/limun.html", "reports/mandiangin-timur.html", "exports/peti_sites.csv",
                "exports/evidence_pack.zip", "exports/kecamatan/limun/field_sheet.pdf", "catalog.json",
                "provenance.json", "chips/chips.json"):
        assert (w / rel).is_file(), rel
    assert (out / "catalog.json").is_file()
    assert len(list((w / "reports").glob("*.html"))) == 12
    assert not list(out.rglob(".*"))  # no temporary files left behind
    assert json.loads((w / "provenance.json").read_text())["config_hash"] == PROVENANCE["config_hash"]


def test_publish_week__kecamatan_copies_partition_regency(published):
    out, _ = published
    base = out / WEEK / "layers"
    whole = {f["properties"]["site_id"] for f in json.loads((base / "peti_sites.geojson").read_text())["features"]}
    parts = []
    for p in sorted((base / "kecamatan").glob("*/peti_sites.geojson")):
        feats = json.loads(p.read_text())["features"]
        assert all(f["properties"]["kecamatan_slug"] == p.parent.name for f in feats)
        parts += [f["properties"]["site_id"] for f in feats]
    assert sorted(parts) == sorted(whole)


def test_publish_week__cogs(published):
    out, _ = published
    with rasterio.open(out / WEEK / "rasters" / "truecolour.tif") as src:
        assert src.count == 3 and src.dtypes == ("uint8",) * 3 and src.crs.to_epsg() == 32748
        assert src.nodata == 0
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.profile["tiled"] and src.transform.a == 10
        rgb = src.read()
        assert rgb.max() > 0
    with rasterio.open(out / WEEK / "rasters" / "evidence_score.tif") as src:
        assert src.dtypes == ("float32",) and src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"


def test_publish_week__stac(published):
    out, _ = published
    root = pystac.Catalog.from_file(str(out / "catalog.json"))
    weeks = list(root.get_children())
    assert [c.id for c in weeks] == [f"sarolangun-geo-{WEEK}"]
    items = list(weeks[0].get_items())
    assert {i.id for i in items} >= {f"{WEEK}-peti-sites", f"{WEEK}-truecolour", f"{WEEK}-reports"}
    for item in items:
        assert item.properties["start_datetime"].startswith("2026-11-16")
        for asset in item.assets.values():
            assert not asset.href.startswith(("/", "http"))
            assert (out / WEEK / "stac" / item.id / asset.href).resolve().is_file(), asset.href
    raw = json.loads((out / WEEK / "catalog.json").read_text())
    assert all(not link["href"].startswith(("/", "http")) for link in raw["links"])


@pytest.mark.slow
def test_publish_week__rerun_byte_identical(tmp_path, sites, road_segments, composite, evidence, history, cube):
    args = (WEEK, sites, road_segments, composite, evidence, history, PROVENANCE)
    publish_week(tmp_path, *args, cube=cube)
    first = _hashes(tmp_path)
    publish_week(tmp_path, *args, cube=cube)
    assert _hashes(tmp_path) == first
    assert len(first) > 150


def test_publish_week__rerun_matches_fixture_run(tmp_path, published, sites, road_segments, composite, evidence,
                                                  history, cube):
    """A fresh run in another folder gives the same bytes as the session's run."""
    out, _ = published
    publish_week(tmp_path, WEEK, sites, road_segments, composite, evidence, history, PROVENANCE, cube=cube)
    assert _hashes(tmp_path / WEEK) == _hashes(out / WEEK)


def test_check_week__rejects_bad_label():
    with pytest.raises(ExportError, match="ISO week"):
        check_week("2026-47")


def test_publish_week__empty_week_minimal_inputs(tmp_path, sites):
    """No detections, no roads, no rasters, no history: every file still exists and validates."""
    empty = sites.iloc[:0]
    res = publish_week(tmp_path, WEEK, empty, lang="en")
    w = tmp_path / WEEK
    fc = json.loads((w / "layers" / "peti_sites.geojson").read_text())
    assert fc["features"] == []
    assert not (w / "layers" / "road_damage.geojson").exists()
    assert (w / "exports" / "peti_sites.gpkg").is_file() and (w / "exports" / "field_sheet.pdf").is_file()
    html = res.reports["regency"].read_text()
    assert 'lang="en"' in html and "No PETI sites this week." in html
    assert pystac.Catalog.from_file(str(res.catalog)).id == f"sarolangun-geo-{WEEK}"
