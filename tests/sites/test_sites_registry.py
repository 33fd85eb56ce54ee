"""Registry file behaviour: byte-identical reruns, lock, schema migration, corruption, GeoPackage validity."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import time

import geopandas as gpd
import pyogrio
import pytest
import shapely
from sites_synth import square, week_polygons

from sarolangun_geo.errors import (
    RegistryCorruptError,
    RegistryError,
    RegistryLockedError,
    SchemaVersionError,
    SitesInputError,
)
from sarolangun_geo.sites import schema
from sarolangun_geo.sites.lock import RegistryLock, lock_path
from sarolangun_geo.sites.registry import Registry, RunInfo

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
X, Y = 260_000.0, 9_745_000.0


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _roads(week_score: float) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"segment_id": ["R1-0000", "R1-0001"], "road_id": ["R1", "R1"],
                             "score": [week_score, 0.1], "confidence": [3, 0], "damaged": [True, False],
                             "water": [0.5, 0.0], "bare": [0.2, 0.0], "veg_loss": [0.0, 0.0],
                             "surface_change": [0.3, 0.0], "n_clear": [4, 4]},
                            geometry=[shapely.LineString([(X, Y), (X + 500, Y)]),
                                      shapely.LineString([(X + 500, Y), (X + 1000, Y)])], crs=32748)


def _two_weeks(reg: Registry) -> None:
    reg.upsert("2026-W01", week_polygons([(square(X, Y, 100), "2026-01-01")]), roads=_roads(0.8), now=NOW,
               run=RunInfo(sources=("earth-search",), items=("S2A_1",)))
    reg.upsert("2026-W02", week_polygons([(square(X, Y, 150), "2026-01-08"), (square(X + 900, Y, 100), "2026-01-07")]),
               roads=_roads(0.9), now=NOW, run=RunInfo(sources=("earth-search",), items=("S2B_2",)))


def test_upsert__rerun_of_the_same_week_is_byte_identical(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    _two_weeks(reg)
    h1 = _sha(reg.path)
    later = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)  # a later clock must not leak into the file
    reg.upsert("2026-W02", week_polygons([(square(X, Y, 150), "2026-01-08"), (square(X + 900, Y, 100), "2026-01-07")]),
               roads=_roads(0.9), now=later, run=RunInfo(sources=("earth-search",), items=("S2B_2",)))
    assert _sha(reg.path) == h1
    assert len(reg.runs()) == 2 and reg.meta()["next_site_id"] == "3"
    # a different input for the week replaces that week (not appended) ...
    reg.upsert("2026-W02", week_polygons([(square(X, Y, 150), "2026-01-08")]), now=later)
    assert len(reg.sites()) == 1 and reg.meta()["next_site_id"] == "2"
    assert reg.runs().iloc[-1].created_utc.startswith("2027")
    assert list(reg.observations().week) == ["2026-W01", "2026-W02"]
    # ... and going back to the original input (and clock) gives the original bytes again
    reg.upsert("2026-W02", week_polygons([(square(X, Y, 150), "2026-01-08"), (square(X + 900, Y, 100), "2026-01-07")]),
               roads=_roads(0.9), now=NOW, run=RunInfo(sources=("earth-search",), items=("S2B_2",)))
    assert _sha(reg.path) == h1


def test_upsert__two_registries_built_alike_are_identical(tmp_path):
    a, b = Registry(tmp_path / "a.gpkg"), Registry(tmp_path / "b.gpkg")
    _two_weeks(a)
    _two_weeks(b)
    assert _sha(a.path) == _sha(b.path)


def test_upsert__older_week_is_refused(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    _two_weeks(reg)
    h = _sha(reg.path)
    with pytest.raises(RegistryError, match="older than the latest week 2026-W02"):
        reg.upsert("2026-W01", week_polygons([]), now=NOW)
    assert _sha(reg.path) == h


def test_upsert__bad_input_leaves_file_untouched(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    _two_weeks(reg)
    h = _sha(reg.path)
    with pytest.raises(SitesInputError, match="area_ha"):
        reg.upsert("2026-W03", gpd.GeoDataFrame(geometry=[square(X, Y, 10)], crs=32748))
    with pytest.raises(SitesInputError, match="segment_id"):
        reg.upsert("2026-W03", week_polygons([]), roads=gpd.GeoDataFrame(geometry=[], crs=32748))
    assert _sha(reg.path) == h and not list(tmp_path.glob(".r.gpkg.*"))


def test_registry__is_a_geopackage_gdal_reads(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    _two_weeks(reg)
    layers = dict(pyogrio.list_layers(reg.path))
    assert {"sites", "site_observations", "verifications", "road_segments", "road_scores", "runs"} <= set(layers)
    sites = pyogrio.read_dataframe(reg.path, layer="sites")
    assert sites.crs.to_epsg() == 32748 and len(sites) == 2 and sites.geometry.is_valid.all()
    con = sqlite3.connect(reg.path)
    assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    con.close()
    assert len(reg.road_scores()) == 4 and list(reg.road_segments().first_week) == ["2026-W01"] * 2
    runs = reg.runs()
    assert list(runs["items"]) == ['["S2A_1"]', '["S2B_2"]'] and runs.config_hash.nunique() == 1
    assert runs.package_version.iloc[0] and runs.created_utc.iloc[0] == "2026-01-01T00:00:00Z"


_HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from sarolangun_geo.sites.lock import RegistryLock
    with RegistryLock(Path(sys.argv[1])):
        print("locked", flush=True)
        time.sleep(30)
""")


def test_lock__second_process_is_blocked(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    _two_weeks(reg)
    h = _sha(reg.path)
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(reg.path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(RegistryLockedError, match=rf"pid {proc.pid}.*delete .*r\.gpkg\.lock"):
            reg.upsert("2026-W03", week_polygons([]), now=NOW)
    finally:
        proc.kill()
        proc.wait()
    assert _sha(reg.path) == h
    # the killed holder left a stale lock behind: it is detected and taken over
    assert lock_path(reg.path).exists()
    reg.upsert("2026-W03", week_polygons([]), now=NOW)
    assert not lock_path(reg.path).exists()


def test_lock__waits_with_timeout_and_releases(tmp_path):
    path = tmp_path / "r.gpkg"
    with RegistryLock(path):
        t0 = time.monotonic()
        with pytest.raises(RegistryLockedError):
            RegistryLock(path, timeout=0.3).acquire()
        assert time.monotonic() - t0 >= 0.3
    with RegistryLock(path):
        pass


def _v0(path):
    schema.create_v0(path, sites=[("SRL-PETI-000004", "growing", 1.0, "2025-11-03", "2025-12-01", square(X, Y, 100)),
                                  ("SRL-PETI-000007", "stopped", 0.5, "2025-10-06", "2025-10-20",
                                   square(X + 500, Y, 70))],
                     observations=[("SRL-PETI-000004", "2025-W45", 0.5, "new", square(X, Y, 70)),
                                   ("SRL-PETI-000004", "2025-W49", 1.0, "growing", square(X, Y, 100)),
                                   ("SRL-PETI-000007", "2025-W43", 0.5, "active", square(X + 500, Y, 70))])


def test_schema__v0_is_refused_clearly_then_migrated_without_losing_history(tmp_path):
    path = tmp_path / "old.gpkg"
    _v0(path)
    h = _sha(path)
    reg = Registry(path)
    with pytest.raises(SchemaVersionError, match=r"schema version 0, older than 1; migrate it .*\.migrate\(\)"):
        reg.sites()
    with pytest.raises(SchemaVersionError, match="migrate it first"):
        reg.upsert("2026-W01", week_polygons([]), now=NOW)
    assert _sha(path) == h
    assert reg.migrate() == 0
    assert (tmp_path / "old.gpkg.v0.bak").read_bytes() and _sha(tmp_path / "old.gpkg.v0.bak") == h
    assert reg.check() == schema.SCHEMA_VERSION and reg.meta()["migrated_from"] == "0"
    sites = reg.sites().set_index("site_id")
    assert dict(sites.status) == {"SRL-PETI-000004": "meluas", "SRL-PETI-000007": "tidak_aktif"}
    assert list(sites.quiet_clear_weeks) == [0, 0]  # the clear-week inactivity count starts afresh
    assert len(reg.observations()) == 3
    with pytest.raises(RegistryError, match="no snapshot to rerun"):  # the migrated last week cannot be redone
        reg.upsert("2025-W49", week_polygons([]), now=NOW)
    assert len(reg.sites()) == 2
    reg.upsert("2026-W01", week_polygons([(square(X, Y, 100), "2026-01-01"), (square(X + 3000, Y, 100), "2026-01-01")]),
               now=NOW)
    assert sorted(reg.sites().site_id) == ["SRL-PETI-000004", "SRL-PETI-000007", "SRL-PETI-000008"]
    assert len(reg.observations()) == 5


def test_schema__newer_version_is_refused(tmp_path):
    reg = Registry(tmp_path / "r.gpkg")
    _two_weeks(reg)
    con = sqlite3.connect(reg.path)
    with con:
        con.execute("UPDATE registry_meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(SchemaVersionError, match="newer than this package"):
        reg.sites()


@pytest.mark.parametrize("damage", ["header", "truncate", "page"])
def test_corrupt__detected_and_never_overwritten(tmp_path, damage):
    reg = Registry(tmp_path / "r.gpkg")
    _two_weeks(reg)
    data = bytearray(reg.path.read_bytes())
    if damage == "header":
        data[:16] = b"NOT SQLITE AT AL"
    elif damage == "truncate":
        data = data[: len(data) // 2]
    else:  # scribble over a b-tree page in the middle
        page = 4096 * (len(data) // 4096 // 2)
        data[page:page + 4096] = os.urandom(4096)
    reg.path.write_bytes(bytes(data))
    h = _sha(reg.path)
    with pytest.raises(RegistryCorruptError, match="left untouched"):
        reg.upsert("2026-W03", week_polygons([(square(X, Y, 100), "2026-01-15")]), now=NOW)
    with pytest.raises(RegistryCorruptError):
        reg.check()
    assert _sha(reg.path) == h
    assert not lock_path(reg.path).exists()


def test_registry__not_a_registry(tmp_path):
    path = tmp_path / "other.gpkg"
    con = sqlite3.connect(path)
    with con:
        con.execute("CREATE TABLE t (a)")
    con.close()
    with pytest.raises(RegistryError, match="not a sarolangun-geo registry"):
        Registry(path).sites()
    with pytest.raises(RegistryError, match="does not exist"):
        Registry(tmp_path / "missing.gpkg").meta()
    empty = Registry(tmp_path / "missing.gpkg").sites()
    assert len(empty) == 0 and list(empty.columns[:3]) == ["site_id", "status", "confidence"]
