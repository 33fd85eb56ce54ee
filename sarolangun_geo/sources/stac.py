"""STAC imagery: Earth Search v1, Planetary Computer and static local catalogs.

Search is done with pystac-client (APIs) or pystac (a static ``catalog.json``);
pixels are loaded by odc-stac straight onto the canonical grid (items in
EPSG:32747 and EPSG:32748 are both reprojected there, nearest neighbour, so
DN stay exact; 20 m bands are repeated onto the 10 m grid).

Reflectance harmonisation, per item (:func:`item_offset`):

1. ``earthsearch:boa_offset_applied: true`` -> offset 0 (Element 84 already
   added the -1000 DN to the pixels).
2. else the asset's ``raster:bands[0].offset`` (Earth Search v1 writes
   ``scale 0.0001, offset -0.1`` on baseline >= 04.00 items, and 0 before);
3. else (Planetary Computer has no ``raster:bands`` scaling, and does *not*
   harmonise either) the offset implied by ``s2:processing_baseline``
   (:func:`sarolangun_geo.bands.offset_for_baseline`);
4. else the offset in force on the sensing date.

Known upstream caveat: Element 84 issues (earth-search #66, #71,
cirrus-earth-search #33) report items whose ``boa_offset_applied`` flag is
wrong; we follow the metadata and do not guess from pixel values.

Because the offset may differ between items of one load, items are grouped by
``(solar day, offset)``: each group is one DN time step with its own offset
coordinate, and :func:`sarolangun_geo.sources.base.finalize` merges steps of
the same day after scaling.  Same-day items with the same offset (overlapping
MGRS tiles, or the same tile in two UTM zones) are fused by odc-stac: the first
valid pixel wins, in (datetime, id) order.

Planetary Computer hrefs are signed at *read* time, not when the graph is
built: odc-stac's ``patch_url`` runs at graph construction (odc-stac #289), so
a lazy cube computed after the SAS token's ~45 min lifetime would fail.  We
load through a rasterio reader driver (:class:`SignAtReadDriver`) that calls
``planetary_computer.sign`` on each href as the chunk is read; its token cache
fetches a new token when the old one has less than a minute left.
"""

from __future__ import annotations

import datetime as dt
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pystac
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.loader import RioDriver

from ..bands import SCALE, offset_for, offset_for_baseline
from ..errors import (
    AOIError,
    BandError,
    CorruptAssetError,
    MissingAssetError,
    NoItemsError,
    SourceError,
    TileFailureWarning,
)
from .base import tile_snapped
from .validate import check_local_cog, local_path

__all__ = [
    "EARTH_SEARCH_ASSETS",
    "EARTH_SEARCH_URL",
    "PLANETARY_COMPUTER_ASSETS",
    "PLANETARY_COMPUTER_URL",
    "SignAtReadDriver",
    "StacSource",
    "item_offset",
    "load_items",
]

EARTH_SEARCH_URL = "https://earth-search.aws.element84.com/v1"
PLANETARY_COMPUTER_URL = "https://planetarycomputer.microsoft.com/api/stac/v1"
EARTH_SEARCH_ASSETS: Mapping[str, str] = MappingProxyType(
    {b: b for b in ("blue", "green", "red", "nir", "swir16", "swir22", "scl")})
PLANETARY_COMPUTER_ASSETS: Mapping[str, str] = MappingProxyType(
    {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08", "swir16": "B11", "swir22": "B12",
     "scl": "SCL"})
CHUNK = {"time": 1, "y": 1000, "x": 1000}


class SignAtReadDriver(RioDriver):
    """odc-loader rasterio driver that signs each href when its pixels are read."""

    def open(self, src: Any, ctx: Any) -> Any:
        import planetary_computer

        return super().open(src.patch(uri=planetary_computer.sign(src.uri)), ctx)


def _raster_band(item: pystac.Item, key: str) -> dict[str, Any]:
    rb = item.assets[key].extra_fields.get("raster:bands") or [{}]
    return dict(rb[0])


def item_offset(item: pystac.Item, asset_key: str = "red") -> float:
    """Reflectance offset to add after ``DN * 0.0001`` for one item (see module docstring).

    Raises
    ------
    BandError
        If the asset's ``raster:bands`` scale is not 0.0001 or its data type is not uint16.
    """
    props = item.properties
    rb = _raster_band(item, asset_key) if asset_key in item.assets else {}
    scale = rb.get("scale")
    if scale is not None and not np.isclose(float(scale), SCALE):
        raise BandError(f"item {item.id} asset {asset_key!r} has raster:bands scale {scale}, expected {SCALE}; "
                        "this is not Sentinel-2 L2A DN - check the collection")
    dtype = rb.get("data_type")
    if dtype is not None and dtype not in (("uint8", "uint16") if asset_key.lower() == "scl" else ("uint16",)):
        raise BandError(f"item {item.id} asset {asset_key!r} is {dtype}, expected uint16 DN; "
                        "check the collection or re-export the asset as uint16")
    if props.get("earthsearch:boa_offset_applied") is True:
        return 0.0
    if rb.get("offset") is not None:
        return float(rb["offset"])
    if props.get("s2:processing_baseline") is not None:
        return offset_for_baseline(props["s2:processing_baseline"])
    assert item.datetime is not None
    return offset_for(item.datetime)


def _solar_day(item: pystac.Item, lon: float) -> str:
    assert item.datetime is not None
    t = item.datetime.astimezone(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=lon / 15.0)
    return t.date().isoformat()


def _baseline(item: pystac.Item) -> str:
    pb = item.properties.get("s2:processing_baseline")
    if pb is None:
        from ..bands import baseline_for_date

        assert item.datetime is not None
        return baseline_for_date(item.datetime)
    return str(pb)


def _utc(item: pystac.Item) -> dt.datetime:
    if item.datetime is None:
        raise SourceError(f"item {item.id} has no datetime; fix the catalog")
    return item.datetime.astimezone(dt.UTC).replace(tzinfo=None)


def _step_coords(groups: list[list[pystac.Item]], keys: list[tuple[str, float]], source: str) -> dict:
    first = [g[0] for g in groups]
    return {
        "time": ("time", np.array([_utc(i) for i in first],
                                  dtype="datetime64[ns]")),
        "day": ("time", np.array([k[0] for k in keys])),
        "offset": ("time", np.array([k[1] for k in keys], dtype="float32")),
        "platform": ("time", np.array([",".join(sorted({str(i.properties.get("platform", "unknown"))
                                                         for i in g})) for g in groups])),
        "cloud_cover": ("time", np.array([float(np.mean([i.properties.get("eo:cloud_cover", np.nan)
                                                          for i in g])) for g in groups])),
        "processing_baseline": ("time", np.array([_baseline(g[0]) for g in groups])),
        "source": ("time", np.array([source] * len(groups))),
    }


def load_items(items: Sequence[pystac.Item], geobox: GeoBox, bands: Sequence[str], *,
               asset_keys: Mapping[str, str], source: str,
               patch_url: Callable[[str], str] | None = None, driver: Any = None) -> xr.Dataset:
    """DN stack (see :mod:`sarolangun_geo.sources.base`) of ``items`` on ``tile_snapped(geobox)``."""
    import odc.stac

    for it in items:
        for b in bands:
            if asset_keys[b] not in it.assets:
                raise MissingAssetError(
                    f"item {it.id} has no asset {asset_keys[b]!r} for band {b!r} (it has {sorted(it.assets)}); "
                    f"drop that band with bands=... or fix/remove the item from the catalog"
                )
    snapped = tile_snapped(geobox)
    lon = snapped.extent.centroid.to_crs("EPSG:4326").points[0][0]
    item_keys = [(_solar_day(it, lon), round(item_offset(it, asset_keys[bands[0]]), 6)) for it in items]
    for it in items:  # every band must agree with the first on the offset
        for b in bands:
            if b != "scl" and round(item_offset(it, asset_keys[b]), 6) != round(item_offset(
                    it, asset_keys[bands[0]]), 6):
                raise BandError(f"item {it.id}: bands {bands[0]!r} and {b!r} carry different offsets; "
                                "fix the item's raster:bands metadata")
    keys = sorted(set(item_keys))
    groups = [sorted((it for it, k in zip(items, item_keys, strict=True) if k == key),
                     key=lambda i: (i.datetime, i.id)) for key in keys]
    try:
        ds = odc.stac.load(
            items, bands=[asset_keys[b] for b in bands], geobox=snapped, chunks=dict(CHUNK),
            groupby=lambda item, parsed, idx: item_keys[idx], dtype="uint16", nodata=0,
            resampling="nearest", patch_url=patch_url, fail_on_error=True, driver=driver,
        )
    except ValueError as exc:
        raise SourceError(f"odc-stac could not prepare the load ({exc}); check the items' proj:* and "
                          "raster:bands metadata") from exc
    ds = ds.rename({asset_keys[b]: b for b in bands if asset_keys[b] != b})
    ds = ds.assign_coords(_step_coords(groups, keys, source))
    return ds[list(bands)]


#: Serialises the parsing of static catalogs: pystac resolves links and caches resolved objects in
#: place, so two tile threads reading the same catalog at once failed ("HREF ... does not resolve to
#: a STAC object" in CI; likely also a "dictionary changed size during iteration" seen once).
_STATIC_LOCK = threading.Lock()
_STATIC_ITEMS: dict[tuple[str, int], list[pystac.Item]] = {}


def _static_items(path: Path) -> list[pystac.Item]:
    """Every item of the static catalog ``path``, parsed once per process (the caller holds the lock).

    Keyed by the catalog file's modification time, so a rewritten catalog is read again; the
    regency's catalog has hundreds of items and every tile of a run searches it.
    """
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key not in _STATIC_ITEMS:
        _STATIC_ITEMS.clear()  # one catalog at a time: a run reads one
        _STATIC_ITEMS[key] = list(pystac.Catalog.from_file(str(path)).get_items(recursive=True))
    return _STATIC_ITEMS[key]


@dataclass(frozen=True)
class StacSource:
    """Sentinel-2 L2A from a STAC API or a static catalog.

    Parameters
    ----------
    url
        STAC API root URL, or path/``file://`` URL of a static ``catalog.json``.
    collection
        Collection id searched in an API (ignored for static catalogs).
    name
        Value of the cube's ``source`` coordinate.
    asset_keys
        Band name -> asset key.
    sign
        ``"planetary-computer"`` to sign hrefs with ``planetary_computer.sign`` at read time.
    max_cloud_cover
        Drop items with ``eo:cloud_cover`` above this (percent).
    on_error
        For a corrupt local asset: ``"raise"`` (default) or ``"skip"`` the item,
        recording it in ``attrs["failures"]`` with a :class:`TileFailureWarning`.
    """

    url: str
    collection: str = "sentinel-2-l2a"
    name: str = "earth-search"
    asset_keys: Mapping[str, str] = field(default_factory=lambda: EARTH_SEARCH_ASSETS)
    sign: Literal["planetary-computer"] | None = None
    max_cloud_cover: float | None = None
    on_error: Literal["raise", "skip"] = "raise"

    @classmethod
    def earth_search(cls, **kw: Any) -> StacSource:
        """Element 84 Earth Search v1, collection ``sentinel-2-l2a``."""
        return cls(EARTH_SEARCH_URL, name="earth-search", **kw)

    @classmethod
    def planetary_computer(cls, **kw: Any) -> StacSource:
        """Microsoft Planetary Computer ``sentinel-2-l2a`` (hrefs signed at load)."""
        return cls(PLANETARY_COMPUTER_URL, name="planetary-computer", asset_keys=PLANETARY_COMPUTER_ASSETS,
                   sign="planetary-computer", **kw)

    @classmethod
    def from_catalog(cls, path: str | Path, **kw: Any) -> StacSource:
        """A static catalog such as the simulator's (Earth Search v1 form)."""
        return cls(str(path), name=kw.pop("name", "local-catalog"), **kw)

    @property
    def is_static(self) -> bool:
        return self.url.endswith(".json") and local_path(self.url) is not None

    def search(self, geobox: GeoBox, start: dt.date, end: dt.date) -> list[pystac.Item]:
        """Items intersecting ``geobox`` with sensing date in ``start..end`` (inclusive).

        Raises
        ------
        AOIError
            A static catalog none of whose items touch the AOI.
        NoItemsError
            No item in the period (the message names the period and the fix).
        """
        extent = geobox.extent.to_crs("EPSG:4326")
        t0 = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
        t1 = dt.datetime.combine(end, dt.time(23, 59, 59, 999999), tzinfo=dt.UTC)
        if self.is_static:
            items = self._search_static(extent, t0, t1)
        else:
            items = self._search_api(extent, t0, t1)
        if self.max_cloud_cover is not None:
            items = [i for i in items if i.properties.get("eo:cloud_cover", 0) <= self.max_cloud_cover]
        if not items:
            raise NoItemsError(
                f"{self.name} ({self.url}) has no Sentinel-2 acquisitions over the AOI between {start} and {end}"
                + (f" with cloud cover <= {self.max_cloud_cover}%" if self.max_cloud_cover is not None else "")
                + "; widen the period (a 5-day revisit needs >= 5 days) or relax max_cloud_cover"
            )
        return items

    def _search_static(self, extent: Any, t0: dt.datetime, t1: dt.datetime) -> list[pystac.Item]:
        from odc.geo.geom import Geometry

        path = local_path(self.url)
        assert path is not None
        if not path.is_file():
            raise SourceError(f"static catalog {path} does not exist; pass the path of its catalog.json")
        with _STATIC_LOCK:  # pystac resolves links in place: one thread at a time, each item a private clone
            spatial = [it.clone() for it in _static_items(path)
                       if it.geometry is not None and Geometry(it.geometry, "EPSG:4326").intersects(extent)]
        if not spatial:
            raise AOIError(f"the AOI lies outside the coverage of catalog {path} (no item footprint touches it); "
                           "pick an AOI inside the catalog or point to a catalog that covers it")
        return [it for it in spatial if it.datetime is not None and t0 <= it.datetime <= t1]

    def _search_api(self, extent: Any, t0: dt.datetime, t1: dt.datetime) -> list[pystac.Item]:
        import pystac_client

        try:
            client = pystac_client.Client.open(self.url)
            search = client.search(collections=[self.collection], intersects=extent.json,
                                   datetime=[t0, t1], max_items=5000)
            return list(search.items())
        except pystac_client.exceptions.APIError as exc:
            raise SourceError(f"STAC API {self.url} failed ({exc}); retry later or use another source") from exc
        except OSError as exc:
            raise SourceError(f"cannot reach STAC API {self.url} ({exc}); check the network or use a local "
                              "catalog") from exc

    def _validate(self, items: list[pystac.Item], bands: Sequence[str]) -> tuple[list[pystac.Item], list[str]]:
        good, failures = [], []
        for it in items:
            try:
                for b in bands:
                    key = self.asset_keys[b]
                    if key not in it.assets:
                        continue  # reported by load_items
                    p = local_path(it.assets[key].get_absolute_href() or it.assets[key].href)
                    if p is not None:
                        check_local_cog(p, band=b)
                good.append(it)
            except (CorruptAssetError, BandError) as exc:
                if self.on_error == "raise" or isinstance(exc, BandError):
                    raise
                failures.append(f"{it.id}: {exc}")
                warnings.warn(f"skipping item {it.id}: {exc}", TileFailureWarning, stacklevel=3)
        return good, failures

    def load_dn(self, geobox: GeoBox, start: dt.date, end: dt.date, bands: Sequence[str]) -> xr.Dataset:
        """DN stack for ``geobox`` (see :mod:`sarolangun_geo.sources.base`)."""
        items = self.search(geobox, start, end)
        items, failures = self._validate(items, bands)
        if not items:
            raise NoItemsError(f"every acquisition between {start} and {end} failed validation: {failures}")
        driver = SignAtReadDriver() if self.sign == "planetary-computer" else None
        ds = load_items(items, geobox, bands, asset_keys=self.asset_keys, source=self.name, driver=driver)
        ds.attrs["failures"] = list(failures)
        return ds
