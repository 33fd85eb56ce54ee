"""The one entry point: :func:`load_cube` (``docs/architecture.md`` §2).

It reads like a table of contents: resolve the AOI to the canonical sub-grid,
resolve the source, let the source build a lazy DN stack, harmonise it into
reflectance (:func:`sarolangun_geo.sources.base.finalize`).  Nothing is
computed: pixels are read only when the caller computes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr
from odc.geo.geobox import GeoBox

from .. import grid
from ..bands import ALL_BANDS
from ..errors import AOIError, SourceError
from .base import Source, check_bands, finalize

__all__ = ["load_cube", "resolve_aoi", "resolve_source"]


def resolve_aoi(aoi: Any) -> GeoBox:
    """AOI -> pixel sub-grid of the canonical grid.

    ``aoi`` is a ``GeoBox`` on the grid, a kecamatan name/slug/code (str), or
    anything :func:`sarolangun_geo.grid.subgrid` accepts (bbox lon/lat,
    geometry, GeoDataFrame).
    """
    if isinstance(aoi, GeoBox):
        return grid.check_grid(aoi)
    if isinstance(aoi, str):
        from ..aoi import find_kecamatan

        row = find_kecamatan(aoi)
        return grid.subgrid(row.geometry)
    return grid.subgrid(aoi)


def resolve_source(source: str | Path | Source, **kw: Any) -> Source:
    """A source object from a name, a catalog path/URL, a folder of COGs or a ``Source``.

    Strings: ``"earth-search"``, ``"planetary-computer"``, ``"sentinelhub"``,
    ``"cdse"`` (Sentinel Hub on the Copernicus Data Space), a path or URL ending
    in ``.json`` (static catalog), or a folder of per-date COGs.  ``kw`` are
    passed to the source's constructor.
    """
    from .local import LocalFolderSource
    from .stac import StacSource

    if not isinstance(source, (str, Path)):
        if isinstance(source, Source):
            return source
        raise SourceError(f"cannot use {type(source).__name__} as an imagery source; pass a name, a path or "
                          "a sources.Source object")
    s = str(source)
    if s == "earth-search":
        return StacSource.earth_search(**kw)
    if s == "planetary-computer":
        return StacSource.planetary_computer(**kw)
    if s in ("sentinelhub", "cdse"):
        from .sentinelhub import SentinelHubSource

        return SentinelHubSource(cdse=(s == "cdse"), **kw)
    if s.endswith(".json"):
        return StacSource.from_catalog(s, **kw)
    if Path(s).is_dir():
        if (Path(s) / "catalog.json").is_file():
            return StacSource.from_catalog(Path(s) / "catalog.json", **kw)
        return LocalFolderSource(Path(s), **kw)
    if s.startswith(("http://", "https://")):
        return StacSource(s, name=kw.pop("name", s), **kw)
    raise SourceError(
        f"unknown imagery source {s!r}: use 'earth-search', 'planetary-computer', 'sentinelhub', 'cdse', "
        "the path of a STAC catalog.json, or a folder of COGs (<dir>/<YYYY-MM-DD>/<band>.tif)"
    )


def _date(d: Any) -> dt.date:
    try:
        return pd.Timestamp(d).date()
    except (ValueError, TypeError):
        raise AOIError(f"{d!r} is not a date; pass 'YYYY-MM-DD' or a datetime.date") from None


def load_cube(aoi: Any, start: Any, end: Any, source: str | Path | Source = "earth-search", *,
              bands: Sequence[str] = ALL_BANDS, chunks: int | None = None, **kw: Any) -> xr.Dataset:
    """Load Sentinel-2 L2A for an AOI and period as one harmonised lazy cube.

    Parameters
    ----------
    aoi
        Kecamatan name, bbox (lon/lat), geometry, GeoDataFrame or canonical ``GeoBox``.
    start, end
        First and last sensing day, inclusive (``"YYYY-MM-DD"`` or dates).
    source
        See :func:`resolve_source`.
    bands
        Band names (STAC common names) from ``bands.ALL_BANDS``.
    chunks
        Only ``None`` or 1000: chunks are always the canonical 1000-px tiles.
    **kw
        Passed to the source constructor when ``source`` is a string
        (e.g. ``max_cloud_cover=60``, ``on_error="skip"``).

    Returns
    -------
    xarray.Dataset
        dims ``(time, y, x)`` on ``grid.subgrid(aoi)`` (EPSG:32748, 10 m, pixel-centre
        coords), ``blue..swir22`` float32 surface reflectance (NaN = nodata), ``scl`` uint8
        (0 = nodata); per-time coords ``platform``, ``cloud_cover`` (%), ``processing_baseline``,
        ``source``; ``time`` datetime64[ns], one step per acquisition day; dask chunks
        ``time=1`` and y/x on the canonical tile edges.  ``attrs["failures"]`` lists skipped items.

    Raises
    ------
    AOIError, BandError, NoItemsError, MissingAssetError, CorruptAssetError, CredentialsError,
    BudgetExceededError, SourceError
    """
    if chunks not in (None, grid.TILE_PX):
        raise SourceError(f"chunks={chunks} is not supported: the cube is chunked on the canonical "
                          f"{grid.TILE_PX}-px tiles; rechunk the result if you need otherwise")
    band_list = check_bands(bands)
    t0, t1 = _date(start), _date(end)
    if t1 < t0:
        raise AOIError(f"the period {t0}..{t1} ends before it starts; swap start and end")
    geobox = resolve_aoi(aoi)
    src = resolve_source(source, **kw)
    dn = src.load_dn(geobox, t0, t1, band_list)
    ds = finalize(dn, geobox, band_list)
    ds.attrs["failures"] = dn.attrs.get("failures", [])  # Sentinel Hub appends at compute time
    return ds
