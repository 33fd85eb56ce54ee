"""The pipeline end to end on the tiny simulated catalog, through the CLI."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pystac
import pytest

from sarolangun_geo.composites import iso_week
from sarolangun_geo.sites import Registry

from .conftest import BASELINE, ROOT, cli, read_json, tree_hashes, write_config

pytestmark = pytest.mark.slow


def weeks_with_items(catalog: Path, after: str, n: int = 2) -> list[str]:
    cat = pystac.Catalog.from_file(str(catalog))
    dates = sorted({i.datetime.date() for i in cat.get_items(recursive=True)})
    first = iso_week(__import__("datetime").date.fromisoformat(after))
    weeks = sorted({iso_week(d) for d in dates if iso_week(d) > first})
    return weeks[:n]


@pytest.fixture(scope="module")
def weeks(test_catalog):
    w = weeks_with_items(test_catalog, BASELINE[1])
    assert len(w) == 2
    return w


@pytest.fixture(scope="module")
def reference_run(test_catalog, weeks, tmp_path_factory):
    """An uninterrupted backfill + two weeks, through the CLI."""
    out = tmp_path_factory.mktemp("ref") / "out"
    cfg = write_config(out.parent / "run.toml", test_catalog, out)
    cli("backfill", "--config", str(cfg))
    for w in weeks:
        res = cli("run", "--config", str(cfg), "--week", w)
        assert f"weekly {w}: 1 tiles done" in res.stdout
    return cfg, out


def test_cli_end_to_end__outputs_and_registry(reference_run, weeks):
    cfg, out = reference_run
    wk = out / weeks[-1]
    for rel in ("layers/peti_sites.geojson", "layers/road_damage.geojson", "reports/index.html",
                "reports/limun.html", "rasters/truecolour.tif", "exports/peti_sites.csv", "catalog.json",
                "provenance.json"):
        assert (wk / rel).is_file(), rel
    reg = Registry(out / "registry.gpkg")
    runs = reg.runs()
    assert sorted(runs["week"]) == sorted(weeks)
    assert len(reg.road_scores()) > 0
    summary = read_json(out / "runs" / f"{weeks[-1]}-weekly.json")
    assert summary["tiles_ok"] == ["x04y08"] and not summary["tiles_failed"]
    prov = read_json(wk / "provenance.json")
    assert prov["items"] and prov["config_hash"]
    # status, sites list, export through the CLI
    st = json.loads(cli("status", "--config", str(cfg)).stdout)
    assert weeks[-1] in st["snapshot_weeks"]
    assert "sites" in cli("sites", "list", "--config", str(cfg)).stdout
    xlsx = out.parent / "sites.xlsx"
    cli("export", "--config", str(cfg), "--out-file", str(xlsx))
    assert xlsx.stat().st_size > 1000


def test_rerun_of_a_week_is_byte_identical(reference_run, weeks):
    cfg, out = reference_run
    before = tree_hashes(out, skip=("runs/",))
    res = cli("run", "--config", str(cfg), "--week", weeks[-1])
    assert "1 already done" in res.stdout
    assert tree_hashes(out, skip=("runs/",)) == before


def test_kill_9_then_rerun_gives_identical_outputs(reference_run, test_catalog, weeks, tmp_path):
    _, ref_out = reference_run
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "run.toml", test_catalog, out)
    # same paths as the reference would embed: compare relative trees, excluding absolute-path files
    cli("backfill", "--config", str(cfg))
    cli("run", "--config", str(cfg), "--week", weeks[0])
    # without the statistics stored with weeks[0], weeks[1] sorts the ring buffers itself; the
    # reference read them (recomputing only the pixels weeks[0] folded): the outputs must agree
    stats = out / "state" / "stats" / weeks[0]
    assert (stats / "x04y08.zarr").is_dir()
    shutil.rmtree(stats)
    rng = random.Random(1)
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "sarolangun_geo.cli", "run", "--config", str(cfg),
                                 "--week", weeks[1], "--no-progress"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 12.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
    # a stale lock from the killed run must not block the rerun
    cli("run", "--config", str(cfg), "--week", weeks[1])
    got = tree_hashes(out, skip=("runs/", "state/"))
    ref = tree_hashes(ref_out, skip=("runs/", "state/"))
    assert set(got) == set(ref)
    differing = [k for k in ref if got[k] != ref[k]]
    assert not differing, differing
    for kind in ("detection", "weekly", "baseline", "stats"):
        sub = f"{kind}/{weeks[1]}"
        assert tree_hashes(out / "state" / sub) == tree_hashes(ref_out / "state" / sub), sub


def test_lock_blocks_a_concurrent_run(reference_run, weeks):
    cfg, out = reference_run
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from sarolangun_geo.sites.lock import RegistryLock\n"
        f"l = RegistryLock(Path({str(out)!r}) / '.pipeline'); l.acquire(); print('held', flush=True); "
        "time.sleep(60)")], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        res = cli("run", "--config", str(cfg), "--week", weeks[-1], check=False)
        assert res.returncode == 4, res.stderr
        assert "lock" in res.stderr.lower() and str(holder.pid) in res.stderr
    finally:
        holder.kill()
        holder.wait()


def test_per_tile_failure_is_recorded_and_others_go_on(test_catalog, tmp_path):
    """An AOI over two tiles where one has no imagery: that tile fails, the other is built."""
    aoi = tmp_path / "aoi.geojson"
    aoi.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[
            [102.431, -2.574], [102.45, -2.574], [102.45, -2.555], [102.431, -2.555], [102.431, -2.574]]]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[
            [102.483, -2.574], [102.486, -2.574], [102.486, -2.571], [102.483, -2.571], [102.483, -2.574]]]}},
    ]}))
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "run.toml", test_catalog, out, geojson=aoi)
    res = cli("backfill", "--config", str(cfg), check=False)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "1 tiles done" in res.stdout and "1 failed" in res.stdout
    assert "FAILED x05y08: AOIError" in res.stdout and "outside the coverage" in res.stdout
    summary = read_json(out / "runs" / f"{iso_week(__import__('datetime').date.fromisoformat(BASELINE[1]))}-backfill.json")
    assert list(summary["tiles_failed"]) == ["x05y08"] and summary["tiles_ok"] == ["x04y08"]


def test_local_cluster_gives_the_same_outputs(reference_run, test_catalog, weeks, tmp_path):
    _, ref_out = reference_run
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "run.toml", test_catalog, out, scheduler="local:2")
    cli("backfill", "--config", str(cfg))
    for w in weeks:
        cli("run", "--config", str(cfg), "--week", w)
    got = tree_hashes(out, skip=("runs/", "state/"))
    ref = tree_hashes(ref_out, skip=("runs/", "state/"))
    assert got == ref


def test_weekly_without_backfill_explains_the_fix(test_catalog, tmp_path, weeks):
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "run.toml", test_catalog, out)
    res = cli("run", "--config", str(cfg), "--week", weeks[0], check=False)
    assert res.returncode == 3, res.stderr
    assert "backfill" in res.stderr
