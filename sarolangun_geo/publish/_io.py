"""Atomic, deterministic file writing shared by the publish modules.

Every file the publish layer writes goes through :func:`atomic_write_bytes` (or
:func:`atomic_path` for writers that need a path, such as GDAL): the content is
written to a temporary file in the destination folder and moved into place with
:func:`os.replace`, so a reader never sees half a file and a crash leaves the
previous version intact.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "dumps_json", "rel", "sha256_file"]


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file + ``os.replace``); return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """UTF-8 text version of :func:`atomic_write_bytes` (``\\n`` line ends on every OS)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` on success.

    The temporary file keeps the destination's suffix (GDAL and zipfile pick
    the format from it).  On an exception it is removed and ``path`` is untouched.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix or dest.suffix or ".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def dumps_json(obj: Any, indent: int | None = 2) -> str:
    """Deterministic JSON (keys kept in insertion order, UTF-8, trailing newline)."""
    return json.dumps(obj, ensure_ascii=False, indent=indent, allow_nan=False) + "\n"


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def rel(path: str | Path, start: str | Path) -> str:
    """POSIX relative path from folder ``start`` to ``path`` (for hrefs)."""
    return Path(os.path.relpath(path, start)).as_posix()


#: Timestamp written into every zip-based file (XLSX, KMZ, ZIP) so reruns are byte-identical.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def deterministic_zip(entries: list[tuple[str, bytes]]) -> bytes:
    """A zip of ``(name, data)`` entries in the given order, fixed timestamps, DEFLATE."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def normalise_zip(data: bytes, replace: dict[str, tuple[bytes, bytes]] | None = None) -> bytes:
    """Rewrite a zip (e.g. an XLSX) with fixed timestamps; optionally regex-replace in members.

    ``replace`` maps a member name to ``(pattern, replacement)`` bytes (for the
    ``dcterms:modified`` date that openpyxl stamps with the wall clock).
    """
    import io
    import re
    import zipfile

    entries = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            content = zf.read(info.filename)
            if replace and info.filename in replace:
                pat, rep = replace[info.filename]
                content = re.sub(pat, rep, content)
            entries.append((info.filename, content))
    return deterministic_zip(entries)


__all__ += ["ZIP_EPOCH", "deterministic_zip", "normalise_zip"]
