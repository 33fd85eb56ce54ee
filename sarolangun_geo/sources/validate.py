"""Cheap checks of local GeoTIFF assets before they enter a lazy load.

A lazy load reads pixels only when someone computes, far from the code that
chose the files; a truncated COG would then fail deep inside dask (or, with
lenient readers, turn into silent nodata).  For assets on the local disk we
therefore open each header up front (milliseconds per file) and check the
dtype, the band count and that every tile's byte range lies inside the file.
Remote assets (``https://``, ``s3://``) are not opened here.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import rasterio
from rasterio.errors import RasterioError

from ..errors import BandError, CorruptAssetError

__all__ = ["check_local_cog", "local_path"]


def local_path(href: str) -> Path | None:
    """The local file behind ``href`` (a path or ``file://`` URL), else ``None``."""
    parsed = urlparse(href)
    if parsed.scheme in ("", "file") or (len(parsed.scheme) == 1 and os.name == "nt"):
        return Path(parsed.path if parsed.scheme == "file" else href)
    return None


def _check_blocks(src: rasterio.io.DatasetReader, size: int, path: Path) -> None:
    """Every tile's (offset + byte count) must lie inside the file."""
    rows, cols = src.block_shapes[0]
    nby, nbx = -(-src.height // rows), -(-src.width // cols)
    end = 0
    for by in range(nby):
        for bx in range(nbx):
            off = src.get_tag_item(f"BLOCK_OFFSET_{bx}_{by}", "TIFF", bidx=1)
            cnt = src.get_tag_item(f"BLOCK_SIZE_{bx}_{by}", "TIFF", bidx=1)
            if off and cnt:
                end = max(end, int(off) + int(cnt))
    if end > size:
        raise CorruptAssetError(
            f"GeoTIFF {path} is truncated: its tiles need {end} bytes but the file has {size}; "
            "download or regenerate the file, or drop that acquisition"
        )


def check_local_cog(path: Path, *, band: str) -> None:
    """Open a local GeoTIFF header and check it can be read as ``band``.

    Raises
    ------
    CorruptAssetError
        Missing, unreadable or truncated file.
    BandError
        More than one band, or a dtype other than uint16 (uint8 or uint16 for
        ``scl``), for example float reflectance where DN are expected.
    """
    if not path.is_file():
        raise CorruptAssetError(f"asset file {path} for band {band!r} does not exist; fix the catalog href "
                                "or restore the file")
    size = path.stat().st_size
    try:
        with rasterio.open(path) as src:
            if src.count != 1:
                raise BandError(f"{path} has {src.count} bands, expected 1 for band {band!r}; "
                                "write one single-band COG per band")
            expect = ("uint8", "uint16") if band == "scl" else ("uint16",)
            if src.dtypes[0] not in expect:
                raise BandError(
                    f"{path} (band {band!r}) is {src.dtypes[0]}, expected {' or '.join(expect)} digital numbers "
                    "(reflectance * 10000, 0 = nodata); re-export it as uint16 DN"
                )
            _check_blocks(src, size, path)
    except RasterioError as exc:
        raise CorruptAssetError(
            f"GeoTIFF {path} (band {band!r}) is corrupt or not a GeoTIFF ({exc}); "
            "download or regenerate the file, or drop that acquisition"
        ) from exc
