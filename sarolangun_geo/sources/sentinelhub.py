"""Sentinel Hub (commercial or Copernicus Data Space) as an imagery source.

* Acquisitions and cloud cover come from ``SentinelHubCatalog``; one time step
  per UTC day.
* Pixels come from one ``SentinelHubRequest`` per canonical 1000 x 1000 tile and
  day (under the 2500-px limit), in EPSG:32748 at 10 m, built lazily as one
  ``dask.delayed`` task per tile+day.  The evalscript returns ``B02 B03 B04 B08
  B11 B12 SCL dataMask`` as one 8-band UINT16 GeoTIFF in DN units,
  ``harmonizeValues: true`` (Sentinel Hub removes the -1000 DN offset of
  baseline >= 04.00, so every step has offset 0), ``upsampling: NEAREST``,
  ``mosaickingOrder: leastCC``.  Pixels with ``dataMask == 0`` become nodata;
  valid pixels whose harmonised DN is 0 (negative reflectance clamped by
  UINT16) become DN 1.  ``processing_baseline`` is then the nominal baseline of
  the date (informational: the values are already harmonised).
* Credentials come only from ``SHConfig`` (a profile) or the environment
  (``SH_CLIENT_ID`` / ``SH_CLIENT_SECRET``); they are never logged or written.
* Responses are cached on disk by sentinelhub's own request hash
  (``data_folder``), and catalog answers for periods that ended more than 3
  days ago by a hash of the query: a rerun makes zero requests (not even for a
  token) and spends zero PU.
* PU are estimated before and counted after each request (:mod:`.budget`).
* 429 responses are retried at most ``max_retries`` times honouring
  ``Retry-After`` (milliseconds, as Sentinel Hub sends it); 5xx and connection
  errors ``max_download_attempts`` times with backoff x3 from
  ``download_sleep_time``.  A 401 is retried once with a fresh token, then
  raises :class:`TokenExpiredError`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import dask
import dask.array as da
import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from .. import grid
from ..bands import ALL_BANDS, baseline_for_date
from ..errors import (
    BudgetExceededError,
    CorruptAssetError,
    CredentialsError,
    NoItemsError,
    SourceError,
    TileFailureWarning,
    TokenExpiredError,
)
from .base import tile_snapped
from .budget import CDSE_FREE_PU, PU_HEADER, PUBudget, estimate_pu

__all__ = ["CDSE_BASE_URL", "CDSE_TOKEN_URL", "EVALSCRIPT", "SentinelHubSource"]

CDSE_BASE_URL = "https://sh.dataspace.copernicus.eu"
CDSE_TOKEN_URL = "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token"
_SH_BANDS = ("B02", "B03", "B04", "B08", "B11", "B12", "SCL")
EVALSCRIPT = """//VERSION=3
function setup() {
  return {
    input: [{bands: ["B02", "B03", "B04", "B08", "B11", "B12", "SCL", "dataMask"], units: "DN"}],
    output: {id: "default", bands: 8, sampleType: "UINT16"}
  };
}
function evaluatePixel(s) {
  return [s.B02, s.B03, s.B04, s.B08, s.B11, s.B12, s.SCL, s.dataMask];
}
"""
_CRED_HELP = (
    "set the environment variables SH_CLIENT_ID and SH_CLIENT_SECRET, or store them in a sentinelhub "
    "profile with `sentinelhub.config --profile sarolangun --sh_client_id <id> --sh_client_secret <secret>` "
    "and pass profile='sarolangun' (CDSE: create an OAuth client at https://shapps.dataspace.copernicus.eu/"
    "dashboard/)"
)


class _RedactSecrets(logging.Filter):
    """Drop third-party DEBUG records that would print OAuth secrets or tokens.

    requests-oauthlib logs the token request body (with ``client_secret``) and
    the token response at DEBUG level; we never let those reach a handler.
    """

    _MARKERS = ("client_secret", "access_token", "Bearer ", "refresh_token")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # a malformed record is not ours to fix; drop it to be safe
            return False
        return not any(m in msg for m in self._MARKERS)


def _install_redaction() -> None:
    for name in ("requests_oauthlib.oauth2_session", "oauthlib.oauth2.rfc6749.clients.base",
                 "oauthlib.oauth2.rfc6749.parameters", "sentinelhub.download.session"):
        lg = logging.getLogger(name)
        if not any(isinstance(f, _RedactSecrets) for f in lg.filters):
            lg.addFilter(_RedactSecrets())


def _bounds(gbox: GeoBox) -> tuple[float, float, float, float]:
    b = gbox.extent.boundingbox
    return (b.left, b.bottom, b.right, b.top)


def _default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sarolangun-geo" / "sentinelhub"


class SentinelHubSource:
    """Sentinel-2 L2A through the Sentinel Hub Catalog and Process APIs.

    Parameters
    ----------
    config
        A ``sentinelhub.SHConfig``; default: loaded from ``profile`` (or the default
        profile) with ``SH_CLIENT_ID`` / ``SH_CLIENT_SECRET`` from the environment.
    profile
        sentinelhub config profile name.
    cdse
        Use the Copernicus Data Space endpoints (overrides the config's URLs).
    cache_dir
        Response cache (default ``$XDG_CACHE_HOME/sarolangun-geo/sentinelhub``).
    budget_pu, budget_path
        Monthly PU limit and its tally file (default ``<cache_dir>/pu_budget.json``).
    max_retries, max_download_attempts, download_sleep_time
        Retry bounds for 429 and for 5xx/connection errors (see module docstring).
    max_cloud_cover
        Skip days whose catalog cloud cover exceeds this (percent).
    on_error
        ``"raise"`` or ``"skip"`` a failing tile+day (recorded in :attr:`failures`,
        with a :class:`TileFailureWarning`; the tile is then nodata).

    Raises
    ------
    CredentialsError
        When no client id/secret is configured (message names the env vars and command).
    """

    def __init__(self, config: Any = None, *, profile: str | None = None, cdse: bool = False,
                 cache_dir: str | Path | None = None, budget_pu: float = CDSE_FREE_PU,
                 budget_path: str | Path | None = None, max_retries: int = 5, max_download_attempts: int = 4,
                 download_sleep_time: float = 2.0, max_cloud_cover: float | None = None,
                 on_error: Literal["raise", "skip"] = "raise", name: str | None = None) -> None:
        from sentinelhub import DataCollection, SHConfig

        _install_redaction()
        if config is None:
            try:
                config = SHConfig(profile) if profile else SHConfig()
            except KeyError:
                raise CredentialsError(f"sentinelhub profile {profile!r} does not exist; {_CRED_HELP}") from None
        else:
            config = config.copy()
        if cdse:
            config.sh_base_url, config.sh_token_url = CDSE_BASE_URL, CDSE_TOKEN_URL
        if not (config.sh_client_id and config.sh_client_secret):
            raise CredentialsError(f"no Sentinel Hub credentials found; {_CRED_HELP}")
        config.max_retries = max_retries
        config.max_download_attempts = max_download_attempts
        config.download_sleep_time = download_sleep_time
        self.config = config
        self.name = name or ("cdse" if cdse else "sentinelhub")
        key = hashlib.md5(config.sh_base_url.encode()).hexdigest()[:8]
        # the stock collection carries its own service URL, which would win over sh_base_url
        self.collection = DataCollection.SENTINEL2_L2A.define_from(f"SRL_S2L2A_{key}",
                                                                  service_url=config.sh_base_url)
        self.cache_dir = Path(cache_dir) if cache_dir else _default_cache()
        self.budget = PUBudget(Path(budget_path) if budget_path else self.cache_dir / "pu_budget.json",
                               budget_pu)
        self.max_cloud_cover = max_cloud_cover
        self.on_error = on_error
        self.failures: list[str] = []
        self.requests_made = 0
        self._count_lock = threading.Lock()

    def __repr__(self) -> str:  # never show credentials
        return f"SentinelHubSource(name={self.name!r}, base_url={self.config.sh_base_url!r})"

    # ---- catalog -------------------------------------------------------------------------------
    def search(self, geobox: GeoBox, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        """One dict per UTC day: ``day``, ``time``, ``cloud_cover``, ``platform``."""
        from sentinelhub import CRS, BBox, SentinelHubCatalog

        bbox = BBox(_bounds(geobox), crs=CRS(grid.CRS_EPSG))
        t0 = dt.datetime.combine(start, dt.time())
        t1 = dt.datetime.combine(end, dt.time(23, 59, 59))
        features = self._cached_catalog(
            (self.config.sh_base_url, list(bbox), t0.isoformat(), t1.isoformat()),
            settled=end < dt.date.today() - dt.timedelta(days=3),
            fetch=lambda: self._call(lambda: list(SentinelHubCatalog(config=self.config).search(
                self.collection, bbox=bbox, time=(t0, t1))), "catalog search"))
        days: dict[str, list[dict]] = {}
        for f in features:
            p = f.get("properties", {})
            days.setdefault(str(p.get("datetime", ""))[:10], []).append(p)
        out = []
        for day, props in sorted(days.items()):
            cc = float(np.mean([p.get("eo:cloud_cover", np.nan) for p in props]))
            if self.max_cloud_cover is not None and cc > self.max_cloud_cover:
                continue
            t = min(np.datetime64(str(p["datetime"]).replace("Z", "")[:19], "ns") for p in props)
            out.append({"day": day, "time": t, "cloud_cover": cc,
                        "platform": ",".join(sorted({str(p.get("platform", "sentinel-2")) for p in props}))})
        if not out:
            raise NoItemsError(f"Sentinel Hub ({self.config.sh_base_url}) lists no Sentinel-2 L2A acquisitions "
                               f"over the AOI between {start} and {end}; widen the period or relax "
                               "max_cloud_cover")
        return out

    def _cached_catalog(self, key: Any, *, settled: bool, fetch: Any) -> list[dict]:
        """Catalog answers of settled periods (ended > 3 days ago) are cached like the pixels."""
        path = self.cache_dir / "catalog" / (hashlib.md5(json.dumps(key).encode()).hexdigest() + ".json")
        if settled and path.is_file():
            return json.loads(path.read_text())
        features = fetch()
        if settled:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(features))
        return features

    # ---- errors --------------------------------------------------------------------------------
    def _call(self, fn: Any, what: str) -> Any:
        """Run a sentinelhub call, mapping its errors; retry once on 401 with a fresh token."""
        from sentinelhub import SentinelHubDownloadClient
        from sentinelhub.exceptions import DownloadFailedException, OutOfRequestsException

        for attempt in (1, 2):
            try:
                return fn()
            except OutOfRequestsException as exc:
                raise SourceError(f"Sentinel Hub {what}: still rate-limited (HTTP 429) after "
                                  f"{self.config.max_retries} retries; retry later or lower parallelism") from exc
            except DownloadFailedException as exc:
                resp = getattr(exc.request_exception, "response", None)
                code = getattr(resp, "status_code", None)
                if code == 401 and attempt == 1:
                    SentinelHubDownloadClient.clear_cache()  # drop the cached session -> new token
                    continue
                if code == 401:
                    raise TokenExpiredError(
                        f"Sentinel Hub {what}: the access token was rejected as expired or invalid (HTTP 401) "
                        f"even after fetching a new one from {self.config.sh_token_url}; check the system "
                        "clock and that the OAuth client is still active") from None
                if code == 403:
                    raise CredentialsError(f"Sentinel Hub {what}: access denied (HTTP 403); the account may "
                                           f"lack access to Sentinel-2 L2A or have run out of PU") from None
                detail = f"HTTP {code}" if code else type(exc.request_exception).__name__
                raise SourceError(f"Sentinel Hub {what} failed ({detail}) after "
                                  f"{self.config.max_download_attempts} attempts; retry later") from None
            except ValueError as exc:
                if "sh_client_id" in str(exc):
                    raise CredentialsError(f"no Sentinel Hub credentials found; {_CRED_HELP}") from None
                raise
            except Exception as exc:  # oauthlib errors: rejected credentials
                if type(exc).__module__.startswith("oauthlib"):
                    raise CredentialsError(
                        f"Sentinel Hub token service {self.config.sh_token_url} rejected the credentials "
                        f"({type(exc).__name__}); {_CRED_HELP}") from None
                raise
        raise AssertionError("unreachable")

    # ---- process -------------------------------------------------------------------------------
    def _request(self, gbox: GeoBox, day: str) -> Any:
        from sentinelhub import CRS, BBox, MimeType, MosaickingOrder, SentinelHubRequest

        d = dt.date.fromisoformat(day)
        return SentinelHubRequest(
            evalscript=EVALSCRIPT,
            input_data=[SentinelHubRequest.input_data(
                data_collection=self.collection,
                time_interval=(dt.datetime.combine(d, dt.time()), dt.datetime.combine(d, dt.time(23, 59, 59))),
                mosaicking_order=MosaickingOrder.LEAST_CC,
                other_args={"processing": {"upsampling": "NEAREST", "harmonizeValues": True}})],
            responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
            bbox=BBox(_bounds(gbox), crs=CRS(grid.CRS_EPSG)),
            size=(gbox.shape[1], gbox.shape[0]), data_folder=str(self.cache_dir), config=self.config)

    def _fetch(self, gbox: GeoBox, day: str, tid: str) -> np.ndarray:
        """(7, h, w) uint16 DN of one tile and day (``B02..B12, SCL``; 0 = nodata)."""
        h, w = gbox.shape
        try:
            return self._fetch_raw(gbox, day, tid)
        except (BudgetExceededError, CredentialsError):
            raise
        except SourceError as exc:
            if self.on_error == "raise":
                raise
            self.failures.append(f"{tid} {day}: {exc}")
            warnings.warn(f"Sentinel Hub tile {tid} on {day} failed and is left as nodata: {exc}",
                          TileFailureWarning, stacklevel=2)
            return np.zeros((7, h, w), dtype="uint16")

    def _fetch_raw(self, gbox: GeoBox, day: str, tid: str) -> np.ndarray:
        import rasterio
        from rasterio.io import MemoryFile

        req = self._request(gbox, day)
        cached = (self.cache_dir / req.get_filename_list()[0]).is_file()
        est = estimate_pu(gbox.shape[1], gbox.shape[0], len(_SH_BANDS))
        if not cached:
            self.budget.reserve(est, what=f"request for tile {tid} on {day}")
        spent = None
        try:
            resp = self._call(lambda: req.get_data(save_data=True, decode_data=False)[0], f"tile {tid} {day}")
            if not cached:
                spent = float(resp.headers.get(PU_HEADER, est))
                with self._count_lock:
                    self.requests_made += 1
        finally:
            if not cached:
                self.budget.record(est, spent)
        try:
            with MemoryFile(resp.content) as mf, mf.open() as src:
                arr = src.read()
        except rasterio.errors.RasterioError as exc:
            raise CorruptAssetError(
                f"Sentinel Hub response for tile {tid} on {day} is not a readable GeoTIFF ({exc}); delete "
                f"{self.cache_dir / Path(req.get_filename_list()[0]).parent} and rerun") from exc
        if arr.shape != (8, *gbox.shape) or arr.dtype != np.uint16:
            raise CorruptAssetError(
                f"Sentinel Hub response for tile {tid} on {day} is {arr.dtype} {arr.shape}, expected uint16 "
                f"(8, {gbox.shape[0]}, {gbox.shape[1]}); check the evalscript, delete the cached response and rerun")
        dn, mask = arr[:7].copy(), arr[7] == 1
        dn[:6][(dn[:6] == 0) & mask[None]] = 1  # clamped negative reflectance stays valid
        dn[:, ~mask] = 0
        return dn

    def load_dn(self, geobox: GeoBox, start: dt.date, end: dt.date, bands: Sequence[str]) -> xr.Dataset:
        """DN stack for ``geobox`` (see :mod:`sarolangun_geo.sources.base`), lazily per tile and day."""
        snapped = tile_snapped(geobox)
        acqs = self.search(snapped, start, end)
        tiles = list(grid.iter_tile_geoboxes(snapped))
        cols = sorted({grid.parse_tile_id(t)[0] for t, _ in tiles})
        rows = sorted({grid.parse_tile_id(t)[1] for t, _ in tiles})
        base = hashlib.md5(self.config.sh_base_url.encode()).hexdigest()[:8]
        per_band: dict[str, list] = {b: [] for b in bands}
        for a in acqs:
            blocks: dict[tuple[int, int], Any] = {}
            for tid, gb in tiles:
                c, r = grid.parse_tile_id(tid)
                task = dask.delayed(self._fetch, pure=True)(gb, a["day"], tid,
                                                            dask_key_name=f"sh-{base}-{tid}-{a['day']}")
                blocks[(r, c)] = da.from_delayed(task, shape=(7, *gb.shape), dtype="uint16")
            for b in bands:
                i = ALL_BANDS.index(b)
                per_band[b].append(da.block([[blocks[(r, c)][i] for c in cols] for r in rows]))
        coords = xr_coords(snapped, crs_coord_name="spatial_ref")
        data = {b: (("time", "y", "x"), da.stack(per_band[b])) for b in bands}
        ds = xr.Dataset(data, coords=coords)
        days = [a["day"] for a in acqs]
        ds = ds.assign_coords(
            time=("time", np.array([a["time"] for a in acqs], dtype="datetime64[ns]")),
            day=("time", np.array(days)), offset=("time", np.zeros(len(acqs), dtype="float32")),
            platform=("time", np.array([a["platform"] for a in acqs])),
            cloud_cover=("time", np.array([a["cloud_cover"] for a in acqs], dtype="float64")),
            processing_baseline=("time", np.array([baseline_for_date(dt.date.fromisoformat(d)) for d in days])),
            source=("time", np.array([self.name] * len(acqs))))
        ds.attrs["failures"] = self.failures  # filled at compute time (on_error="skip")
        return ds
