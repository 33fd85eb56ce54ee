"""Schema and RFC 7946 validation of every published layer."""

from __future__ import annotations

import copy
import json

import pytest

from sarolangun_geo.errors import LayerSchemaError
from sarolangun_geo.publish import schema
from sarolangun_geo.publish.layers import feature_collection, prepare_sites

from .conftest import WEEK


def _fc(sites):
    return feature_collection(prepare_sites(sites, WEEK), "peti_sites")


def test_every_field_is_documented():
    for layer, fields in schema.LAYERS.items():
        names = [f.name for f in fields]
        assert len(names) == len(set(names)), layer
        for f in fields:
            assert f.description and f.label_id and f.label_en, (layer, f.name)
            assert f.type in ("string", "integer", "number", "boolean", "date")


def test_validate_layer__published_files(published):
    out, _ = published
    files = sorted((out / WEEK / "layers").rglob("*.geojson"))
    assert len(files) == 2 + 2 * 11
    for p in files:
        layer = p.stem
        fc = json.loads(p.read_text())
        schema.validate_layer(fc, layer)
        assert "crs" not in fc
        for feat in fc["features"]:
            assert list(feat["properties"]) == schema.field_names(layer)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda fc: fc.__setitem__("crs", {"type": "name"}), "crs"),
        (lambda fc: fc["features"][0]["properties"].pop("area_ha"), "schema order"),
        (lambda fc: fc["features"][0]["properties"].__setitem__("status", "hilang"), "not one of"),
        (lambda fc: fc["features"][0]["properties"].__setitem__("confidence", "3"), "integer"),
        (lambda fc: fc["features"][0]["properties"].__setitem__("site_id", None), "null"),
        (lambda fc: fc["features"][0]["geometry"]["coordinates"][0].reverse(), "winding"),
        (lambda fc: fc["features"][0]["geometry"]["coordinates"][0][0].__setitem__(0, 102.1234567), "decimals"),
        (lambda fc: fc["features"][0]["geometry"]["coordinates"][0][1].reverse(), "WGS 84"),
        (lambda fc: fc["features"][0].__setitem__("geometry", {"type": "Point", "coordinates": [102, -2]}),
         "geometry"),
    ],
)
def test_validate_layer__rejects(sites, mutate, match):
    fc = copy.deepcopy(_fc(sites))
    schema.validate_layer(fc, "peti_sites")
    mutate(fc)
    with pytest.raises(LayerSchemaError, match=match):
        schema.validate_layer(fc, "peti_sites")


def test_feature_collection__precision_and_order(sites):
    fc = _fc(sites)
    p = fc["features"][0]["properties"]
    assert (p["week"] == WEEK and p["kecamatan_slug"] == "limun") or p["kecamatan_slug"]
    ranks = [f["properties"]["priority_rank"] for f in fc["features"]]
    assert ranks == sorted(ranks)
    text = json.dumps(fc)
    assert "NaN" not in text


def test_prepare_sites__drops_suppressed(sites):
    s = sites.copy()
    s.loc[3, "suppressed"] = True
    assert len(prepare_sites(s, WEEK)) == len(s) - 1
    assert len(prepare_sites(s, WEEK, drop_suppressed=False)) == len(s)


def test_prepare_sites__missing_column(sites):
    with pytest.raises(LayerSchemaError, match="lacks column"):
        prepare_sites(sites.drop(columns=["legality"]), WEEK)
