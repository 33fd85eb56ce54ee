"""The week's rasters: true-colour and evidence COGs, and the report's image overlays.

Inputs are on the canonical grid (checked with :func:`~sarolangun_geo.grid.check_grid`):
``composite`` is an ``xr.Dataset`` with float32 reflectance ``red``, ``green``,
``blue`` on ``(y, x)``; ``evidence`` is the docs §3 Dataset, of which
``confidence`` (uint8, 0..4) and ``score`` (float32, 0..1, NaN nodata) are
published.  These writers are where the lazy arrays are finally computed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import xarray as xr

from .. import aoi
from ..grid import check_grid
from ._io import atomic_write_bytes
from .cog import write_cog_blocks
from .imaging import TRUE_COLOUR, overlay_3857, png_bytes, stretch

__all__ = ["write_evidence_cogs", "write_overlays", "write_truecolour_cog"]

_RGB = ("red", "green", "blue")


def _rgb(composite: xr.Dataset, rows: int = 128) -> np.ndarray:
    """``(3, y, x)`` uint8 true colour (:data:`.imaging.TRUE_COLOUR`) of a (lazy) composite.

    Band by band, and stretched ``rows`` rows at a time: the stretch works in float64,
    so a 1 024-row regency block stretched at once would hold ~100 MB per temporary.
    The values equal ``rgb_from_bands`` of the whole block (the stretch is per pixel).
    """
    names, lo, hi = TRUE_COLOUR
    out: np.ndarray | None = None
    for i, b in enumerate(names):
        band = np.asarray(composite[b].values, dtype="float32")
        if out is None:
            out = np.empty((len(names), *band.shape), dtype="uint8")
        for r in range(0, band.shape[0], rows):
            out[i, r:r + rows] = stretch(band[r:r + rows], lo, hi)
        del band
    assert out is not None
    return out


def write_truecolour_cog(path: str | Path, composite: xr.Dataset) -> Path:
    """uint8 RGB COG of the composite, fixed stretch (:data:`.imaging.TRUE_COLOUR`), nodata 0.

    Computed in row blocks, so a lazy regency composite never sits whole in memory.
    """
    gbox = check_grid(composite)
    _, lo, hi = TRUE_COLOUR
    return write_cog_blocks(path, lambda r0, r1: _rgb(composite.isel(y=slice(r0, r1))), shape=gbox.shape.yx,
                            count=3, dtype="uint8", transform=gbox.affine, crs=str(gbox.crs), nodata=0,
                            descriptions=("red", "green", "blue"),
                            tags={"stretch": f"reflectance {lo}..{hi} -> 1..255, gamma 0.8", "nodata": "0"})


def write_evidence_cogs(week_dir: str | Path, evidence: xr.Dataset) -> dict[str, Path]:
    """``rasters/evidence_confidence.tif`` (uint8 0..4) and ``rasters/evidence_score.tif`` (float32, NaN nodata)."""
    gbox = check_grid(evidence)
    base = Path(week_dir) / "rasters"
    common: dict[str, Any] = dict(shape=gbox.shape.yx, count=1, transform=gbox.affine, crs=str(gbox.crs))

    def rows(var: str):  # type: ignore[no-untyped-def]
        return lambda r0, r1: np.asarray(evidence[var].isel(y=slice(r0, r1)).values)

    return {
        "evidence_confidence": write_cog_blocks(base / "evidence_confidence.tif", rows("confidence"),
                                                dtype="uint8", nodata=None, descriptions=("confidence",),
                                                resampling="MODE", **common,
                                                tags={"values": "0 none, 1 low, 2 medium, 3 high, 4 highest"}),
        "evidence_score": write_cog_blocks(base / "evidence_score.tif", rows("score"), dtype="float32",
                                           nodata=float("nan"), descriptions=("score",), **common,
                                           tags={"units": "0..1 combined evidence"}),
    }


def _scope_overlay(composite: xr.Dataset, geom_32748: Any, max_px: int) -> tuple[bytes, list] | None:
    minx, miny, maxx, maxy = geom_32748.bounds
    sub = composite[list(_RGB)].sel(x=slice(minx, maxx), y=slice(maxy, miny))
    if sub.sizes["x"] < 2 or sub.sizes["y"] < 2:
        return None
    f = max(1, math.ceil(max(sub.sizes["x"], sub.sizes["y"]) / (2 * max_px)))
    if f > 1:
        sub = sub.coarsen(x=f, y=f, boundary="trim").mean()
    xs, ys = sub["x"].values, sub["y"].values
    res = float(xs[1] - xs[0]) if len(xs) > 1 else 10.0 * f
    from affine import Affine

    transform = Affine(res, 0, float(xs[0]) - res / 2, 0, -res, float(ys[0]) + res / 2)
    img, bounds = overlay_3857(_rgb(sub), transform, "EPSG:32748", max_px=max_px)
    if img.max() == 0:
        return None
    return png_bytes(img, alpha_nodata=True), bounds


def write_overlays(week_dir: str | Path, composite: xr.Dataset, scopes: dict[str, gpd.GeoDataFrame],
                   max_px: int = 900) -> dict[str, dict[str, Any] | None]:
    """PNG overlays (EPSG:3857) of the composite for each report scope, in ``reports/img/``.

    Returns ``{scope: {"href": "img/truecolour_<scope>.png", "bounds": [[s, w], [n, e]]}}``
    (``None`` for a scope the composite does not cover).
    """
    check_grid(composite)
    out: dict[str, dict[str, Any] | None] = {}
    for scope, gdf in scopes.items():
        res = _scope_overlay(composite, gdf.to_crs(32748).union_all(), max_px)
        if res is None:
            out[scope] = None
            continue
        png, bounds = res
        name = f"img/truecolour_{scope}.png"
        atomic_write_bytes(Path(week_dir) / "reports" / name, png)
        out[scope] = {"href": name, "bounds": bounds}
    return out


def scopes_geometries() -> dict[str, gpd.GeoDataFrame]:
    """``{"regency": regency outline, <slug>: kecamatan}`` for :func:`write_overlays`."""
    kec = aoi.load_kecamatan()
    return {"regency": aoi.load_regency(), **{s: kec[kec["slug"] == s] for s in kec["slug"]}}


__all__ += ["scopes_geometries"]
