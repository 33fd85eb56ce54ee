"""What every imagery source shares: the ``Source`` protocol and the DN -> cube step.

A source produces a *DN stack*: an ``xr.Dataset`` on a tile-snapped sub-grid of
the canonical grid whose data variables are the requested bands as uint16
digital numbers (0 = nodata), dims ``(time, y, x)``, dask-chunked on the
canonical 1000-px tiles, with these per-time coordinates:

``day`` (str, ISO date), ``platform`` (str), ``cloud_cover`` (float %),
``processing_baseline`` (str), ``source`` (str) and ``offset`` (float32, the
reflectance offset of that time step, 0.0 or -0.1).

:func:`finalize` turns a DN stack into the cube of ``docs/architecture.md`` §2:
reflectance per time step with its own offset (items on both sides of
2022-01-25 mix in one load), same-day steps merged (first valid pixel wins,
in acquisition-time order), sliced to the exact pixel sub-grid (the chunks
stay aligned to the canonical tiles, the first and last being partial) and
checked with :func:`sarolangun_geo.grid.check_grid`.  Nothing is computed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox

from .. import grid
from ..bands import ALL_BANDS, BANDS, NODATA, SCALE
from ..errors import BandError

__all__ = ["PER_TIME_COORDS", "Source", "check_bands", "finalize", "tile_snapped"]

#: Per-time coordinates every cube carries.
PER_TIME_COORDS = ("platform", "cloud_cover", "processing_baseline", "source")


@runtime_checkable
class Source(Protocol):
    """An imagery source that can build a lazy DN stack for a sub-grid.

    Implementations: :class:`~sarolangun_geo.sources.stac.StacSource`,
    :class:`~sarolangun_geo.sources.local.LocalFolderSource`,
    :class:`~sarolangun_geo.sources.sentinelhub.SentinelHubSource`.
    """

    @property
    def name(self) -> str:
        """Value of the cube's ``source`` coordinate."""
        ...

    def load_dn(self, geobox: GeoBox, start: dt.date, end: dt.date, bands: Sequence[str]) -> xr.Dataset:
        """DN stack (see module docstring) on ``geobox`` (tile-snapped) for ``start..end`` inclusive."""
        ...


def check_bands(bands: Sequence[str] | str) -> tuple[str, ...]:
    """Validate band names against the band table; return them as a tuple.

    Raises
    ------
    BandError
        Naming the unknown band(s) and the valid names.
    """
    if isinstance(bands, str):
        bands = (bands,)
    bad = [b for b in bands if b not in BANDS]
    if bad or not bands:
        raise BandError(
            f"unknown band(s) {bad or '(none given)'}; use STAC common names from {list(ALL_BANDS)} "
            "(e.g. 'nir' rather than 'B08')"
        )
    return tuple(dict.fromkeys(bands))


def tile_snapped(geobox: GeoBox) -> GeoBox:
    """The sub-grid grown to whole canonical tiles (chunks then equal tiles)."""
    grid.check_grid(geobox)
    return grid.subgrid(geobox, snap="tile")


def _window(outer: GeoBox, inner: GeoBox) -> tuple[slice, slice]:
    r0 = round((outer.affine.f - inner.affine.f) / grid.RESOLUTION)
    c0 = round((inner.affine.c - outer.affine.c) / grid.RESOLUTION)
    return slice(r0, r0 + inner.shape[0]), slice(c0, c0 + inner.shape[1])


def _to_reflectance(dn: xr.Dataset, bands: Sequence[str]) -> xr.Dataset:
    offset = dn["offset"].astype("float32")
    out = {}
    for b in bands:
        v = dn[b]
        if b == "scl":
            out[b] = v.astype("uint8")
        else:
            refl = v.astype("float32") * np.float32(SCALE) + offset
            out[b] = refl.where(v != NODATA).astype("float32")
        out[b].attrs = {"units": "1" if b != "scl" else "", "nodata": "nan" if b != "scl" else 0}
    return xr.Dataset(out, attrs=dn.attrs)


def _merge_same_day(ds: xr.Dataset, meta: dict[str, np.ndarray], bands: Sequence[str]
                    ) -> tuple[xr.Dataset, dict[str, np.ndarray]]:
    """One step per ``day``: the earlier acquisition's valid pixels win."""
    days = [str(d) for d in meta["day"]]
    if len(set(days)) == len(days):
        return ds, meta
    steps, rows = [], []
    for day in sorted(set(days)):
        idx = [i for i, d in enumerate(days) if d == day]
        step = ds.isel(time=idx[0])
        for i in idx[1:]:
            other = ds.isel(time=i)
            for b in bands:
                valid = step[b] != 0 if b == "scl" else step[b].notnull()
                step[b] = step[b].where(valid, other[b])
        steps.append(step)
        rows.append({
            "time": meta["time"][idx[0]], "day": day,
            "platform": ",".join(sorted({p for i in idx for p in str(meta["platform"][i]).split(",")})),
            "cloud_cover": float(np.nanmean([meta["cloud_cover"][i] for i in idx]))
            if not np.all(np.isnan([meta["cloud_cover"][i] for i in idx])) else np.nan,
            "processing_baseline": meta["processing_baseline"][idx[0]], "source": meta["source"][idx[0]],
        })
    merged = xr.concat(steps, dim="time", coords="minimal", compat="override", join="exact")
    return merged, {k: np.array([r[k] for r in rows]) for k in rows[0]}


def finalize(dn: xr.Dataset, geobox: GeoBox, bands: Sequence[str]) -> xr.Dataset:
    """DN stack -> the harmonised lazy cube on exactly ``geobox``.

    Parameters
    ----------
    dn
        DN stack (module docstring) on a tile-snapped sub-grid containing ``geobox``.
    geobox
        The pixel sub-grid of the result (``grid.subgrid(aoi)``).
    bands
        Band names to keep, in order.

    Returns
    -------
    xarray.Dataset
        dims ``(time, y, x)``; reflectance bands float32 (unitless, NaN = nodata),
        ``scl`` uint8 (0 = nodata); per-time coords ``platform``, ``cloud_cover``,
        ``processing_baseline``, ``source``; chunks ``time=1`` and y/x on tile edges.
    """
    keep = ["time", "day", *PER_TIME_COORDS]
    order = np.argsort(dn["time"].values, kind="stable")
    dn = dn.isel(time=order)
    meta = {k: np.asarray(dn[k].values) for k in keep}
    ds = _to_reflectance(dn, bands).drop_vars([k for k in keep if k != "time"] + ["offset"],
                                              errors="ignore")
    ds, meta = _merge_same_day(ds, meta, bands)
    ys, xs = _window(grid.check_grid(dn), geobox)
    ds = ds.isel(y=ys, x=xs)
    ds = ds.assign_coords(
        time=("time", meta["time"].astype("datetime64[ns]")),
        platform=("time", meta["platform"].astype(str)),
        cloud_cover=("time", meta["cloud_cover"].astype("float64")),
        processing_baseline=("time", meta["processing_baseline"].astype(str)),
        source=("time", meta["source"].astype(str)),
    )
    grid.check_grid(ds, expected=geobox)
    ds.attrs.update({"crs": f"EPSG:{grid.CRS_EPSG}", "bands": ",".join(bands)})
    return ds
