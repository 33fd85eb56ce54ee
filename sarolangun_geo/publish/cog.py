"""Cloud-Optimised GeoTIFF writing, block by block, atomic and deterministic.

A regency raster is 11 000 x 14 000 pixels, so rasters are never held whole:
row blocks are computed (this is where lazy dask arrays are finally
evaluated) and written into a tiled staging GeoTIFF, which GDAL's COG driver
then copies with DEFLATE, 512 px blocks and overviews.  GDAL writes no
timestamps, so identical input gives identical bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._io import atomic_path

__all__ = ["COG_CACHE_BYTES", "write_cog", "write_cog_blocks"]

BlockFn = Callable[[int, int], np.ndarray]
#: GDAL block cache (bytes) while a COG is written.  GDAL's default, 5 % of the RAM, lets the
#: copy with overviews of a regency raster cache ~1 GB of blocks, which the process then keeps;
#: the size of the cache does not change the bytes written.
COG_CACHE_BYTES = 128 * 1024**2


def write_cog_blocks(path: str | Path, block: BlockFn, *, shape: tuple[int, int], count: int, dtype: str,
                     transform: Any, crs: Any, nodata: float | int | None, descriptions: tuple[str, ...] = (),
                     tags: Mapping[str, str] | None = None, resampling: str = "AVERAGE",
                     block_rows: int = 1024) -> Path:
    """Write a COG whose rows ``[r0, r1)`` come from ``block(r0, r1)`` as ``(count, r1 - r0, nx)``.

    Parameters
    ----------
    shape
        ``(ny, nx)`` of the raster.
    resampling
        GDAL overview resampling (``AVERAGE`` for imagery, ``MODE`` for classes).
    """
    import rasterio
    import rasterio.shutil
    from rasterio.windows import Window

    ny, nx = shape
    predictor = 3 if np.dtype(dtype).kind == "f" else 2
    with rasterio.Env(GDAL_CACHEMAX=COG_CACHE_BYTES), atomic_path(path) as tmp:
        stage = tmp.with_name(tmp.name + ".stage.tif")
        try:
            with rasterio.open(stage, "w", driver="GTiff", width=nx, height=ny, count=count, dtype=dtype, crs=crs,
                               transform=transform, nodata=nodata, tiled=True, blockxsize=512, blockysize=512,
                               compress="DEFLATE", predictor=predictor, BIGTIFF="IF_SAFER") as dst:
                for r0 in range(0, ny, block_rows):
                    r1 = min(ny, r0 + block_rows)
                    arr = np.asarray(block(r0, r1), dtype=dtype)
                    dst.write(arr.reshape(count, r1 - r0, nx), window=Window(0, r0, nx, r1 - r0))
                for i, d in enumerate(descriptions, start=1):
                    dst.set_band_description(i, d)
                if tags:
                    dst.update_tags(**dict(sorted(tags.items())))
            rasterio.shutil.copy(stage, tmp, driver="COG", compress="DEFLATE", predictor=predictor, blocksize=512,
                                 overview_resampling=resampling, BIGTIFF="IF_SAFER")
        finally:
            stage.unlink(missing_ok=True)
    return Path(path)


def write_cog(path: str | Path, data: np.ndarray, transform: Any, crs: Any, *, nodata: float | int | None,
              descriptions: tuple[str, ...] = (), tags: Mapping[str, str] | None = None,
              resampling: str = "AVERAGE") -> Path:
    """Write an in-memory ``(band, y, x)`` (or ``(y, x)``) array as a COG (see :func:`write_cog_blocks`)."""
    arr = np.asarray(data)
    if arr.ndim == 2:
        arr = arr[None]
    return write_cog_blocks(path, lambda r0, r1: arr[:, r0:r1], shape=arr.shape[1:], count=arr.shape[0],
                            dtype=str(arr.dtype), transform=transform, crs=crs, nodata=nodata,
                            descriptions=descriptions, tags=tags, resampling=resampling)
