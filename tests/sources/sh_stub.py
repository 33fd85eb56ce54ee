"""A stub of the Sentinel Hub token, Catalog and Process APIs serving a test scene.

Process responses are cut from the scene's COGs exactly as Sentinel Hub would
return them for the project's evalscript: one 8-band UINT16 GeoTIFF
(B02 B03 B04 B08 B11 B12 SCL dataMask) on the requested bbox/size, harmonised
(``harmonizeValues: true``: the -1000 DN offset removed), nearest resampling,
first item (least cloud cover) wins.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import numpy as np
import pystac
import rasterio
from rasterio.io import MemoryFile
from rasterio.transform import from_bounds
from rasterio.warp import Resampling, reproject
from werkzeug import Request, Response

from sarolangun_geo.sources.stac import item_offset

BANDS = ("blue", "green", "red", "nir", "swir16", "swir22", "scl")


@dataclass
class ShStub:
    items: list[pystac.Item]
    pu_per_request: float = 8.9
    fail_429: int = 0          # next N process requests answer 429
    fail_5xx: int = 0          # next N process requests answer 503
    reject_tokens: set[str] = field(default_factory=set)  # tokens answered with 401
    bad_credentials: bool = False
    corrupt: bool = False
    n_tokens: int = 0
    n_process: int = 0
    n_catalog: int = 0
    auth_seen: list[str] = field(default_factory=list)

    def install(self, httpserver) -> None:  # type: ignore[no-untyped-def]
        httpserver.expect_request("/oauth/token", method="POST").respond_with_handler(self.token)
        httpserver.expect_request("/api/v1/catalog/1.0.0/search", method="POST").respond_with_handler(self.catalog)
        httpserver.expect_request("/api/v1/process", method="POST").respond_with_handler(self.process)

    # -- handlers ----------------------------------------------------------------------------
    def token(self, request: Request) -> Response:
        if self.bad_credentials:
            return Response(json.dumps({"error": "invalid_client", "error_description": "bad secret"}),
                            status=401, content_type="application/json")
        self.n_tokens += 1
        body = {"access_token": f"tok-{self.n_tokens}", "token_type": "Bearer", "expires_in": 3600}
        return Response(json.dumps(body), content_type="application/json")

    def _auth(self, request: Request) -> Response | None:
        tok = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.auth_seen.append(tok)
        if not tok or tok in self.reject_tokens:
            return Response(json.dumps({"error": {"status": 401, "reason": "Unauthorized",
                                                  "message": "Token expired"}}),
                            status=401, content_type="application/json")
        return None

    def catalog(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        self.n_catalog += 1
        q = request.get_json()
        t0, t1 = (dt.datetime.fromisoformat(t.replace("Z", "+00:00")) for t in q["datetime"].split("/"))
        feats = [{"type": "Feature", "id": it.id, "geometry": it.geometry,
                  "properties": {"datetime": it.datetime.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                 "eo:cloud_cover": it.properties["eo:cloud_cover"],
                                 "platform": it.properties["platform"]}}
                 for it in self.items if t0 <= it.datetime <= t1]
        return Response(json.dumps({"type": "FeatureCollection", "features": feats,
                                    "context": {"limit": 100, "returned": len(feats)}}),
                        content_type="application/json")

    def process(self, request: Request) -> Response:
        if (denied := self._auth(request)) is not None:
            return denied
        if self.fail_429 > 0:
            self.fail_429 -= 1
            return Response("rate limited", status=429, headers={"Retry-After": "5"})
        if self.fail_5xx > 0:
            self.fail_5xx -= 1
            return Response("busy", status=503)
        self.n_process += 1
        q = request.get_json()
        body = self.render(q) if not self.corrupt else b"II*\x00garbage"
        return Response(body, content_type="image/tiff", headers={"X-ProcessingUnits-Spent": str(self.pu_per_request)})

    # -- rendering ---------------------------------------------------------------------------
    def render(self, q: dict) -> bytes:
        minx, miny, maxx, maxy = q["input"]["bounds"]["bbox"]
        w, h = q["output"]["width"], q["output"]["height"]
        tr = from_bounds(minx, miny, maxx, maxy, w, h)
        rng = q["input"]["data"][0]["dataFilter"]["timeRange"]
        t0, t1 = (dt.datetime.fromisoformat(rng[k].replace("Z", "+00:00")) for k in ("from", "to"))
        items = sorted((it for it in self.items if t0 <= it.datetime <= t1),
                       key=lambda it: (it.properties["eo:cloud_cover"], it.datetime, it.id))
        out = np.zeros((8, h, w), dtype="uint16")
        for it in items:
            shift = round(item_offset(it, "red") * 10_000)
            layer = np.zeros((7, h, w), dtype="uint16")
            for i, b in enumerate(BANDS):
                with rasterio.open(it.assets[b].get_absolute_href()) as src:
                    reproject(rasterio.band(src, 1), layer[i], dst_transform=tr, dst_crs="EPSG:32748",
                              resampling=Resampling.nearest, src_nodata=0, dst_nodata=0)
            valid = layer[2] != 0
            refl = layer[:6].astype("int64") + shift
            layer[:6] = np.clip(refl, 0, 65535).astype("uint16")
            take = valid & (out[7] == 0)
            out[:7][:, take] = layer[:, take]
            out[7][take] = 1
        with MemoryFile() as mf:
            with mf.open(driver="GTiff", width=w, height=h, count=8, dtype="uint16", crs="EPSG:32748",
                         transform=tr) as dst:
                dst.write(out)
            return mf.read()
