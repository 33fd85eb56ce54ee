"""Low-level file handling of the registry: validation, reading tables, writing rows.

Used by :mod:`.registry`; kept apart so that the registry module reads as the
workflow (lock -> validate -> work on a copy -> build fresh -> atomic replace).
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from ..errors import RegistryCorruptError, RegistryError, SchemaVersionError
from . import gpkg
from .schema import SCHEMA_VERSION, TABLE_BY_NAME, is_v0

__all__ = ["read_meta", "read_table", "schema_version", "to_multi", "validate_file", "write_meta", "write_rows"]


def validate_file(path: Path, full: bool = True) -> None:
    """Raise :class:`RegistryCorruptError` unless ``path`` is a sound SQLite/GeoPackage file.

    Checks the 100-byte header, that the file is not shorter than the page
    count in the header says (truncation), and ``PRAGMA integrity_check``
    (``quick_check`` with ``full=False``).  Never writes to the file.
    """
    fix = (f"the file is left untouched; restore {path} from a backup (or move it away to start a new "
           "registry) and rerun")
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(100)
    if len(head) < 100 or not head.startswith(gpkg.SQLITE_HEADER):
        raise RegistryCorruptError(f"registry {path} is not an SQLite/GeoPackage file (bad header); {fix}")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    n_pages = int.from_bytes(head[28:32], "big")
    if page_size < 512 or n_pages * page_size > size:
        raise RegistryCorruptError(f"registry {path} is truncated ({size} bytes, header says "
                                   f"{n_pages} pages of {page_size}); {fix}")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            res = con.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise RegistryCorruptError(f"registry {path} cannot be read by SQLite ({exc}); {fix}") from exc
    if [r[0] for r in res] != ["ok"]:
        raise RegistryCorruptError(f"registry {path} fails PRAGMA integrity_check: "
                                   f"{'; '.join(str(r[0]) for r in res[:3])}; {fix}")


def schema_version(con: sqlite3.Connection, path: Path) -> int:
    """Schema version stored in the file (0 for the legacy layout)."""
    if is_v0(con):
        return 0
    try:
        row = con.execute("SELECT value FROM registry_meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError:
        row = None
    if row is None:
        raise RegistryError(f"{path} is a valid SQLite file but not a sarolangun-geo registry (no registry_meta "
                            "table); pass the path of a registry, or a new path to create one")
    version = int(row[0])
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(f"registry {path} has schema version {version}, newer than this package "
                                 f"understands ({SCHEMA_VERSION}); upgrade sarolangun-geo")
    return version


def read_meta(con: sqlite3.Connection) -> dict[str, str]:
    """The ``registry_meta`` table as a dict."""
    return {k: v for k, v in con.execute("SELECT key, value FROM registry_meta ORDER BY fid")}


def write_meta(con: sqlite3.Connection, meta: dict[str, str]) -> None:
    """Replace the ``registry_meta`` table (keys sorted, so fids are deterministic)."""
    con.execute("DELETE FROM registry_meta")
    con.executemany("INSERT INTO registry_meta (fid, key, value) VALUES (?,?,?)",
                    [(i + 1, k, str(v)) for i, (k, v) in enumerate(sorted(meta.items()))])


def read_table(con: sqlite3.Connection, name: str, where: str = "", params: tuple = ()) -> pd.DataFrame:
    """All rows of a registry table ordered by ``fid``; geometry decoded into ``geometry``."""
    table = TABLE_BY_NAME[name]
    cols = table.column_names
    rows = con.execute(f"SELECT {', '.join(cols)} FROM {name} {where} ORDER BY fid", params).fetchall()
    df = pd.DataFrame(rows, columns=cols)
    if table.geometry_type:
        df["geometry"] = gpkg.decode(df.pop("geom").tolist()) if len(df) else pd.Series(dtype=object)
    return df


def to_multi(geoms: Any) -> np.ndarray:
    """Polygons promoted to MultiPolygons (other types unchanged)."""
    arr = np.asarray(geoms, dtype=object)
    out = arr.copy()
    for i, g in enumerate(arr):
        if g is not None and g.geom_type == "Polygon":
            out[i] = shapely.MultiPolygon([g])
    return out


def _py(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (np.integer, np.bool_)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else float(v)
    if isinstance(v, bool):
        return int(v)
    return v


def write_rows(con: sqlite3.Connection, name: str, df: pd.DataFrame, fids: Any) -> None:
    """Insert ``df`` into table ``name`` with explicit ``fids`` (missing columns are NULL)."""
    table = TABLE_BY_NAME[name]
    cols = [c for c, _ in table.columns]
    data = df.reindex(columns=cols)
    values = [[_py(v) for v in row] for row in data.itertuples(index=False, name=None)]
    geom: list[Any] = []
    if table.geometry_type:
        geoms = df["geometry"].to_numpy() if "geometry" in df else np.full(len(df), None)
        geom = gpkg.encode(to_multi(geoms) if table.geometry_type == "MULTIPOLYGON" else geoms)
    names = table.column_names
    sql = f"INSERT INTO {name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    rows = []
    for i, (fid, vals) in enumerate(zip(fids, values, strict=True)):
        rows.append([int(fid), geom[i], *vals] if table.geometry_type else [int(fid), *vals])
    con.executemany(sql, rows)
