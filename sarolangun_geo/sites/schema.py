"""Registry schema (version 1), the legacy v0 layout and the v0 -> v1 migration.

The schema version is stored in the file, in table ``registry_meta``
(``key = 'schema_version'``); ``PRAGMA user_version`` belongs to GeoPackage
(10200) and is not used for it.

**v0** (the pilot registry, no ``registry_meta``): a GeoPackage with
``sites(fid, geom, site_id, status, area_ha, first_seen, last_seen)`` where
``status`` was English (``new``, ``active``, ``growing``, ``stopped``) and
``observations(fid, geom, site_id, week, area_ha, status)``.
:func:`migrate_v0` maps statuses to the v1 names, fills the new columns with
neutral values (``quiet_clear_weeks`` = 0: the clear-week inactivity count starts
afresh) and copies every observation into ``site_observations`` (event
``migrated``): no history is dropped.  :func:`create_v0` writes such a file
(for tests and for documenting the layout).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import shapely

from . import gpkg
from .gpkg import Table

__all__ = [
    "SCHEMA_VERSION",
    "SITE_COLUMNS",
    "SNAPSHOT_TABLES",
    "TABLES",
    "TABLE_BY_NAME",
    "V0_STATUS",
    "create_v0",
    "is_v0",
    "migrate_v0",
]

SCHEMA_VERSION = 1

SITE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("site_id", "TEXT NOT NULL UNIQUE"), ("status", "TEXT NOT NULL"), ("confidence", "INTEGER"),
    ("area_ha", "REAL"), ("max_area_ha", "REAL"), ("prev_area_ha", "REAL"), ("growth", "REAL"),
    ("first_seen", "TEXT"), ("last_seen", "TEXT"), ("last_week", "TEXT"),
    ("kecamatan", "TEXT"), ("kode_kemendagri_kec", "TEXT"), ("kode_bps_kec", "TEXT"),
    ("desa", "TEXT"), ("kode_desa", "TEXT"), ("lat", "REAL"), ("lon", "REAL"),
    ("lat_dms", "TEXT"), ("lon_dms", "TEXT"), ("dist_water_m", "REAL"), ("dist_road_m", "REAL"),
    ("dist_settlement_m", "REAL"), ("legality", "TEXT"), ("legality_detail", "TEXT"),
    ("priority", "REAL"), ("priority_rank", "INTEGER"), ("n_confirm", "INTEGER"), ("obs_dates", "TEXT"),
    ("evidence", "TEXT"), ("d_ndvi", "REAL"), ("d_bsi", "REAL"), ("d_mndwi", "REAL"), ("d_ndti", "REAL"),
    ("kinds", "INTEGER"), ("footprint_d_ndvi", "REAL"), ("verification", "TEXT"),
    ("verification_date", "TEXT"), ("verified_area_ha", "REAL"), ("suppressed", "INTEGER"),
    ("recurrence", "INTEGER"), ("parent_id", "TEXT"), ("merged_ids", "TEXT"), ("merged_into", "TEXT"),
    ("quiet_clear_weeks", "INTEGER"),
)

_ROAD_SEG = (("segment_id", "TEXT NOT NULL UNIQUE"), ("road_id", "TEXT"), ("first_week", "TEXT"),
             ("last_week", "TEXT"))

TABLES: tuple[Table, ...] = (
    Table("registry_meta", (("key", "TEXT NOT NULL UNIQUE"), ("value", "TEXT")),
          description="schema version, id counter, latest week"),
    Table("sites", SITE_COLUMNS, "MULTIPOLYGON", description="current state of every PETI site"),
    Table("site_observations", (
        ("week", "TEXT NOT NULL"), ("site_id", "TEXT NOT NULL"), ("event", "TEXT"), ("detected", "INTEGER"),
        ("status", "TEXT"), ("confidence", "INTEGER"), ("area_ha", "REAL"), ("d_ndvi", "REAL"),
        ("d_bsi", "REAL"), ("d_mndwi", "REAL"), ("d_ndti", "REAL"), ("n_confirm", "INTEGER"),
        ("last_detected", "TEXT"), ("priority", "REAL"), ("suppressed", "INTEGER")),
        "MULTIPOLYGON", unique=(("week", "site_id"),), description="weekly history of each site"),
    Table("verifications", (
        ("site_id", "TEXT NOT NULL"), ("date", "TEXT NOT NULL"), ("team", "TEXT NOT NULL"),
        ("outcome", "TEXT NOT NULL"), ("note", "TEXT"), ("photo", "TEXT"), ("source", "TEXT"),
        ("line", "INTEGER"), ("site_area_ha", "REAL"), ("after_week", "TEXT"),
        ("row_hash", "TEXT NOT NULL UNIQUE")), description="field verification (append-only)"),
    Table("road_segments", _ROAD_SEG, "GEOMETRY", description="road segments scored for damage"),
    Table("road_scores", (
        ("week", "TEXT NOT NULL"), ("segment_id", "TEXT NOT NULL"), ("road_id", "TEXT"), ("score", "REAL"),
        ("confidence", "INTEGER"), ("damaged", "INTEGER"), ("water", "REAL"), ("bare", "REAL"),
        ("veg_loss", "REAL"), ("surface_change", "REAL"), ("n_clear", "INTEGER")),
        unique=(("week", "segment_id"),), description="weekly road-damage scores"),
    Table("runs", (
        ("week", "TEXT NOT NULL UNIQUE"), ("input_hash", "TEXT"), ("config_hash", "TEXT"),
        ("package_version", "TEXT"), ("sources", "TEXT"), ("items", "TEXT"), ("n_polygons", "INTEGER"),
        ("n_new", "INTEGER"), ("n_merged", "INTEGER"), ("n_split", "INTEGER"), ("n_sites", "INTEGER"),
        ("created_utc", "TEXT")), description="provenance of each weekly run"),
    Table("_prev_sites", SITE_COLUMNS, "MULTIPOLYGON", registered=False),
    Table("_prev_road_segments", _ROAD_SEG, "GEOMETRY", registered=False),
)
TABLE_BY_NAME = {t.name: t for t in TABLES}
#: Tables whose state before the latest week is kept, so that the latest week can be rerun.
SNAPSHOT_TABLES = ("sites", "road_segments")

V0_STATUS = {"new": "baru", "active": "aktif", "growing": "meluas", "stopped": "tidak_aktif"}
_V0_TABLES = (
    Table("sites", (("site_id", "TEXT NOT NULL UNIQUE"), ("status", "TEXT"), ("area_ha", "REAL"),
                    ("first_seen", "TEXT"), ("last_seen", "TEXT")), "POLYGON"),
    Table("observations", (("site_id", "TEXT"), ("week", "TEXT"), ("area_ha", "REAL"), ("status", "TEXT")),
          "POLYGON"),
)


def create_v0(path: Path, sites: list[tuple], observations: list[tuple]) -> None:
    """Write a v0 registry (see the module docstring) for tests and documentation.

    ``sites`` rows: ``(site_id, status, area_ha, first_seen, last_seen, shapely polygon)``;
    ``observations`` rows: ``(site_id, week, area_ha, status, shapely polygon)``.
    """
    con = sqlite3.connect(path)
    with con:
        con.execute(f"PRAGMA application_id = {gpkg.GPKG_APPLICATION_ID}")
        gpkg.create_tables(con, _V0_TABLES, "2025-01-01T00:00:00.000Z")
        blobs = gpkg.encode([r[-1] for r in sites])
        con.executemany("INSERT INTO sites VALUES (?,?,?,?,?,?,?)",
                        [(i + 1, b, *r[:-1]) for i, (r, b) in enumerate(zip(sites, blobs, strict=True))])
        blobs = gpkg.encode([r[-1] for r in observations])
        con.executemany("INSERT INTO observations VALUES (?,?,?,?,?,?)",
                        [(i + 1, b, *r[:-1]) for i, (r, b) in enumerate(zip(observations, blobs, strict=True))])
    con.close()


def is_v0(con: sqlite3.Connection) -> bool:
    """True for a v0 registry: ``sites`` and ``observations`` tables, no ``registry_meta``."""
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return "registry_meta" not in names and {"sites", "observations"} <= names


def migrate_v0(con: sqlite3.Connection) -> None:
    """Migrate a v0 registry to v1 in place on ``con`` (a working copy), inside one transaction."""
    con.execute("ALTER TABLE sites RENAME TO _v0_sites")
    con.execute("ALTER TABLE observations RENAME TO _v0_observations")
    for t in TABLES:
        con.execute(t.ddl())
    case = "CASE status " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in V0_STATUS.items()) + " ELSE 'aktif' END"
    con.execute(
        "INSERT INTO sites (fid, geom, site_id, status, confidence, area_ha, max_area_ha, prev_area_ha, growth, "
        "first_seen, last_seen, legality, legality_detail, priority, priority_rank, n_confirm, obs_dates, evidence, "
        "kinds, verification, suppressed, recurrence, quiet_clear_weeks) "
        f"SELECT fid, geom, site_id, {case}, 0, area_ha, area_ha, area_ha, 1.0, first_seen, last_seen, "
        "'tidak_diketahui', '', 0.0, 0, 0, '', 'migrated from schema v0', 0, '', 0, 0, 0 FROM _v0_sites")
    con.execute(
        "INSERT INTO site_observations (fid, geom, week, site_id, event, detected, status, confidence, area_ha, "
        "suppressed) "
        f"SELECT fid, geom, week, site_id, 'migrated', 1, {case}, 0, area_ha, 0 FROM _v0_observations")
    for table in ("sites", "site_observations"):  # v1 stores MultiPolygons
        rows = con.execute(f"SELECT fid, geom FROM {table} WHERE geom IS NOT NULL").fetchall()
        geoms = [shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g for g in gpkg.decode([r[1] for r in rows])]
        blobs = gpkg.encode(geoms)
        con.executemany(f"UPDATE {table} SET geom = ? WHERE fid = ?",
                        [(b, r[0]) for r, b in zip(rows, blobs, strict=True)])
    last = con.execute("SELECT max(week) FROM _v0_observations").fetchone()[0] or ""
    nums = [int(r[0].rsplit("-", 1)[-1]) for r in con.execute("SELECT site_id FROM _v0_sites")
            if r[0].rsplit("-", 1)[-1].isdigit()]
    con.execute("UPDATE sites SET last_week = ?", (last,))
    meta = [("schema_version", str(SCHEMA_VERSION)), ("next_site_id", str(max(nums, default=0) + 1)),
            ("latest_week", last), ("migrated_from", "0")]
    con.executemany("INSERT INTO registry_meta (fid, key, value) VALUES (?,?,?)",
                    [(i + 1, k, v) for i, (k, v) in enumerate(meta)])
    con.execute("DROP TABLE _v0_sites")
    con.execute("DROP TABLE _v0_observations")
