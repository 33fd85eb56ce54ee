"""The canonical analysis grid: one odc-geo ``GeoBox`` for the regency.

Every raster in the project lives on this grid: EPSG:32748 (WGS 84 / UTM 48S)
at 10 m, with pixel edges on multiples of 10 m.  The regency grid covers
x 170 000–310 000 m and y 9 690 000–9 800 000 m, i.e. the regency outline
snapped outward to 10 km, so it is 14 000 x 11 000 pixels.

It is cut into fixed tiles of 1 000 x 1 000 pixels (10 km).  Tile ids are
``x{col:02d}y{row:02d}`` counted from the top-left tile ``x00y00``; because the
grid origin is a constant, a tile id names the same ground on every run.

Sub-grids (a kecamatan, a bbox, a tile) are slices of the regency grid, so they
are pixel-aligned with it by construction.  :func:`check_grid` is the one
helper that stage boundaries call to verify that a raster is on the grid.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any, Literal

from affine import Affine
from odc.geo import CRS
from odc.geo.geobox import GeoBox, GeoboxTiles
from odc.geo.geom import BoundingBox, Geometry, box

from .errors import AOIError, GridMismatchError

__all__ = [
    "CRS_EPSG",
    "GRID_SHAPE",
    "GRID_X0",
    "GRID_Y0",
    "RESOLUTION",
    "TILE_PX",
    "check_grid",
    "parse_tile_id",
    "regency_geobox",
    "regency_tiles",
    "subgrid",
    "tile_geobox",
    "tile_id",
    "tile_ids",
    "tiles_for",
    "to_geometry",
]

CRS_EPSG = 32748
RESOLUTION = 10
TILE_PX = 1000
GRID_X0 = 170_000
GRID_Y0 = 9_800_000  # top edge
GRID_SHAPE = (11_000, 14_000)  # (ny, nx)

_CRS = CRS(f"EPSG:{CRS_EPSG}")


def regency_geobox() -> GeoBox:
    """The whole-regency canonical ``GeoBox`` (11 000 x 14 000 pixels at 10 m)."""
    affine = Affine(RESOLUTION, 0, GRID_X0, 0, -RESOLUTION, GRID_Y0)
    return GeoBox(GRID_SHAPE, affine, _CRS)


def regency_tiles() -> GeoboxTiles:
    """The fixed tiling of the regency grid (1 000 x 1 000 pixel tiles)."""
    return GeoboxTiles(regency_geobox(), (TILE_PX, TILE_PX))


def tile_id(col: int, row: int) -> str:
    """Id of the tile at column ``col`` and row ``row`` (``x03y07``)."""
    return f"x{col:02d}y{row:02d}"


def parse_tile_id(tid: str) -> tuple[int, int]:
    """Inverse of :func:`tile_id`: ``"x03y07" -> (3, 7)``."""
    m = re.fullmatch(r"x(\d{2})y(\d{2})", tid)
    if m is None:
        raise AOIError(f"tile id {tid!r} is not of the form 'x03y07'; list valid ids with grid.tile_ids()")
    col, row = int(m.group(1)), int(m.group(2))
    ny, nx = GRID_SHAPE[0] // TILE_PX, GRID_SHAPE[1] // TILE_PX
    if not (0 <= col < nx and 0 <= row < ny):
        raise AOIError(f"tile id {tid!r} is outside the regency grid (cols 0-{nx - 1}, rows 0-{ny - 1})")
    return col, row


def tile_geobox(tid: str) -> GeoBox:
    """``GeoBox`` of one canonical tile."""
    col, row = parse_tile_id(tid)
    gbox = regency_tiles()[row, col]
    assert isinstance(gbox, GeoBox)
    return gbox


def tile_ids() -> list[str]:
    """All tile ids of the regency grid, row by row."""
    ny, nx = regency_tiles().shape
    return [tile_id(c, r) for r in range(ny) for c in range(nx)]


def _pixel_window(gbox: GeoBox) -> tuple[int, int, int, int]:
    """(row0, col0, row1, col1) of ``gbox`` inside the regency grid; checks alignment."""
    check_grid(gbox)
    col0 = round((gbox.affine.c - GRID_X0) / RESOLUTION)
    row0 = round((GRID_Y0 - gbox.affine.f) / RESOLUTION)
    return row0, col0, row0 + gbox.shape[0], col0 + gbox.shape[1]


def tiles_for(gbox_or_geom: Any) -> list[str]:
    """Ids of the canonical tiles that a sub-grid (or geometry) touches.

    With a geometry, only tiles that intersect it are listed (not all of its
    bounding box), which keeps whole-regency work off empty corner tiles.
    """
    if isinstance(gbox_or_geom, GeoBox):
        r0, c0, r1, c1 = _pixel_window(gbox_or_geom)
        return [tile_id(c, r) for r in range(r0 // TILE_PX, (r1 - 1) // TILE_PX + 1)
                for c in range(c0 // TILE_PX, (c1 - 1) // TILE_PX + 1)]
    geom = to_geometry(gbox_or_geom)
    out = []
    for tid in tiles_for(subgrid(geom, snap="tile")):
        if tile_geobox(tid).extent.intersects(geom):
            out.append(tid)
    return out


def to_geometry(aoi: Any, crs: Any = "EPSG:4326") -> Geometry:
    """Any AOI as an odc-geo ``Geometry`` in the grid CRS.

    Accepts an odc ``Geometry``, a ``GeoBox``, a shapely geometry or a
    ``(minx, miny, maxx, maxy)`` bbox (both in ``crs``, lon/lat by default),
    or a GeoDataFrame/GeoSeries (union of all shapes, in its own CRS).
    """
    if isinstance(aoi, GeoBox):
        return aoi.extent.to_crs(_CRS)
    if isinstance(aoi, Geometry):
        return aoi.to_crs(_CRS)
    if hasattr(aoi, "geometry") and hasattr(aoi, "crs") and hasattr(aoi, "union_all"):
        if aoi.crs is None:
            raise AOIError("the AOI GeoDataFrame has no CRS; set it with .set_crs('EPSG:4326')")
        if len(aoi) == 0:
            raise AOIError("the AOI GeoDataFrame is empty; pass at least one polygon")
        return Geometry(aoi.union_all(), crs=CRS(aoi.crs.to_wkt())).to_crs(_CRS)
    if isinstance(aoi, (tuple, list, BoundingBox)) and len(aoi) == 4:
        minx, miny, maxx, maxy = (float(v) for v in aoi)
        if not (minx < maxx and miny < maxy):
            raise AOIError(f"bbox {tuple(aoi)} is empty or inverted; give (minx, miny, maxx, maxy)")
        return box(minx, miny, maxx, maxy, crs).to_crs(_CRS)
    if hasattr(aoi, "geom_type"):  # shapely
        return Geometry(aoi, crs=crs).to_crs(_CRS)
    raise AOIError(f"cannot use {type(aoi).__name__} as an AOI; pass a bbox, a geometry or a GeoDataFrame")


def subgrid(aoi: Any, snap: Literal["pixel", "tile"] = "pixel", buffer_m: float = 0.0,
            crs: Any = "EPSG:4326") -> GeoBox:
    """The slice of the regency grid that covers ``aoi``.

    Parameters
    ----------
    aoi
        Anything :func:`to_geometry` accepts.
    snap
        ``"pixel"`` for the tightest pixel-aligned window, ``"tile"`` to grow
        it to whole canonical tiles (chunks then coincide with tiles).
    buffer_m
        Grow the AOI by this many metres first.

    Raises
    ------
    AOIError
        If the AOI does not overlap the regency grid.
    """
    geom = to_geometry(aoi, crs)
    if buffer_m:
        geom = geom.buffer(buffer_m)
    if geom.is_empty:
        raise AOIError("the AOI is empty; pass a polygon or bbox with an area")
    minx, miny, maxx, maxy = geom.boundingbox
    ny, nx = GRID_SHAPE
    col0 = max(0, math.floor((minx - GRID_X0) / RESOLUTION))
    col1 = min(nx, math.ceil((maxx - GRID_X0) / RESOLUTION))
    row0 = max(0, math.floor((GRID_Y0 - maxy) / RESOLUTION))
    row1 = min(ny, math.ceil((GRID_Y0 - miny) / RESOLUTION))
    if col0 >= col1 or row0 >= row1:
        raise AOIError(
            f"the AOI (bounds {minx:.0f}, {miny:.0f}, {maxx:.0f}, {maxy:.0f} in EPSG:{CRS_EPSG}) lies outside "
            "Kabupaten Sarolangun's grid; check the coordinates (lon/lat order, CRS)"
        )
    if snap == "tile":
        col0, row0 = (col0 // TILE_PX) * TILE_PX, (row0 // TILE_PX) * TILE_PX
        col1 = min(nx, -(-col1 // TILE_PX) * TILE_PX)
        row1 = min(ny, -(-row1 // TILE_PX) * TILE_PX)
    elif snap != "pixel":
        raise AOIError(f"snap={snap!r} is not valid; use 'pixel' or 'tile'")
    return regency_geobox()[row0:row1, col0:col1]


def _describe(gbox: GeoBox) -> str:
    return f"GeoBox(crs={gbox.crs}, shape={gbox.shape}, affine={tuple(gbox.affine)[:6]})"


def check_grid(obj: Any, expected: GeoBox | None = None) -> GeoBox:
    """Check that ``obj`` sits on the canonical grid; return its ``GeoBox``.

    ``obj`` may be a ``GeoBox`` or an xarray object with odc-geo's ``.odc``
    accessor.  With ``expected``, the geobox must also equal it exactly.

    Raises
    ------
    GridMismatchError
        With the CRS, resolution or offset found and the fix.
    """
    gbox = obj if isinstance(obj, GeoBox) else getattr(getattr(obj, "odc", None), "geobox", None)
    if gbox is None:
        raise GridMismatchError(
            f"{type(obj).__name__} carries no geobox; load it with sources.load_cube or assign one "
            "with xr_coords(grid.subgrid(...))"
        )
    if gbox.crs is None or gbox.crs.epsg != CRS_EPSG:
        raise GridMismatchError(
            f"raster CRS is {gbox.crs}, expected EPSG:{CRS_EPSG}; reproject onto grid.subgrid(...) at load time"
        )
    a = gbox.affine
    if not (math.isclose(a.a, RESOLUTION) and math.isclose(a.e, -RESOLUTION) and a.b == 0 and a.d == 0):
        raise GridMismatchError(
            f"raster resolution is ({a.a}, {a.e}), expected ({RESOLUTION}, -{RESOLUTION}) m; "
            "reload it on grid.subgrid(...)"
        )
    dx, dy = (a.c - GRID_X0) / RESOLUTION, (GRID_Y0 - a.f) / RESOLUTION
    if not (math.isclose(dx, round(dx), abs_tol=1e-6) and math.isclose(dy, round(dy), abs_tol=1e-6)):
        raise GridMismatchError(
            f"raster origin ({a.c}, {a.f}) is not on the 10 m grid; snap it with grid.subgrid(...)"
        )
    if expected is not None and gbox != expected:
        raise GridMismatchError(f"raster is on {_describe(gbox)}, expected {_describe(expected)}; "
                                "align both to the same grid.subgrid(...)")
    return gbox


def iter_tile_geoboxes(gbox: GeoBox) -> Iterator[tuple[str, GeoBox]]:
    """(tile id, tile-clipped GeoBox) for every canonical tile a sub-grid touches."""
    r0, c0, r1, c1 = _pixel_window(gbox)
    for tid in tiles_for(gbox):
        col, row = parse_tile_id(tid)
        tr0, tc0 = max(r0, row * TILE_PX), max(c0, col * TILE_PX)
        tr1, tc1 = min(r1, (row + 1) * TILE_PX), min(c1, (col + 1) * TILE_PX)
        yield tid, regency_geobox()[tr0:tr1, tc0:tc1]


__all__.append("iter_tile_geoboxes")
