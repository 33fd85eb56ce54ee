"""A minimal, deterministic GeoPackage writer and reader on ``sqlite3``.

Why not GDAL?  The registry must be byte-identical when a week is rerun, and
GDAL stamps the current time into ``gpkg_contents`` and lays pages out
according to the history of edits.  Here a registry file is always *built
fresh* (:func:`build`): a new file, the same DDL in the same order, then every
row copied in primary-key order from a working copy.  The bytes are therefore
a function of the logical content only.  The file is a valid GeoPackage 1.2
(``application_id`` ``GPKG``, core tables, EPSG:32748 features) that QGIS and
GDAL open; there is no R-tree index (its triggers need GDAL's SQL functions).

Geometries are GeoPackage binary: ``GP`` header, flags (little endian, xy
envelope), ``srs_id``, envelope, then ISO WKB.
"""

from __future__ import annotations

import os
import sqlite3
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS

__all__ = [
    "GPKG_APPLICATION_ID",
    "GPKG_USER_VERSION",
    "SQLITE_HEADER",
    "Table",
    "build",
    "create_tables",
    "decode",
    "encode",
    "fsync_dir",
]

SQLITE_HEADER = b"SQLite format 3\x00"
GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
GPKG_USER_VERSION = 10200
SRS_ID = 32748
_ENV_LEN = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


@dataclass(frozen=True)
class Table:
    """One user table: name, ``(column, SQL type)`` pairs after ``fid``, geometry type or None.

    ``registered`` tables are listed in ``gpkg_contents`` (visible in QGIS);
    ``unique`` is a tuple of column tuples that get a UNIQUE constraint.
    """

    name: str
    columns: tuple[tuple[str, str], ...]
    geometry_type: str | None = None
    registered: bool = True
    unique: tuple[tuple[str, ...], ...] = ()
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        geom = ["geom"] if self.geometry_type else []
        return ["fid", *geom, *(c for c, _ in self.columns)]

    def ddl(self, schema: str = "main") -> str:
        cols = ["fid INTEGER PRIMARY KEY NOT NULL"]
        if self.geometry_type:
            cols.append(f"geom {self.geometry_type}")
        cols += [f"{c} {t}" for c, t in self.columns]
        cols += [f"UNIQUE ({', '.join(u)})" for u in self.unique]
        return f"CREATE TABLE {schema}.{self.name} ({', '.join(cols)})"


def encode(geoms: Sequence[Any] | np.ndarray) -> list[bytes | None]:
    """Shapely geometries -> GeoPackage binary blobs (None stays None)."""
    arr = np.asarray(geoms, dtype=object)
    wkb = shapely.to_wkb(arr, byte_order=1, flavor="iso")
    bounds = shapely.bounds(arr)
    out: list[bytes | None] = []
    for g, w, b in zip(arr, wkb, bounds, strict=True):
        if g is None:
            out.append(None)
        elif g.is_empty:
            out.append(b"GP\x00" + bytes([0x11]) + struct.pack("<i", SRS_ID) + w)
        else:
            out.append(b"GP\x00\x03" + struct.pack("<i", SRS_ID)
                       + struct.pack("<4d", b[0], b[2], b[1], b[3]) + w)
    return out


def decode(blobs: Sequence[bytes | None]) -> np.ndarray:
    """GeoPackage binary blobs -> array of shapely geometries."""
    wkb: list[bytes | None] = []
    for b in blobs:
        if b is None:
            wkb.append(None)
            continue
        flags = b[3]
        wkb.append(bytes(b[8 + _ENV_LEN[(flags >> 1) & 7]:]))
    return shapely.from_wkb(np.asarray(wkb, dtype=object))


def _srs_rows() -> list[tuple[Any, ...]]:
    undefined = "undefined"
    return [
        ("Undefined cartesian SRS", -1, "NONE", -1, undefined, "undefined cartesian coordinate reference system"),
        ("Undefined geographic SRS", 0, "NONE", 0, undefined, "undefined geographic coordinate reference system"),
        ("WGS 84 geodetic", 4326, "EPSG", 4326, CRS.from_epsg(4326).to_wkt("WKT1_GDAL"),
         "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
        ("WGS 84 / UTM zone 48S", SRS_ID, "EPSG", SRS_ID, CRS.from_epsg(SRS_ID).to_wkt("WKT1_GDAL"),
         "the canonical analysis grid of sarolangun-geo"),
    ]


_CORE_DDL = (
    "CREATE TABLE {s}.gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, "
    "organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, "
    "description TEXT)",
    "CREATE TABLE {s}.gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, "
    "identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL, min_x DOUBLE, "
    "min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER, "
    "CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))",
    "CREATE TABLE {s}.gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, "
    "geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL, "
    "CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name))",
)


def create_tables(con: sqlite3.Connection, tables: Sequence[Table], last_change: str,
                  schema: str = "main") -> None:
    """Create the GeoPackage core tables and ``tables`` (in that order) in ``schema``."""
    for ddl in _CORE_DDL:
        con.execute(ddl.format(s=schema))
    con.executemany(f"INSERT INTO {schema}.gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)", _srs_rows())
    for t in tables:
        con.execute(t.ddl(schema))
        if not t.registered:
            continue
        kind = "features" if t.geometry_type else "attributes"
        con.execute(f"INSERT INTO {schema}.gpkg_contents (table_name, data_type, identifier, description, "
                    "last_change, srs_id) VALUES (?,?,?,?,?,?)",
                    (t.name, kind, t.name, t.description, last_change, SRS_ID if t.geometry_type else None))
        if t.geometry_type:
            con.execute(f"INSERT INTO {schema}.gpkg_geometry_columns VALUES (?,?,?,?,0,0)",
                        (t.name, "geom", t.geometry_type, SRS_ID))


def fsync_dir(path: Path) -> None:
    """fsync a directory so that a rename in it is durable (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def build(out: Path, src: Path | None, tables: Sequence[Table], last_change: str) -> None:
    """Write a fresh GeoPackage at ``out`` holding ``tables`` copied from ``src``.

    The result depends only on the rows of ``src`` (copied in ``fid`` order),
    the table definitions and ``last_change``; it is fsync'ed before return.
    """
    if out.exists():
        out.unlink()
    con = sqlite3.connect(out, isolation_level=None)
    try:
        con.execute("PRAGMA page_size = 4096")
        con.execute("PRAGMA journal_mode = OFF")
        con.execute(f"PRAGMA application_id = {GPKG_APPLICATION_ID}")
        con.execute(f"PRAGMA user_version = {GPKG_USER_VERSION}")
        if src is not None:
            con.execute("ATTACH DATABASE ? AS src", (str(src),))
        con.execute("BEGIN")
        create_tables(con, tables, last_change)
        if src is not None:
            for t in tables:
                cols = ", ".join(t.column_names)
                con.execute(f"INSERT INTO main.{t.name} ({cols}) SELECT {cols} FROM src.{t.name} ORDER BY fid")
        con.execute("COMMIT")
        if src is not None:
            con.execute("DETACH DATABASE src")
    finally:
        con.close()
    fd = os.open(out, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
