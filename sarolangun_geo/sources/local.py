"""A folder of Sentinel-2 L2A COGs per date, as an imagery source.

Layout (either form, any mix):

* ``<root>/<YYYY-MM-DD>/<band>.tif`` or
* ``<root>/<YYYY-MM-DD>_<band>.tif``

where ``<band>`` is a STAC common name (``blue green red nir swir16 swir22
scl``) or the Sentinel-2 name (``B02 B03 B04 B08 B11 B12 SCL``).  Files are
single-band uint16 DN GeoTIFFs (0 = nodata) in any UTM zone; they are
reprojected onto the canonical grid at load.  One date = one acquisition.

Optional ``<root>/<YYYY-MM-DD>/metadata.json`` (or ``<root>/<YYYY-MM-DD>.json``)
may give ``platform``, ``cloud_cover``, ``processing_baseline`` and
``boa_offset_applied``; without it the processing baseline (hence the -1000 DN
offset) is inferred from the date (:func:`sarolangun_geo.bands.baseline_for_date`).

Each date becomes an in-memory STAC item and goes through the same odc-stac
path as catalogs (:func:`sarolangun_geo.sources.stac.load_items`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pystac
import rasterio
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.geom import box

from ..bands import BANDS, baseline_for_date
from ..errors import AOIError, BandError, CorruptAssetError, NoItemsError, SourceError, TileFailureWarning
from .stac import EARTH_SEARCH_ASSETS, load_items
from .validate import check_local_cog

__all__ = ["LocalFolderSource", "scan_folder"]

_DATE = r"(\d{4}-\d{2}-\d{2})"
_S2 = {v.s2_band.lower(): k for k, v in BANDS.items()}


def _band_name(stem: str) -> str | None:
    s = stem.lower()
    return s if s in BANDS else _S2.get(s)


def scan_folder(root: Path) -> dict[dt.date, dict[str, Path]]:
    """``{date: {band: path}}`` for every recognised file under ``root``."""
    out: dict[dt.date, dict[str, Path]] = {}
    for p in sorted(root.glob("*.tif")) + sorted(root.glob("*/*.tif")):
        if p.parent == root:
            m = re.fullmatch(_DATE + r"_(\w+)", p.stem)
            day_s, band_s = (m.group(1), m.group(2)) if m else (None, None)
        else:
            m = re.fullmatch(_DATE, p.parent.name)
            day_s, band_s = (m.group(1), p.stem) if m else (None, None)
        band = _band_name(band_s) if band_s else None
        if day_s is None or band is None:
            continue
        out.setdefault(dt.date.fromisoformat(day_s), {})[band] = p
    return out


def _meta(root: Path, day: dt.date) -> dict[str, Any]:
    for p in (root / day.isoformat() / "metadata.json", root / f"{day.isoformat()}.json"):
        if p.is_file():
            return json.loads(p.read_text())
    return {}


def _item(root: Path, day: dt.date, files: dict[str, Path]) -> pystac.Item:
    first = files.get("red") or next(iter(files.values()))
    try:
        with rasterio.open(first) as src:
            b = src.bounds
            footprint = box(b.left, b.bottom, b.right, b.top, src.crs).to_crs("EPSG:4326")
    except rasterio.errors.RasterioError as exc:
        raise CorruptAssetError(f"GeoTIFF {first} is corrupt or not a GeoTIFF ({exc}); regenerate it") from exc
    meta = _meta(root, day)
    when = dt.datetime.combine(day, dt.time(3, 30), tzinfo=dt.UTC)
    item = pystac.Item(
        id=f"local-{day.isoformat()}", geometry=footprint.json, bbox=list(footprint.boundingbox),
        datetime=when, properties={
            "platform": meta.get("platform", "sentinel-2"),
            "eo:cloud_cover": float(meta.get("cloud_cover", float("nan"))),
            "s2:processing_baseline": str(meta.get("processing_baseline", baseline_for_date(day))),
            "earthsearch:boa_offset_applied": bool(meta.get("boa_offset_applied", False)),
        })
    for band, path in files.items():
        item.add_asset(band, pystac.Asset(href=str(path.resolve()), media_type=pystac.MediaType.COG,
                                          roles=["data"]))
    return item


@dataclass(frozen=True)
class LocalFolderSource:
    """Per-date COGs in a folder (layout in the module docstring).

    Parameters
    ----------
    root
        The folder.
    name
        Value of the cube's ``source`` coordinate.
    on_error
        ``"raise"`` (default) or ``"skip"`` a date whose files are corrupt
        (recorded in ``attrs["failures"]`` with a :class:`TileFailureWarning`).
    """

    root: Path
    name: str = "local-folder"
    on_error: Literal["raise", "skip"] = "raise"

    def load_dn(self, geobox: GeoBox, start: dt.date, end: dt.date, bands: Sequence[str]) -> xr.Dataset:
        """DN stack for ``geobox`` (see :mod:`sarolangun_geo.sources.base`)."""
        root = Path(self.root)
        if not root.is_dir():
            raise SourceError(f"COG folder {root} does not exist; pass an existing folder")
        found = scan_folder(root)
        if not found:
            raise NoItemsError(f"no COGs found in {root}; expected <root>/<YYYY-MM-DD>/<band>.tif or "
                               "<root>/<YYYY-MM-DD>_<band>.tif")
        extent = geobox.extent.to_crs("EPSG:4326")
        items, failures, touching = [], [], 0
        for day, files in sorted(found.items()):
            try:
                for b in bands:
                    if b in files:
                        check_local_cog(files[b], band=b)
                it = _item(root, day, files)
            except (CorruptAssetError, BandError) as exc:
                if self.on_error == "raise" or isinstance(exc, BandError):
                    raise
                failures.append(f"{day}: {exc}")
                warnings.warn(f"skipping {day}: {exc}", TileFailureWarning, stacklevel=2)
                continue
            from odc.geo.geom import Geometry

            if not Geometry(it.geometry, "EPSG:4326").intersects(extent):
                continue
            touching += 1
            if start <= day <= end:
                items.append(it)
        if touching == 0 and not failures:
            raise AOIError(f"the AOI lies outside the coverage of the COGs in {root}; "
                           "pick an AOI the files cover")
        if not items:
            raise NoItemsError(f"no COGs in {root} between {start} and {end} "
                               f"(dates present: {min(found)}..{max(found)}); widen the period")
        ds = load_items(items, geobox, bands, asset_keys=EARTH_SEARCH_ASSETS, source=self.name)
        ds.attrs["failures"] = failures
        return ds
