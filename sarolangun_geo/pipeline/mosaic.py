"""Per-tile snapshot stores on the AOI's sub-grid: lazy mosaics, or read one tile at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from .. import grid

__all__ = ["mosaic", "tile_readers"]


def _fill(dtype: np.dtype) -> Any:
    if np.issubdtype(dtype, np.floating):
        return np.nan
    if dtype == np.dtype(bool):
        return False
    return -1 if np.issubdtype(dtype, np.signedinteger) else 0


def mosaic(state_dir: str | Path, name: str, gbox: GeoBox, windows: dict[str, tuple[int, int, int, int]],
           tiles: list[str] | None = None) -> xr.Dataset:
    """Lazy ``(y, x)`` Dataset over ``gbox`` from ``<state_dir>/<name>/<tile>.zarr``.

    ``windows`` gives each tile's pixel window in the regency grid (as the
    pipeline cut the AOI); only ``tiles`` (default: all) are read, the other
    windows are filled with NaN / -1 / 0 / False.  Chunks follow the tiles.
    """
    tiles = list(windows) if tiles is None else tiles
    root = Path(state_dir) / name
    stores = {t: xr.open_zarr(root / f"{t}.zarr", consolidated=False) for t in tiles}
    if not stores:
        raise ValueError(f"no tiles to mosaic for {name}")
    first = next(iter(stores.values()))
    gr0 = round((grid.GRID_Y0 - gbox.affine.f) / grid.RESOLUTION)
    gc0 = round((gbox.affine.c - grid.GRID_X0) / grid.RESOLUTION)
    # the windows form a grid of tile rows and columns inside gbox
    rows = sorted({(w[0], w[2]) for w in windows.values()})
    cols = sorted({(w[1], w[3]) for w in windows.values()})
    if rows[0][0] != gr0 or cols[0][0] != gc0 or rows[-1][1] - gr0 != gbox.shape[0] \
            or cols[-1][1] - gc0 != gbox.shape[1]:
        raise ValueError("tile windows do not tile the AOI grid")
    by_pos = {(w[0], w[1]): t for t, w in windows.items()}
    out = {}
    for var in first.data_vars:
        if set(first[var].dims) != {"y", "x"}:
            continue
        dtype = first[var].dtype
        blocks = []
        for r0, r1 in rows:
            row = []
            for c0, c1 in cols:
                tid = by_pos.get((r0, c0))
                if tid in stores:
                    row.append(stores[tid][var].transpose("y", "x").data)
                else:
                    row.append(da.full((r1 - r0, c1 - c0), _fill(dtype), dtype=dtype,
                                       chunks=(r1 - r0, c1 - c0)))
            blocks.append(row)
        out[var] = (("y", "x"), da.block(blocks))
    ds = xr.Dataset(out, coords=xr_coords(gbox))
    ds.attrs = {k: v for k, v in first.attrs.items() if k in ("week",)}
    return ds


def _variables(ds: xr.Dataset) -> dict[str, np.dtype]:
    return {str(v): ds[v].dtype for v in ds.data_vars if set(ds[v].dims) == {"y", "x"}}


def tile_readers(state_dir: str | Path, name: str, gbox: GeoBox, tiles: list[str]
                 ) -> tuple[dict[str, np.dtype], Iterator[tuple[str, GeoBox, Any]]]:
    """The ``(y, x)`` variables of ``<state_dir>/<name>/<tile>.zarr`` and a reader per canonical tile of ``gbox``.

    What :func:`mosaic` gives, for consumers that go tile by tile
    (:func:`sarolangun_geo.sites.vectorize_tiles`) without a dask graph of the
    whole AOI: ``(tile id, tile GeoBox, read)`` in the order of
    :func:`grid.iter_tile_geoboxes`, where ``read(names)`` opens the tile's store
    and returns numpy arrays (decoded as :func:`mosaic` decodes them); tiles not in
    ``tiles`` read as the mosaic's fill (NaN / -1 / 0 / False).
    """
    root = Path(state_dir) / name
    if not tiles:
        raise ValueError(f"no tiles to read for {name}")
    with xr.open_zarr(root / f"{tiles[0]}.zarr", consolidated=False, chunks=None) as first:
        dtypes = _variables(first)
    done = set(tiles)

    def reader(tid: str, tbox: GeoBox) -> Any:
        def read(names: list[str]) -> dict[str, np.ndarray]:
            if tid not in done:
                return {n: np.full(tbox.shape.yx, _fill(dtypes[n]), dtype=dtypes[n]) for n in names}
            with xr.open_zarr(root / f"{tid}.zarr", consolidated=False, chunks=None) as ds:
                out = {n: np.asarray(ds[n].transpose("y", "x").values) for n in names}
            for n, a in out.items():
                if a.shape != tuple(tbox.shape.yx):
                    raise ValueError(f"{root / tid}.zarr: {n} has shape {a.shape}, the tile window "
                                     f"{tuple(tbox.shape.yx)}; the stores do not match the AOI grid")
            return out
        return read

    return dtypes, ((tid, tbox, reader(tid, tbox)) for tid, tbox in grid.iter_tile_geoboxes(gbox))
