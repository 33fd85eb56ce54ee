"""Static layers of one canonical tile: terrain, land cover, fractions, event fields.

A tile is generated with a ``MARGIN``-pixel border so that blurs (sensor PSF and
adjacency), cast shadows and reprojection to EPSG:32747 are seamless across tiles.
Everything here depends only on the world, the events and the seed, never on the
date, so it is computed once per tile and reused for every acquisition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from odc.geo.geobox import GeoBox
from rasterio import features
from scipy import ndimage

from . import terrain
from .events import Event, activation_field
from .noise import fractal, key_of, pixel_uniform, value_noise
from .spectra import Cover
from .world import World

__all__ = ["MARGIN", "TileLayers", "distance_to", "rice_phase_field", "tile_layers"]

MARGIN = 32
_RES = 10.0


@dataclass
class TileLayers:
    """Static per-tile rasters on the tile grid grown by :data:`MARGIN` pixels (float32 unless noted)."""

    tile_id: str
    gbox: GeoBox  # the core tile
    xs: np.ndarray
    ys: np.ndarray
    cover: np.ndarray  # uint8 Cover code
    tex: np.ndarray  # canopy/brightness texture, ~1
    tex2: np.ndarray  # second, band-decorrelating texture, ~0
    dem: np.ndarray
    slope: np.ndarray
    aspect: np.ndarray
    river: np.ndarray  # water fraction 0..1 (all rivers, high water)
    river_main: np.ndarray  # fraction of that water in main rivers
    road: np.ndarray  # road-surface fraction
    paved: np.ndarray  # fraction of road that is paved
    rice_id: np.ndarray  # int16, 0 none
    rice_phase: np.ndarray  # days offset per paddy plot
    rice_fl: np.ndarray  # (3, ny, nx): flood day-of-year of season 1 and 2, number of seasons
    roof: np.ndarray  # roof fraction in villages
    ev_code: np.ndarray  # int32 event code, 0 none
    ev_f: np.ndarray  # activation fraction
    sub: np.ndarray  # PETI partition field 0..1 (pond < 0.38 < mud < 0.58 < tailings)
    plume_code: np.ndarray  # int32 dredge event code, 0 none
    plume_w: np.ndarray  # plume weight 0..1

    @property
    def core(self) -> tuple[slice, slice]:
        return slice(MARGIN, -MARGIN), slice(MARGIN, -MARGIN)


def _grid(gbox: GeoBox, margin: int, res: float) -> tuple[Affine, np.ndarray, np.ndarray, tuple[int, int]]:
    x0 = gbox.affine.c - margin * _RES
    y0 = gbox.affine.f + margin * _RES
    ny = round((gbox.shape[0] * _RES + 2 * margin * _RES) / res)
    nx = round((gbox.shape[1] * _RES + 2 * margin * _RES) / res)
    xs = x0 + (np.arange(nx) + 0.5) * res
    ys = y0 - (np.arange(ny) + 0.5) * res
    return Affine(res, 0, x0, 0, -res, y0), xs, ys, (ny, nx)


def _fraction(geoms: list, gbox: GeoBox, ss: int = 4) -> np.ndarray:
    """Area fraction covered by ``geoms`` on the margin grid (``ss`` x ``ss`` supersampling)."""
    tr, _, _, (ny, nx) = _grid(gbox, MARGIN, _RES / ss)
    shapes = [g for g in geoms if not g.is_empty]
    if not shapes:
        return np.zeros((ny // ss, nx // ss), np.float32)
    m = features.rasterize(shapes, (ny, nx), transform=tr, fill=0, default_value=1, dtype="uint8")
    return m.reshape(ny // ss, ss, nx // ss, ss).mean(axis=(1, 3), dtype=np.float32)


def distance_to(lines: list, gbox: GeoBox, xs: np.ndarray, ys: np.ndarray, pad_m: float = 2500.0,
                res: float = 40.0) -> np.ndarray:
    """Distance (m, capped near ``pad_m``) from pixel centres to the nearest of ``lines``."""
    margin = int(pad_m / _RES)
    tr, _, _, (ny, nx) = _grid(gbox, margin, res)
    if lines:
        m = features.rasterize(lines, (ny, nx), transform=tr, fill=0, default_value=1, dtype="uint8",
                               all_touched=True)
    else:
        m = np.zeros((ny, nx), "uint8")
    d = ndimage.distance_transform_edt(m == 0) * res if m.any() else np.full((ny, nx), pad_m * 2)
    cols = (xs - tr.c) / res - 0.5
    rows = (tr.f - ys) / res - 0.5
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    return ndimage.map_coordinates(d.astype(np.float32), [rr, cc], order=1, mode="nearest")


def _cover(world: World, gbox: GeoBox, xs, ys, seed, d_road, dem, slope) -> np.ndarray:  # type: ignore[no-untyped-def]
    cover = np.full((len(ys), len(xs)), Cover.FOREST, np.uint8)
    n_rub = fractal(xs, ys, 900.0, key_of(seed, "rubber"), octaves=7, min_spacing=15)
    near = np.exp(-d_road / 1300.0)
    steep = np.clip((np.degrees(slope) - 22) / 12, 0, 1)
    cover[(0.55 * n_rub + 1.5 * near - 0.9 * steep) > 0.75] = Cover.RUBBER
    n_sh = fractal(xs, ys, 700.0, key_of(seed, "shrub"), octaves=7, min_spacing=15)
    cover[n_sh > 1.45] = Cover.SHRUB
    cover[(n_sh < -1.9) & (near > 0.4)] = Cover.GRASS
    tr, _, _, shape = _grid(gbox, MARGIN, _RES)

    def burn(geoms: list, value: int) -> None:
        if geoms:
            m = features.rasterize(geoms, shape, transform=tr, fill=0, default_value=1, dtype="uint8")
            cover[m == 1] = value

    tbox = shapely.geometry.box(xs[0], ys[-1], xs[-1], ys[0])
    for est in (e for e in world.estates if e.geometry.intersects(tbox)):
        a, bm = est.params["angle"], est.params["block_m"]
        X, Y = np.meshgrid(xs, ys)
        u = (X * math.cos(a) + Y * math.sin(a)) // bm
        v = (-X * math.sin(a) + Y * math.cos(a)) // bm
        young = (np.sin(u * 12.9898 + v * 78.233) * 43758.5453) % 1 < 0.25
        m = features.rasterize([est.geometry], shape, transform=tr, fill=0, default_value=1, dtype="uint8")
        cover[(m == 1)] = Cover.OIL_PALM
        cover[(m == 1) & young] = Cover.YOUNG_PALM
    burn([v.geometry for v in world.villages], Cover.VILLAGE)
    burn([r.geometry for r in world.rice], Cover.RICE)
    return cover


def rice_phase_field(rp, i: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Days (0-20) by which each paddy plot of rice scheme ``rp`` (1-based ``i``) lags the scheme."""
    a, pm = rp.params["angle"], rp.params["plot_m"]
    X, Y = np.meshgrid(xs, ys)
    u = np.floor((X * math.cos(a) + Y * math.sin(a)) / pm)
    v = np.floor((-X * math.sin(a) + Y * math.cos(a)) / (pm * 0.6))
    return (((np.sin(u * 12.9898 + v * 78.233 + i) * 43758.5453) % 1) * 20).astype(np.float32)


def tile_layers(tile_id: str, gbox: GeoBox, world: World, events: list[Event], seed: int) -> TileLayers:
    """Compute the static layers of one tile (with margin)."""
    tr, xs, ys, shape = _grid(gbox, MARGIN, _RES)
    x0, y1 = tr.c, tr.f
    x1, y0 = x0 + shape[1] * _RES, y1 - shape[0] * _RES
    tbox = shapely.geometry.box(x0, y0, x1, y1)
    big = tbox.buffer(2600)
    mains = [r.line for r in world.rivers if r.is_main and r.line.intersects(big)]
    tribs = [r.line for r in world.rivers if not r.is_main and r.line.intersects(big)]
    d_main = distance_to(mains, gbox, xs, ys)
    d_trib = distance_to(tribs, gbox, xs, ys)
    d_road = distance_to([r.line for r in world.roads if r.line.intersects(big)], gbox, xs, ys)
    z = terrain.dem(xs, ys, d_main, d_trib, seed)
    slope, aspect = terrain.slope_aspect(z, _RES)
    cover = _cover(world, gbox, xs, ys, seed, d_road, z, slope)

    clip = tbox.buffer(200)
    near = [(r, r.line.intersection(clip)) for r in world.rivers if r.line.intersects(clip)]
    river = _fraction([ln.buffer(r.width_m / 2, cap_style="flat") for r, ln in near], gbox)
    main = _fraction([ln.buffer(r.width_m / 2, cap_style="flat") for r, ln in near if r.is_main], gbox)
    river_main = np.where(river > 0, main / np.maximum(river, 1e-6), 0).astype(np.float32)
    clip = tbox.buffer(50)
    rds = [(r, r.line.intersection(clip)) for r in world.roads if r.line.intersects(clip)]
    road = _fraction([ln.buffer(r.width_m / 2) for r, ln in rds], gbox)
    paved = _fraction([ln.buffer(r.width_m / 2) for r, ln in rds if r.kind == "paved"], gbox)
    paved = np.where(road > 0, paved / np.maximum(road, 1e-6), 0).astype(np.float32)

    tex = (1 + 0.06 * fractal(xs, ys, 320.0, key_of(seed, "tex"), octaves=5)
           + 0.16 * (pixel_uniform(xs, ys, key_of(seed, "px")) - 0.5)).astype(np.float32)
    tex2 = (0.5 * value_noise(xs, ys, 60.0, key_of(seed, "tex2"))
            + 0.5 * (pixel_uniform(xs, ys, key_of(seed, "px2")) - 0.5)).astype(np.float32)
    roof = np.clip(0.25 + 0.35 * value_noise(xs, ys, 25.0, key_of(seed, "roof"))
                   + 0.3 * (pixel_uniform(xs, ys, key_of(seed, "roofpx")) - 0.5), 0, 0.8).astype(np.float32)

    rice_id = np.zeros(shape, np.int16)
    rice_phase = np.zeros(shape, np.float32)
    rice_fl = np.zeros((3, *shape), np.float32)
    for i, rp in enumerate(world.rice, 1):
        if not rp.geometry.intersects(tbox):
            continue
        m = features.rasterize([rp.geometry], shape, transform=tr, fill=0, default_value=1, dtype="uint8") == 1
        rice_id[m] = i
        rice_phase[m] = rice_phase_field(rp, i, xs, ys)[m]
        rice_fl[0][m], rice_fl[1][m] = rp.params["flood_doy"], rp.params["flood_doy2"]
        rice_fl[2][m] = rp.params["seasons"]

    ev_code = np.zeros(shape, np.int32)
    ev_f = np.zeros(shape, np.float32)
    for ev in events:  # later events draw over earlier ones; targets come first in the list
        if ev.kind == "sandbar" or not ev.geometry.intersects(tbox):
            continue
        _burn_event(ev, tr, xs, ys, shape, seed, ev_code, ev_f)
    for ev in events:  # sandbars last: they live inside the channel
        if ev.kind == "sandbar" and ev.geometry.intersects(tbox):
            _burn_event(ev, tr, xs, ys, shape, seed, ev_code, ev_f)
    sub = np.clip(0.5 + 0.42 * fractal(xs, ys, 90.0, key_of(seed, "petisub"), octaves=3), 0, 1).astype(np.float32)
    plume_code, plume_w = _plumes(world, events, xs, ys, river, river_main)
    return TileLayers(tile_id, gbox, xs, ys, cover, tex, tex2, z, slope, aspect, river, river_main, road,
                      paved, rice_id, rice_phase, rice_fl, roof, ev_code, ev_f, sub, plume_code, plume_w)


def _burn_event(ev: Event, tr: Affine, xs, ys, shape, seed, ev_code, ev_f) -> None:  # type: ignore[no-untyped-def]
    m = features.rasterize([ev.geometry], shape, transform=tr, fill=0, default_value=1, dtype="uint8") == 1
    if not m.any():
        return
    rows, cols = np.nonzero(m.any(axis=1))[0], np.nonzero(m.any(axis=0))[0]
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    f = activation_field(ev, xs[c0:c1], ys[r0:r1], seed)
    sm = m[r0:r1, c0:c1]
    ev_code[r0:r1, c0:c1][sm] = ev.code
    ev_f[r0:r1, c0:c1][sm] = f[sm]


def _plumes(world: World, events: list[Event], xs, ys, river, river_main):  # type: ignore[no-untyped-def]
    code = np.zeros(river.shape, np.int32)
    w = np.zeros(river.shape, np.float32)
    idx = np.nonzero((river > 0) & (river_main > 0.5))
    if idx[0].size == 0:
        return code, w
    pts = shapely.points(xs[idx[1]], ys[idx[0]])
    tbox = shapely.box(xs[0], ys[-1], xs[-1], ys[0])
    for ev in events:
        if ev.kind != "peti" or not ev.params.get("dredge"):
            continue
        if tbox.distance(shapely.Point(ev.seed_xy)) > 2.5 * ev.params["plume_m"] + 100:
            continue
        riv = next(r for r in world.rivers if r.river_id == ev.params["river_id"])
        reach = riv.line.intersection(tbox.buffer(riv.width_m + 20))  # the local reach only (fast)
        near = shapely.distance(pts, reach) < riv.width_m
        if not near.any():
            continue
        s = shapely.line_locate_point(riv.line, pts[near])
        s0 = riv.line.project(shapely.Point(ev.seed_xy))
        ds = s - s0
        L = ev.params["plume_m"]
        ww = np.where((ds > -80) & (ds < 2.5 * L), np.exp(-np.clip(ds, 0, None) / L), 0).astype(np.float32)
        r, c = idx[0][near], idx[1][near]
        better = ww > w[r, c]
        w[r[better], c[better]] = ww[better]
        code[r[better], c[better]] = ev.code
    return code, w
