"""Tile stores: one zarr store per canonical tile and snapshot, written atomically, unchanged chunks hard-linked."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import BaselineError
from ..grid import check_grid, iter_tile_geoboxes
from .state import _index_values

__all__ = ["ZSTD_LEVEL", "read_state", "write_state"]

def _tile_path(state_dir: Path, name: str, tile: str) -> Path:
    return Path(state_dir) / name / f"{tile}.zarr"


#: Dimensions along which a state is stored one chunk per index, so that a weekly write can
#: hard-link the chunks it did not change (the other season, the other months) from the
#: previous week's store instead of compressing and writing them again.
_SPLIT_DIMS = ("season", "month")


def _split_vars(part: xr.Dataset) -> list[str]:
    """The variables stored one chunk per index of their leading ``season``/``month`` dimension."""
    return [str(v) for v in part.data_vars if part[v].dims and part[v].dims[0] in _SPLIT_DIMS]


def _chunk_file(store: Path, var: str, index: int, ndim: int) -> Path:
    return store / var / "c" / str(index) / Path(*["0"] * (ndim - 1))


def _unchanged(part: xr.Dataset, prev: Path | None, dest: Path) -> dict[str, set[int]]:
    """Indices along ``season``/``month`` whose chunks equal those of the store ``prev``.

    A baseline update changes the buffers and counts of the seasons, and the
    climatology of the months, of the acquisitions it folded and nothing else,
    so when ``prev`` folded a subset of ``part``'s acquisitions (and has the
    same shape, chunks and codecs as the arrays created in ``dest``) every
    other season and month is unchanged.
    """
    if prev is None or not prev.is_dir() or "acquisitions" not in part.attrs:
        return {}
    import zarr

    try:
        group = zarr.open_group(str(prev), mode="r")
        old = set(json.loads(str(group.attrs.get("acquisitions", "[]"))))
        split = _split_vars(part)
        new_group = zarr.open_group(str(dest), mode="r")
        same = all(getattr(group[v], "shape", None) == part[v].shape
                   and getattr(group[v], "chunks", None) == (1, *part[v].shape[1:])
                   and _codecs(group[v].metadata) == _codecs(new_group[v].metadata) for v in split)
    except Exception:  # an unreadable previous store: write everything
        return {}
    new = set(json.loads(part.attrs["acquisitions"]))
    if not same or not old <= new or group.attrs.get("dry_months") != part.attrs.get("dry_months"):
        return {}
    dates = pd.DatetimeIndex(sorted(new - old))
    dry = json.loads(part.attrs.get("dry_months", "[]"))
    seasons = {int(m in dry) for m in dates.month}
    return {"season": {0, 1} - seasons, "month": set(range(12)) - {m - 1 for m in dates.month}}


#: zstd level of the stored chunks: level 1 encodes the ring buffers 2.5x faster than the default
#: (3) at the same size (the statistics and weekly stores grow ~20 %); decoding does not depend on it.
ZSTD_LEVEL = 1


def _encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    from zarr.codecs import ZstdCodec

    return {str(v): {"compressors": (ZstdCodec(level=ZSTD_LEVEL),)} for v in ds.data_vars}


def _codecs(meta: Any) -> str:
    """An array's codec pipeline without the compression levels (chunks of any level decode alike)."""
    def strip(c: Any) -> Any:
        if isinstance(c, dict):
            return {k: strip(v) for k, v in c.items() if k != "level"}
        return [strip(v) for v in c] if isinstance(c, list) else c

    return json.dumps(strip([c.to_dict() for c in meta.codecs]), sort_keys=True, default=str)


def _link_tree(src: Path, dest: Path) -> None:
    """Recreate the folder ``src`` at ``dest`` with its files hard-linked."""
    for root, _, files in os.walk(src):
        target = dest / Path(root).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for f in files:
            os.link(Path(root) / f, target / f)


def _write_store(part: xr.Dataset, dest: Path, prev: Path | None, same: Path | None = None,
                 same_vars: tuple[str, ...] = ()) -> None:
    """Write one tile's store; season/month chunks unchanged since ``prev`` are hard-linked.

    So are the variables ``same_vars``, from the store ``same`` (when it has them all).
    """
    import dask.array as da
    import zarr

    linked = [v for v in same_vars if v in part.data_vars]
    if same is None or not all((same / v / "zarr.json").is_file() for v in linked):
        linked = []
    full, part = part, part.drop_vars(linked)
    split = _split_vars(part)
    lazy = part.copy()
    for v in split:  # a lazy stand-in (never computed): to_zarr writes only its metadata, no copy of the data
        lazy[v] = part[v].copy(data=da.zeros(part[v].shape, dtype=part[v].dtype, chunks=(1, *part[v].shape[1:])))
    lazy.to_zarr(dest, mode="w", consolidated=False, compute=False,  # metadata + the other variables
                 encoding=_encoding(lazy))
    keep = _unchanged(part, prev, dest)
    for v in split:
        arr = zarr.open_array(str(dest / v), mode="r+")
        dim, ndim = str(part[v].dims[0]), part[v].ndim
        for i in range(part[v].shape[0]):
            src = _chunk_file(prev, v, i, ndim) if prev is not None else None
            if i in keep.get(dim, set()) and src is not None and src.is_file():
                target = _chunk_file(dest, v, i, ndim)
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(src, target)
                    continue
                except OSError:  # another filesystem: fall back to writing
                    pass
            arr[i] = _index_values(part[v], i)  # a lazily read state reads only this chunk
    if linked:
        try:
            for v in linked:
                _link_tree(same / v, dest / v)  # type: ignore[operator]
        except OSError:  # another filesystem: write them
            for v in linked:
                shutil.rmtree(dest / v, ignore_errors=True)
            full[linked].to_zarr(dest, mode="a", consolidated=False, encoding=_encoding(full[linked]))


def _recover_killed_write(dest: Path) -> None:
    """Tidy what a run killed inside :func:`write_state` left next to ``dest`` (the caller holds the run lock).

    A kill between moving the old store aside and moving the new one in leaves no ``dest``
    but a complete ``.old`` store: that store is put back (readers see the last complete
    state, not nothing); other ``.old`` and every ``.tmp`` folder are removed.
    """
    olds = sorted(dest.parent.glob(f".{dest.name}.*.old"), key=lambda p: p.stat().st_mtime)
    if olds and not dest.exists():
        olds.pop().rename(dest)
    for stale in [*dest.parent.glob(f".{dest.name}.*.tmp"), *olds]:
        shutil.rmtree(stale, ignore_errors=True)


def write_state(state: xr.Dataset, state_dir: str | Path, name: str = "baseline",
                link_from: str | None = None, *, same_as: str | None = None,
                same_vars: tuple[str, ...] = ()) -> list[Path]:
    """Write ``state`` as one zarr store per canonical tile it touches; returns the paths.

    Each store is written to a temporary folder and renamed into place, so a
    crash never leaves a half-written tile.  Attributes (the folded
    acquisitions) go with every tile.  Variables with a leading ``season`` or
    ``month`` dimension are stored one chunk per index; with ``link_from``
    (the name of the snapshot this state was updated from by :func:`update_state`), chunks that the
    update cannot have changed are hard-linked from it (same bytes, no
    compression, half the disk) instead of being written again.

    ``same_vars`` are variables that the caller read unchanged from the
    snapshot ``same_as`` (e.g. the statistics a week reused): their files are
    hard-linked from it (the same bytes as writing them again) instead of
    being encoded and written.
    """
    gbox = check_grid(state)
    paths = []
    for tid, tbox in iter_tile_geoboxes(gbox):
        y0 = round((gbox.affine.f - tbox.affine.f) / 10)
        x0 = round((tbox.affine.c - gbox.affine.c) / 10)
        part = state.isel(y=slice(y0, y0 + tbox.shape[0]), x=slice(x0, x0 + tbox.shape[1]))
        split = _split_vars(part)
        lazy = [v for v in part.data_vars if v not in split and part[v].chunks is not None]
        if lazy:  # (split variables, lazily indexed or dask, are computed chunk by chunk below)
            part = part.assign({v: part[v].compute() for v in lazy})
        for v in part.variables.values():
            v.encoding = {}
        dest = _tile_path(Path(state_dir), name, tid)
        dest.parent.mkdir(parents=True, exist_ok=True)
        _recover_killed_write(dest)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        prev = _tile_path(Path(state_dir), link_from, tid) if link_from else None
        same = _tile_path(Path(state_dir), same_as, tid) if same_as else None
        _write_store(part, tmp, prev, same, same_vars)
        if dest.exists():
            old = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.old")
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old)
        else:
            tmp.rename(dest)
        paths.append(dest)
    return paths


def read_state(state_dir: str | Path, geobox: Any, name: str = "baseline", *,
               load: bool = True) -> xr.Dataset | None:
    """Read the per-tile state covering ``geobox`` (numpy-backed); ``None`` if no tile exists yet.

    ``load=False`` leaves the variables lazily indexed (no dask): each is read
    when first used, so a week that takes its statistics from the stored ones
    does not hold the ring buffers in memory until it folds its looks in.

    Raises
    ------
    BaselineError
        If only some tiles exist, or a tile was written for another extent.
    """
    parts, missing = [], []
    for tid, tbox in iter_tile_geoboxes(geobox):
        p = _tile_path(Path(state_dir), name, tid)
        if not p.exists():
            missing.append(tid)
            continue
        if load:
            ds = xr.open_zarr(p, consolidated=False, chunks=None).load()  # straight to numpy, no dask graph
        else:  # no cache: a part read once (e.g. one season of the ring buffers) is not kept with the state
            ds = xr.open_dataset(p, engine="zarr", consolidated=False, chunks=None, cache=False)
        x_first = tbox.affine.c + tbox.affine.a / 2
        y_first = tbox.affine.f + tbox.affine.e / 2
        if (ds.sizes["y"], ds.sizes["x"]) != tuple(tbox.shape) or not (
                np.isclose(float(ds.x[0]), x_first) and np.isclose(float(ds.y[0]), y_first)):
            raise BaselineError(f"state tile {p} covers another extent than the requested area; run the "
                                "backfill for this area or use the same AOI as the one the state was built for")
        parts.append(ds)
    if not parts:
        return None
    if missing:
        raise BaselineError(f"state {name!r} in {state_dir} lacks tiles {missing}; run a backfill for them")
    acq = {json.dumps(sorted(json.loads(p.attrs.get("acquisitions", "[]")))) for p in parts}
    if len(acq) > 1:
        raise BaselineError(f"state {name!r} tiles in {state_dir} folded different acquisitions; "
                            "rerun the weekly update for the AOI (it is idempotent)")
    if len(parts) == 1:
        return parts[0]
    out = xr.combine_by_coords(parts, combine_attrs="override")
    assert isinstance(out, xr.Dataset)
    return out
