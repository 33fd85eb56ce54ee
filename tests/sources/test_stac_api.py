"""StacSource against a local STAC API stub (pystac-client code path, Planetary Computer signing)."""

from __future__ import annotations

import json

import pytest
from werkzeug import Request, Response

from sarolangun_geo.errors import NoItemsError, SourceError
from sarolangun_geo.sources import StacSource, load_cube

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


def _install_api(httpserver, items, seen: list) -> str:  # type: ignore[no-untyped-def]
    root = httpserver.url_for("/").rstrip("/")
    landing = {"type": "Catalog", "id": "stub", "description": "stub", "stac_version": "1.0.0",
               "conformsTo": ["https://api.stacspec.org/v1.0.0/core",
                              "https://api.stacspec.org/v1.0.0/item-search"],
               "links": [{"rel": "self", "href": root}, {"rel": "root", "href": root},
                         {"rel": "search", "href": f"{root}/search", "method": "POST",
                          "type": "application/geo+json"}]}

    def search(request: Request) -> Response:
        q = request.get_json()
        seen.append(q)
        feats = []
        for it in items:
            d = it.to_dict()
            for a in d["assets"].values():
                a["href"] = it.assets[next(k for k, v in d["assets"].items() if v is a)].get_absolute_href()
            d["collection"] = "sentinel-2-l2a"
            d["links"] = []
            if q["datetime"].split("/")[0][:10] <= d["properties"]["datetime"][:10] <= q["datetime"].split("/")[1][:10]:
                feats.append(d)
        return Response(json.dumps({"type": "FeatureCollection", "features": feats, "links": []}),
                        content_type="application/geo+json")

    httpserver.expect_request("/", method="GET").respond_with_json(landing)
    httpserver.expect_request("/search", method="POST").respond_with_handler(search)
    return root


def test_stac_api__earth_search_form(httpserver, items, aoi) -> None:
    seen: list = []
    url = _install_api(httpserver, items, seen)
    ds = load_cube(aoi, "2022-01-25", "2022-02-28", StacSource(url, name="earth-search"))
    assert seen and seen[0]["collections"] == ["sentinel-2-l2a"] and "intersects" in seen[0]
    assert [str(t)[:10] for t in ds.time.values] == ["2022-01-30", "2022-02-04"]
    assert set(ds["source"].values) == {"earth-search"}
    assert float(ds["red"].isel(time=0).mean()) > 0


def test_stac_api__planetary_computer_signs_hrefs(httpserver, items, aoi, monkeypatch) -> None:
    import planetary_computer

    signed: list[str] = []

    def fake_sign(href: str) -> str:
        signed.append(href)
        return href

    monkeypatch.setattr(planetary_computer, "sign", fake_sign)
    url = _install_api(httpserver, items, [])
    src = StacSource(url, name="planetary-computer", sign="planetary-computer")
    ds = load_cube(aoi, "2022-01-20", "2022-01-20", src, bands=["red"])
    assert signed == []  # not at graph construction: a lazy cube may be computed after the token expires
    ds.compute()
    assert signed and all(s.endswith("red.tif") for s in signed)
    assert ds.sizes["time"] == 1


def test_stac_api__no_items(httpserver, items, aoi) -> None:
    url = _install_api(httpserver, items, [])
    with pytest.raises(NoItemsError, match="widen the period"):
        load_cube(aoi, "2019-01-01", "2019-01-05", url)


def test_stac_api__server_error(httpserver, aoi) -> None:
    httpserver.expect_request("/", method="GET").respond_with_data("down", status=503)
    with pytest.raises(SourceError, match=r"STAC API .* (failed|cannot reach)"):
        load_cube(aoi, "2022-01-01", "2022-01-05", httpserver.url_for("/").rstrip("/"))
