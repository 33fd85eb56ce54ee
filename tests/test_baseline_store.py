"""Tile stores written as files equal what ``to_zarr`` wrote (metadata, chunk bytes); links included."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from odc.geo.xr import xr_zeros
from test_baseline import _chunk, all_clear, history
from zarr.codecs import BloscCodec, ZstdCodec

from sarolangun_geo import baseline, grid
from sarolangun_geo.baseline import BaselineParams

P = BaselineParams(buffer_size=8, min_obs=3, min_obs_season=3)


def to_zarr_store(ds: xr.Dataset, dest: Path, compressors=None) -> None:
    """A store as the earlier ``write_state`` wrote it: ``to_zarr``, one chunk per season/month index."""
    ds = ds.copy()
    for v in ds.variables.values():
        v.encoding = {}
    comp = compressors or (ZstdCodec(level=baseline.ZSTD_LEVEL),)
    enc = {str(v): {"compressors": comp} for v in ds.data_vars}
    for v in baseline.store._split_vars(ds):
        enc[v]["chunks"] = (1, *ds[v].shape[1:])
    ds.to_zarr(dest, mode="w", consolidated=False, encoding=enc)


def files(store: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


def one_tile(ds: xr.Dataset) -> xr.Dataset:
    """A dataset of several dtypes on part of one tile (edge chunks, all-fill chunks, CF attributes)."""
    rng = np.random.default_rng(0)
    shape = (ds.sizes["y"], ds.sizes["x"])
    score = rng.random(shape, dtype="float32")
    score[:3] = np.nan
    out = xr.Dataset(
        {"score": (("y", "x"), score, {"units": "1", "nodata": np.float32(np.nan)}),
         "empty": (("y", "x"), np.full(shape, np.nan, "float32")),  # no chunk stored
         "zero": (("y", "x"), np.zeros(shape, "int32")),
         "neg_zero": (("y", "x"), np.full(shape, -0.0, "float64")),  # not the fill value: stored
         "flag": (("y", "x"), rng.random(shape) > 0.5),
         "prev": (("y", "x"), rng.integers(-32768, 32767, shape, dtype="int16"), {"scale": np.float64(1e-4)}),
         "months": (("month", "y", "x"), rng.integers(0, 3, (12, *shape), dtype="uint16")),
         "when": (("season", "y", "x"),  # encoding changes its dtype: written from its encoded values
                  np.datetime64("2025-01-05", "ns") + rng.integers(0, 400, (2, *shape)).astype("m8[D]"))},
        coords={"month": np.arange(1, 13, dtype="int8"), "season": np.arange(2, dtype="int8"),
                "y": ds.y, "x": ds.x, "spatial_ref": ds.spatial_ref})
    out.attrs = {"acquisitions": '["2025-01-05"]', "n": np.int64(3), "list": np.array([1, 2])}
    return out


@pytest.mark.parametrize("kind", ["state", "mixed"])
def test_write_state__store_equals_to_zarr_byte_for_byte(tmp_path, kind):
    if kind == "state":
        ds = history(n=3, size=10)
        state = baseline.update_state(baseline.empty_state(ds, P), ds, all_clear(ds), P)
    else:  # 703 x 1000 px in one tile: zarr's chunks (176, 500) leave a padded edge chunk
        gb = grid.regency_geobox()[3000:3703, 3000:4000]
        state = one_tile(xr_zeros(gb, dtype="uint8").to_dataset(name="t"))
    (path,) = baseline.write_state(state, tmp_path, "new")
    to_zarr_store(state, tmp_path / "ref.zarr")
    assert files(path) == files(tmp_path / "ref.zarr")
    back = baseline.read_state(tmp_path, state.odc.geobox, "new")
    ref = xr.open_zarr(tmp_path / "ref.zarr", consolidated=False, chunks=None).load()
    xr.testing.assert_identical(back, ref)
    for v in back.variables:
        assert back[v].dtype == state[v].dtype


def test_write_state__links_from_a_store_written_by_to_zarr(tmp_path):
    wet = history(n=4, start="2025-01-05")
    st1 = baseline.update_state(baseline.empty_state(wet, P), wet, all_clear(wet), P)
    tile = baseline.write_state(st1, tmp_path, "baseline/new")[0].name
    to_zarr_store(st1, tmp_path / "baseline" / "old" / tile)
    dry = history(n=1, start="2025-07-02", seed=5)
    st2 = baseline.update_state(st1, dry, all_clear(dry), P)
    (p_old,) = baseline.write_state(st2, tmp_path, "baseline/from_old", link_from="baseline/old")
    (p_new,) = baseline.write_state(st2, tmp_path, "baseline/from_new", link_from="baseline/new")
    for p in (p_old, p_new):
        assert _chunk(p, "buf_ndvi", 0).stat().st_nlink == 2 and _chunk(p, "buf_ndvi", 1).stat().st_nlink == 1
    assert files(p_old) == files(p_new)
    xr.testing.assert_identical(baseline.read_state(tmp_path, st2.odc.geobox, "baseline/from_old"),
                                baseline.read_state(tmp_path, st2.odc.geobox, "baseline/from_new"))


def test_write_state__chunks_of_another_codec_are_not_linked(tmp_path, monkeypatch):
    wet = history(n=4, start="2025-01-05")
    st1 = baseline.update_state(baseline.empty_state(wet, P), wet, all_clear(wet), P)
    tile = baseline.write_state(st1, tmp_path, "baseline/zstd1")[0].name
    to_zarr_store(st1, tmp_path / "baseline" / "blosc" / tile, (BloscCodec(cname="lz4"),))
    monkeypatch.setattr(baseline.store, "ZSTD_LEVEL", 5)  # another zstd level: its chunks decode alike
    baseline.write_state(st1, tmp_path, "baseline/zstd5")
    monkeypatch.undo()
    dry = history(n=1, start="2025-07-02", seed=5)
    st2 = baseline.update_state(st1, dry, all_clear(dry), P)
    (p1,) = baseline.write_state(st2, tmp_path, "baseline/a", link_from="baseline/blosc")
    (p2,) = baseline.write_state(st2, tmp_path, "baseline/b", link_from="baseline/zstd5")
    assert _chunk(p1, "buf_ndvi", 0).stat().st_nlink == 1
    assert _chunk(p2, "buf_ndvi", 0).stat().st_nlink == 2
    for name in ("a", "b"):
        back = baseline.read_state(tmp_path, st2.odc.geobox, f"baseline/{name}")
        xr.testing.assert_identical(back.drop_vars("spatial_ref"), st2.drop_vars("spatial_ref"))


def test_write_state__without_hard_links_writes_the_same_bytes(tmp_path, monkeypatch):
    wet = history(n=4, start="2025-01-05")
    st1 = baseline.update_state(baseline.empty_state(wet, P), wet, all_clear(wet), P)
    baseline.write_state(st1, tmp_path, "baseline/w1")
    stats = baseline.baseline_stats(st1, P, when="2025-03-20").compute()
    baseline.write_state(stats, tmp_path, "stats/w1")
    dry = history(n=1, start="2025-07-02", seed=5)
    st2 = baseline.update_state(st1, dry, all_clear(dry), P)
    week = stats[["ndvi_median", "water_freq"]].assign(red=stats["ndvi_median"] * 0 + np.float32(0.03))
    names = ("ndvi_median", "water_freq")
    (b_linked,) = baseline.write_state(st2, tmp_path, "baseline/linked", link_from="baseline/w1")
    (w_linked,) = baseline.write_state(week, tmp_path, "weekly/linked", same_as="stats/w1", same_vars=names)

    def no_link(src, dst):
        raise OSError("cross-device link")

    monkeypatch.setattr(os, "link", no_link)  # another filesystem: everything is written
    (b_written,) = baseline.write_state(st2, tmp_path, "baseline/written", link_from="baseline/w1")
    (w_written,) = baseline.write_state(week, tmp_path, "weekly/written", same_as="stats/w1", same_vars=names)
    assert _chunk(b_written, "buf_ndvi", 0).stat().st_nlink == 1
    assert files(b_linked) == files(b_written) and files(w_linked) == files(w_written)


def test_write_state__lazily_read_split_variables_are_read_one_chunk_at_a_time(tmp_path):
    wet = history(n=4, start="2025-01-05")
    st1 = baseline.update_state(baseline.empty_state(wet, P), wet, all_clear(wet), P)
    baseline.write_state(st1, tmp_path, "baseline/w1")
    lazy = baseline.read_state(tmp_path, st1.odc.geobox, "baseline/w1", load=False)
    assert not lazy["buf_ndvi"].variable._in_memory
    (p,) = baseline.write_state(lazy, tmp_path, "baseline/copy")
    assert files(p) == files(tmp_path / "baseline" / "w1" / p.name)
    assert pd.Index(json_list(p)).equals(pd.Index(baseline.state_acquisitions(st1)))


def json_list(store: Path) -> list[str]:
    import json

    return json.loads(json.loads((store / "zarr.json").read_text())["attributes"]["acquisitions"])
