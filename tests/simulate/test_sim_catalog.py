"""The catalog: determinism, offline STAC validation, Earth Search form, odc-stac loading."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from sarolangun_geo import bands, grid, simulate
from sarolangun_geo.bands import SCL

SHORT = dict(start="2022-01-10", end="2022-02-20")


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_simulate_catalog__same_seed_same_bytes_other_seed_differs(tmp_path):
    a = _hashes(simulate.simulate_catalog(tmp_path / "a", simulate.scenario("test", **SHORT)).parent)
    b = _hashes(simulate.simulate_catalog(tmp_path / "b", simulate.scenario("test", **SHORT), workers=1).parent)
    c = _hashes(simulate.simulate_catalog(tmp_path / "c", simulate.scenario("test", seed=8, **SHORT)).parent)
    assert a == b  # byte-identical, whatever the number of worker processes
    assert a.keys() == c.keys()
    tifs = [k for k in a if k.endswith(".tif")]
    assert tifs and all(a[k] != c[k] for k in tifs)
    assert a["truth/events.geojson"] != c["truth/events.geojson"]


def _validator(kind: str):
    """A jsonschema validator of pystac's bundled (offline) STAC core schemas."""
    from jsonschema import Draft7Validator
    from pystac.validation.local_validator import get_local_schema_cache
    from referencing import Registry, Resource

    cache = get_local_schema_cache()
    reg = Registry().with_resources([(k, Resource.from_contents(v)) for k, v in cache.items()])
    uri = next(k for k in cache if k.endswith(f"{kind}-spec/json-schema/{kind}.json"))
    return Draft7Validator(cache[uri], registry=reg)


def test_catalog__validates_against_offline_core_schemas(sim_dir, monkeypatch):
    import socket

    def no_net(*a, **k):
        raise AssertionError("the test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_net)
    import pystac

    cat = pystac.Catalog.from_file(str(sim_dir / "catalog.json"))
    items = list(cat.get_items(recursive=True))
    assert len(items) == len(simulate.acquisitions(simulate.scenario("test")))
    for kind, path in (("catalog", sim_dir / "catalog.json"),
                       ("collection", sim_dir / "sentinel-2-l2a" / "collection.json")):
        doc = json.loads(path.read_text())
        assert doc["stac_version"] == "1.0.0"
        doc["stac_version"] = "1.1.0"  # pystac bundles only the 1.1.0 core schemas; the 1.0 core is a subset
        _validator(kind).validate(doc)
    v = _validator("item")
    for it in items:
        d = copy.deepcopy(it.to_dict(include_self_link=False))
        d["stac_version"] = "1.1.0"
        v.validate(d)


def test_items__have_the_earth_search_v1_fields(sim_dir):
    paths = sorted((sim_dir / "sentinel-2-l2a").glob("*/*.json"))
    assert paths
    for p in paths:
        it = json.loads(p.read_text())
        pr = it["properties"]
        date = dt.date.fromisoformat(pr["datetime"][:10])
        assert it["collection"] == "sentinel-2-l2a" and it["id"] == p.stem
        assert it["id"].startswith(("S2A_", "S2B_", "S2C_")) and it["id"].endswith("_0_L2A")
        assert pr["platform"] in ("sentinel-2a", "sentinel-2b", "sentinel-2c")
        assert pr["s2:processing_baseline"] == bands.baseline_for_date(date)
        assert pr["earthsearch:boa_offset_applied"] is False
        assert 0 <= pr["eo:cloud_cover"] <= 100
        assert pr["proj:epsg"] == 32748 and pr["proj:code"] == "EPSG:32748"
        assert set(it["assets"]) == set(bands.ALL_BANDS)
        for name, a in it["assets"].items():
            assert not a["href"].startswith(("/", "http"))  # relative, self-contained
            assert (p.parent / a["href"]).is_file()
            res = bands.BANDS[name].resolution
            assert a["gsd"] == res and a["proj:transform"][0] == res
            rb = a["raster:bands"][0]
            assert rb["nodata"] == 0 and rb["spatial_resolution"] == res
            if name != "scl":
                assert rb["data_type"] == "uint16" and rb["scale"] == 0.0001
                assert rb["offset"] == (-0.1 if date >= dt.date(2022, 1, 25) else 0.0)
                assert a["eo:bands"][0]["common_name"] == name
            else:
                assert rb["data_type"] == "uint8"


def test_assets__tiled_deflate_uint16_nodata0(sim_dir):
    import rasterio

    tif = next((sim_dir / "sentinel-2-l2a").glob("*/red.tif"))
    with rasterio.open(tif) as ds:
        assert ds.dtypes[0] == "uint16" and ds.nodata == 0 and ds.is_tiled
        assert ds.profile["compress"].lower() == "deflate"
        assert ds.crs.to_epsg() == 32748
    with rasterio.open(tif.parent / "swir16.tif") as ds20, rasterio.open(tif) as ds10:
        assert ds20.res == (20.0, 20.0) and ds20.width * 2 == ds10.width


def test_load__odc_stac_on_the_canonical_grid(cube):
    ds = cube["ds"]
    grid.check_grid(ds, cube["gbox"])
    assert ds.sizes["time"] == len(cube["items"])
    assert ds.blue.dtype == np.uint16 and ds.scl.dtype == np.uint8
    assert set(np.unique(ds.scl.values)) <= set(range(12)) and not (ds.scl.values == 0).any()
    # the 20 m bands really are 20 m: 2 x 2 blocks of identical values on the 10 m grid
    sw = ds.swir16.values[:, :240, :240].reshape(-1, 120, 2, 120, 2)
    assert (sw == sw[:, :, :1, :, :1]).all()


def test_load__dn_offset_both_sides_of_2022_01_25(cube):
    """Clear forest-like vegetation has the same reflectance either side, DN jumps by 1000."""
    nir_dn = cube["ds"].nir.values.astype(float)
    scl = cube["scl"]
    before = [i for i, d in enumerate(cube["dates"]) if d < dt.date(2022, 1, 25)]
    after = [i for i, d in enumerate(cube["dates"]) if d >= dt.date(2022, 1, 25)]
    assert before and after
    med = lambda idx, arr: np.nanmedian(np.where(scl[idx] == SCL.VEGETATION, arr[idx], np.nan))  # noqa: E731
    r_before, r_after = med(before, cube["refl"]["nir"]), med(after, cube["refl"]["nir"])
    assert 0.2 < r_before < 0.45 and 0.2 < r_after < 0.45
    assert abs(r_before - r_after) < 0.05
    assert med(after, nir_dn) - med(before, nir_dn) == pytest.approx(1000, abs=500)


def test_zone47__western_items_in_epsg_32747_agree_with_32748(tmp_path):
    import odc.stac
    import pystac

    cfg = simulate.scenario("test", start="2022-06-01", end="2022-06-21", zone47_west=True)
    cat = simulate.simulate_catalog(tmp_path / "z47", cfg)
    items = list(pystac.Catalog.from_file(str(cat)).get_items(recursive=True))
    by_zone = {z: [i for i in items if i.properties["proj:code"] == f"EPSG:{z}"] for z in (32747, 32748)}
    assert len(by_zone[32747]) == len(by_zone[32748]) >= 1
    gbox = simulate.sim_geobox(cfg)
    a = odc.stac.load(by_zone[32748], bands=["red"], geobox=gbox, resampling="nearest").red.values
    b = odc.stac.load(by_zone[32747], bands=["red"], geobox=gbox, resampling="bilinear").red.values
    ok = (a > 0) & (b > 0)
    assert ok.mean() > 0.95
    rel = np.abs(a[ok].astype(float) - b[ok]) / a[ok]
    assert np.median(rel) < 0.03


def test_cli__simulate_subcommand_with_overrides(tmp_path, capsys):
    from sarolangun_geo import cli

    out = tmp_path / "cli"
    assert cli.main(["simulate", "--out", str(out), "--scenario", "test", "--seed", "3",
                     "--start", "2022-02-01", "--end", "2022-02-25", "--workers", "1"]) == 0
    assert capsys.readouterr().out.strip().endswith("catalog.json")
    sc = json.loads((out / "truth" / "scenario.json").read_text())
    assert sc["config"]["seed"] == 3 and sc["dates"][0] >= "2022-02-01" and sc["dates"][-1] <= "2022-02-25"
