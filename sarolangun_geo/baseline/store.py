"""Tile stores: one zarr store per canonical tile and snapshot, written atomically, unchanged chunks hard-linked."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import uuid
from dataclasses import dataclass
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


def _unchanged(part: xr.Dataset, prev: Path | None, codecs: dict[str, str]) -> dict[str, set[int]]:
    """Indices along ``season``/``month`` whose chunks equal those of the store ``prev``.

    A baseline update changes the buffers and counts of the seasons, and the
    climatology of the months, of the acquisitions it folded and nothing else,
    so when ``prev`` folded a subset of ``part``'s acquisitions (and has the
    same shapes and chunks, and the codec pipelines ``codecs`` of the arrays being
    written) every other season and month is unchanged.  ``prev``'s metadata
    is read as JSON and parsed by zarr (no zarr I/O machinery), so a store written by
    ``to_zarr`` (earlier versions) is linked from alike.
    """
    if prev is None or not prev.is_dir() or "acquisitions" not in part.attrs:
        return {}
    try:
        attrs = json.loads((prev / "zarr.json").read_text())["attributes"]
        old = set(json.loads(str(attrs.get("acquisitions", "[]"))))
        split = _split_vars(part)
        metas = {v: _read_array_meta(prev / v) for v in split}
        same = all(metas[v].shape == part[v].shape
                   and metas[v].chunks == (1, *part[v].shape[1:])
                   and _codecs(metas[v]) == codecs[v] for v in split)
    except Exception:  # an unreadable previous store: write everything
        return {}
    new = set(json.loads(part.attrs["acquisitions"]))
    if not same or not old <= new or attrs.get("dry_months") != part.attrs.get("dry_months"):
        return {}
    dates = pd.DatetimeIndex(sorted(new - old))
    dry = json.loads(part.attrs.get("dry_months", "[]"))
    seasons = {int(m in dry) for m in dates.month}
    return {"season": {0, 1} - seasons, "month": set(range(12)) - {m - 1 for m in dates.month}}


#: zstd level of the stored chunks: level 1 encodes the ring buffers 2.5x faster than the default
#: (3) at the same size (the statistics and weekly stores grow ~20 %); decoding does not depend on it.
ZSTD_LEVEL = 1
#: zstd level of the coordinate arrays: zarr's default (``to_zarr`` wrote them so; kept for identical bytes).
_COORD_ZSTD_LEVEL = 0


def _compressors(name: str, ds: xr.Dataset) -> tuple[Any, ...]:
    """Compressors of variable ``name``: zstd at :data:`ZSTD_LEVEL` (data), zarr's default (coordinates)."""
    from zarr.codecs import ZstdCodec

    return (ZstdCodec(level=ZSTD_LEVEL if name in ds.data_vars else _COORD_ZSTD_LEVEL),)


def _codecs(meta: Any) -> str:
    """An array's codec pipeline without the compression levels (chunks of any level decode alike)."""
    def strip(c: Any) -> Any:
        if isinstance(c, dict):
            return {k: strip(v) for k, v in c.items() if k != "level"}
        return [strip(v) for v in c] if isinstance(c, list) else c

    return json.dumps(strip([c.to_dict() for c in meta.codecs]), sort_keys=True, default=str)


def _read_array_meta(path: Path) -> Any:
    """The parsed zarr v3 metadata of the array stored at ``path``."""
    from zarr.core.metadata import ArrayV3Metadata

    return ArrayV3Metadata.from_dict(json.loads((path / "zarr.json").read_text()))


@dataclass(frozen=True)
class _Array:
    """One array of a store being written: its zarr metadata and its CF-encoded variable."""

    meta: Any  # zarr.core.metadata.ArrayV3Metadata
    var: xr.Variable  # encoded; a one-element stand-in when ``as_is``
    fill: Any  # numpy scalar: chunks equal to it are not stored (zarr's ``write_empty_chunks=False``)
    as_is: bool = False  # the chunks are the unencoded variable's values (encoding changes only attributes)


def _encode(ds: xr.Dataset, split: list[str]) -> tuple[dict[str, _Array], dict[str, Any]]:
    """The arrays and group attributes that ``ds.to_zarr(..., zarr_format=3)`` would write.

    xarray's own encoders make the variables and attributes (CF encoding, the
    ``coordinates`` attribute, the base64 ``_FillValue`` of floats, NaN as the fill
    value of floats); chunks are zarr's default guess, one index of the leading
    dimension for the ``split`` variables; compressors are :func:`_compressors`.
    A split variable is encoded through a one-element stand-in (a lazily read one
    is not read here) when encoding leaves its dtype, hence its values, as they are.
    """
    from xarray.backends.zarr import FillValueCoder, encode_zarr_attr_value, encode_zarr_variable
    from xarray.conventions import encode_dataset_coordinates
    from zarr.codecs import BytesCodec
    from zarr.core.chunk_grids import _guess_chunks
    from zarr.core.metadata import ArrayV3Metadata
    from zarr.dtype import parse_dtype

    variables, attrs = encode_dataset_coordinates(ds)
    arrays = {}
    for name, var in variables.items():
        as_is = name in split
        if as_is:
            standin = xr.Variable(var.dims, np.zeros((1,) * var.ndim, var.dtype), var.attrs, var.encoding)
            enc = encode_zarr_variable(standin, name=name, zarr_format=3)
            as_is = enc.dtype == var.dtype
        if not as_is:
            enc = encode_zarr_variable(var, name=name, zarr_format=3)
        var_attrs = dict(enc.attrs)
        fill = enc.encoding.get("fill_value", np.nan if enc.dtype.kind == "f" else None)
        if var_attrs.get("_FillValue") is not None:
            var_attrs["_FillValue"] = FillValueCoder.encode(var_attrs.pop("_FillValue"), enc.dtype)
        dtype = parse_dtype(enc.dtype, zarr_format=3)
        chunks = (1, *var.shape[1:]) if name in split else _guess_chunks(var.shape, enc.dtype.itemsize)
        meta = ArrayV3Metadata(
            shape=var.shape, data_type=dtype, fill_value=dtype.default_scalar() if fill is None else fill,
            chunk_grid={"name": "regular", "configuration": {"chunk_shape": chunks}},
            chunk_key_encoding={"name": "default", "separator": "/"},
            codecs=(BytesCodec(), *_compressors(str(name), ds)), dimension_names=enc.dims or None,
            attributes={k: encode_zarr_attr_value(v) for k, v in var_attrs.items()})
        arrays[str(name)] = _Array(meta, enc, meta.fill_value, as_is)
    return arrays, {k: encode_zarr_attr_value(v) for k, v in attrs.items()}


def _write_metadata(path: Path, meta: Any) -> None:
    from zarr.core.buffer import default_buffer_prototype

    path.mkdir(parents=True, exist_ok=True)
    (path / "zarr.json").write_bytes(meta.to_buffer_dict(default_buffer_prototype())["zarr.json"].to_bytes())


def _is_fill(block: np.ndarray, fill: Any) -> bool:
    """Whether ``block`` equals the fill value everywhere (zarr's test: NaN equals NaN, -0.0 is not 0.0)."""
    if block.dtype.kind == "f" and fill == 0:  # compare bit patterns
        bits = f"u{block.dtype.itemsize}"
        block, fill = block.view(bits), np.array(fill, block.dtype).view(bits)
    first = block[(0,) * block.ndim] if block.size else fill
    if not (first == fill or (first != first and fill != fill)):  # the usual case, at once
        return False
    full = np.broadcast_to(np.asarray(fill, block.dtype), block.shape)
    return bool(np.array_equal(block, full, equal_nan=True))


def _write_chunks(path: Path, arr: _Array, values: Any, index: int | None = None) -> None:
    """Store the chunks of ``values`` (all of the array, or its ``index`` along the leading dimension).

    Each chunk is padded with the fill value to the chunk shape, serialized
    little-endian in C order and zstd-compressed: the codec pipeline ``bytes,
    zstd`` of ``arr.meta``, so the bytes are those zarr writes.  Chunks equal to
    the fill value are not stored, as zarr does by default.
    """
    from numcodecs import Zstd

    (zstd,) = (c for c in arr.meta.codecs if c.to_dict()["name"] == "zstd")
    codec = Zstd(level=zstd.level, checksum=zstd.checksum)
    dtype = arr.var.dtype.newbyteorder("<") if arr.var.dtype.itemsize > 1 else arr.var.dtype
    data = np.asarray(values, dtype=dtype)
    chunks = arr.meta.chunks
    if index is not None:
        data, chunks = data[None], (1, *chunks[1:])
    grid = [range(0, n, c) for n, c in zip(data.shape, chunks, strict=True)]
    made: set[Path] = set()
    for origin in itertools.product(*grid):
        block = data[tuple(slice(o, o + c) for o, c in zip(origin, chunks, strict=True))]
        if _is_fill(block, arr.fill):
            continue
        if block.shape != tuple(chunks):  # an edge chunk: stored at the full chunk shape
            full = np.full(chunks, arr.fill, dtype=dtype)
            full[tuple(slice(0, n) for n in block.shape)] = block
            block = full
        coords = [o // c for o, c in zip(origin, chunks, strict=True)]
        if index is not None:
            coords[0] = index
        target = path.joinpath("c", *map(str, coords))
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        target.write_bytes(codec.encode(np.ascontiguousarray(block)))


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
    The store is what ``to_zarr(dest, mode="w", consolidated=False)`` wrote (same
    metadata, same chunk bytes; see :func:`_encode`), written as files without zarr's
    and xarray's per-array machinery (each of its calls is a round trip through
    zarr's event loop): all metadata first, then the chunks.
    """
    linked = [v for v in same_vars if v in part.data_vars]
    if same is None or not all((same / v / "zarr.json").is_file() for v in linked):
        linked = []
    split = _split_vars(part)
    arrays, attrs = _encode(part, split)
    from zarr.core.group import GroupMetadata

    _write_metadata(dest, GroupMetadata(attributes=attrs, zarr_format=3))
    for name, arr in arrays.items():  # all metadata first
        if name not in linked:
            _write_metadata(dest / name, arr.meta)
    keep = _unchanged(part, prev, {v: _codecs(arrays[v].meta) for v in split})
    for name, arr in arrays.items():
        if name in linked:
            continue
        if name not in split:
            _write_chunks(dest / name, arr, arr.var.data)
            continue
        var, dim = part[name], str(part[name].dims[0])
        for i in range(var.shape[0]):
            src = _chunk_file(prev, name, i, var.ndim) if prev is not None else None
            if i in keep.get(dim, set()) and src is not None and src.is_file():
                target = _chunk_file(dest, name, i, var.ndim)
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(src, target)
                    continue
                except OSError:  # another filesystem: fall back to writing
                    pass
            values = _index_values(var, i) if arr.as_is else arr.var[i].values
            _write_chunks(dest / name, arr, values, index=i)  # a lazily read state reads only this chunk
    if linked:
        try:
            for v in linked:
                _link_tree(same / v, dest / v)  # type: ignore[operator]
        except OSError:  # another filesystem: write them
            for v in linked:
                shutil.rmtree(dest / v, ignore_errors=True)
                _write_metadata(dest / v, arrays[v].meta)
                _write_chunks(dest / v, arrays[v], arrays[v].var.data)


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
