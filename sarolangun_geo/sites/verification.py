"""Import field-verification findings from CSV, GeoJSON or XLSX.

Columns (case-insensitive; Indonesian aliases accepted): ``site_id``
(``SRL-PETI-000123``), ``date`` (ISO ``YYYY-MM-DD``, or a date cell in XLSX),
``team``, ``outcome`` in {``confirmed``, ``false_positive``, ``legal``,
``acted_on``}, ``note`` (optional) and ``photo`` (optional reference, alias
``photo_ref``/``foto``).  GeoJSON takes them from each feature's properties.

Every row is validated on its own: bad rows are reported with their line
number (CSV/XLSX: the spreadsheet line, header = line 1; GeoJSON: the feature
number) and the good rows are kept.  Only a file that cannot be read at all
(missing, unknown format, missing required columns) raises
:class:`VerificationImportError`.  Writing is done by
:meth:`.registry.Registry.import_verifications`, append-only, and the exact
same row imported twice is stored once.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import VerificationImportError

__all__ = ["OUTCOMES", "RowError", "VerificationReport", "read_verifications", "validate_rows"]

OUTCOMES = ("confirmed", "false_positive", "legal", "acted_on")
_REQUIRED = ("site_id", "date", "team", "outcome")
_COLUMNS = (*_REQUIRED, "note", "photo")
_ALIASES = {"photo_ref": "photo", "photo_reference": "photo", "foto": "photo", "catatan": "note",
            "tim": "team", "tanggal": "date", "hasil": "outcome", "id_lokasi": "site_id"}
_SITE_RE = re.compile(r"^SRL-PETI-\d{6}$")


@dataclass(frozen=True)
class RowError:
    """One rejected row: ``line`` (file line or feature number), ``column``, ``value``, ``message``."""

    line: int
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.column}={self.value!r}: {self.message}"


@dataclass
class VerificationReport:
    """Outcome of an import: the valid ``rows``, the ``errors``, and what the registry stored.

    ``rows`` columns: ``site_id, date, team, outcome, note, photo, source, line``.
    ``n_added`` / ``n_duplicate`` are filled in by the registry.
    """

    source: str
    n_read: int
    rows: pd.DataFrame
    errors: list[RowError] = field(default_factory=list)
    n_added: int = 0
    n_duplicate: int = 0

    @property
    def ok(self) -> bool:
        """True when no row was rejected."""
        return not self.errors

    def summary(self) -> str:
        """One paragraph for logs and the CLI."""
        head = (f"{self.source}: {self.n_read} rows read, {len(self.rows)} valid, {len(self.errors)} rejected, "
                f"{self.n_added} added, {self.n_duplicate} already in the registry")
        return "\n".join([head, *(f"  {e}" for e in self.errors)])


def _norm_key(k: Any) -> str:
    key = str(k or "").strip().lower().replace(" ", "_")
    return _ALIASES.get(key, key)


def _records_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [_norm_key(h) for h in (reader.fieldnames or [])]
        out = []
        for rec in reader:
            out.append((reader.line_num, {_norm_key(k): v for k, v in rec.items() if k is not None}))
    return header, out


def _records_xlsx(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = wb.worksheets[0].iter_rows(values_only=True)
        header = [_norm_key(h) for h in next(rows, ())]
        out = []
        for i, row in enumerate(rows, start=2):
            if row is None or all(v is None or str(v).strip() == "" for v in row):
                continue
            out.append((i, dict(zip(header, row, strict=False))))
    finally:
        wb.close()
    return header, out


def _records_geojson(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise VerificationImportError(f"{path} is not valid JSON ({exc}); export it again as GeoJSON") from exc
    feats = data.get("features", []) if isinstance(data, dict) else []
    out = [(i + 1, {_norm_key(k): v for k, v in (f.get("properties") or {}).items()}) for i, f in enumerate(feats)]
    header = sorted({k for _, r in out for k in r})
    return header, out


def _date(v: Any) -> str:
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    s = str(v).strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        raise ValueError("expected an ISO date YYYY-MM-DD")
    return dt.date.fromisoformat(s).isoformat()


def _text(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v).strip()


def validate_rows(records: Iterable[tuple[int, dict[str, Any]]], source: str,
                  known_site_ids: set[str] | None = None) -> tuple[pd.DataFrame, list[RowError]]:
    """Validate raw ``(line, record)`` pairs; return (good rows, errors)."""
    good, errors = [], []
    for line, rec in records:
        row_errors = []
        sid = _text(rec.get("site_id")).upper()
        if not _SITE_RE.match(sid):
            row_errors.append(RowError(line, "site_id", sid, "expected an id like SRL-PETI-000123"))
        elif known_site_ids is not None and sid not in known_site_ids:
            row_errors.append(RowError(line, "site_id", sid, "no such site in the registry; check the id"))
        try:
            date = _date(rec.get("date"))
        except ValueError as exc:
            date = ""
            row_errors.append(RowError(line, "date", _text(rec.get("date")), str(exc)))
        team = _text(rec.get("team"))
        if not team:
            row_errors.append(RowError(line, "team", team, "the team is required"))
        outcome = _text(rec.get("outcome")).lower()
        if outcome not in OUTCOMES:
            row_errors.append(RowError(line, "outcome", outcome, f"expected one of {', '.join(OUTCOMES)}"))
        if row_errors:
            errors.extend(row_errors)
            continue
        good.append({"site_id": sid, "date": date, "team": team, "outcome": outcome,
                     "note": _text(rec.get("note")), "photo": _text(rec.get("photo")),
                     "source": source, "line": line})
    return pd.DataFrame(good, columns=[*_COLUMNS, "source", "line"]), errors


def read_verifications(path: str | Path, known_site_ids: set[str] | None = None) -> VerificationReport:
    """Read and validate a verification file (``.csv``, ``.geojson``/``.json``, ``.xlsx``).

    Parameters
    ----------
    path
        The file.
    known_site_ids
        When given, rows naming another site id are rejected.

    Raises
    ------
    VerificationImportError
        The file is missing, of an unknown type, unreadable, or lacks a required column.
    """
    p = Path(path)
    if not p.is_file():
        raise VerificationImportError(f"verification file {p} does not exist; check the path")
    readers = {".csv": _records_csv, ".xlsx": _records_xlsx, ".geojson": _records_geojson,
               ".json": _records_geojson}
    reader = readers.get(p.suffix.lower())
    if reader is None:
        raise VerificationImportError(f"cannot import {p.name}: use a .csv, .xlsx or .geojson file")
    try:
        header, records = reader(p)
    except VerificationImportError:
        raise
    except Exception as exc:
        raise VerificationImportError(f"cannot read {p} ({type(exc).__name__}: {exc}); check that it is a "
                                      f"valid {p.suffix} file") from exc
    missing = [c for c in _REQUIRED if c not in header]
    if records and missing:
        raise VerificationImportError(f"{p.name} lacks the column(s) {missing}; the header must hold "
                                      f"{', '.join(_COLUMNS)} (note and photo optional)")
    rows, errors = validate_rows(records, p.name, known_site_ids)
    return VerificationReport(source=p.name, n_read=len(records), rows=rows, errors=errors)
