"""The vector world: rivers, roads, villages, rice schemes and oil-palm estates.

All geometry is in EPSG:32748 metres and drawn once per catalog from the seed, over
the simulated area plus a margin, so every tile sees the same world.  River headings
deviate from the valley trend by a noise-driven AR(2) oscillator (a randomised cousin of
Langbein & Leopold's sine-generated curve) with wavelength ≈ 12–20 channel widths, so
bends vary in size and skew like real meanders; the paved road follows
the main valley at a few hundred metres, dirt roads branch off it, villages string
along the road near the river (the Sumatran *dusun* pattern).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon, box
from shapely.ops import substring, unary_union

from .noise import rng_for

__all__ = ["Patch", "River", "Road", "World", "blob", "build_world"]

_RIVER_NAMES = ("Batang Limun", "Batang Asai", "Batang Tembesi", "Batang Merangin", "Batang Pelakar",
                "Sungai Rebah", "Sungai Tiga", "Sungai Tapus")
_TRIB_NAMES = ("Sungai Mensao", "Sungai Mengkadai", "Sungai Ladang", "Sungai Salak", "Sungai Dingin",
               "Sungai Kelumpang", "Sungai Tarap", "Sungai Simpang", "Sungai Rambai", "Sungai Seko")


@dataclass(frozen=True)
class River:
    river_id: str
    name: str
    line: LineString
    width_m: float
    is_main: bool


@dataclass(frozen=True)
class Road:
    road_id: str
    kind: str  # paved | dirt
    name: str
    line: LineString
    width_m: float


@dataclass(frozen=True)
class Patch:
    """A static polygon of the base map (village, rice scheme, estate)."""

    patch_id: str
    kind: str
    geometry: Polygon
    params: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass
class World:
    bounds: tuple[float, float, float, float]  # window (x0, y0, x1, y1)
    rivers: list[River]
    roads: list[Road]
    villages: list[Patch]
    rice: list[Patch]
    estates: list[Patch]

    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def river_polygons(self, main_only: bool = False, grow: float = 0.0) -> Polygon:
        """Union of the river channels (grown by ``grow`` m), prepared for fast predicates."""
        key = ("rivers", main_only, grow)
        if key not in self._cache:
            g = unary_union([r.line.buffer(r.width_m / 2 + grow, cap_style="flat") for r in self.rivers
                             if r.is_main or not main_only])
            shapely.prepare(g)
            self._cache[key] = g
        return self._cache[key]

    def main_channel_near(self, geom: Polygon, grow: float = 3.0) -> Polygon:
        """The main-river channels (grown by ``grow`` m) near ``geom``, from 1 km pieces (fast overlay)."""
        key = ("pieces", grow)
        if key not in self._cache:
            pieces = []
            for r in (r for r in self.rivers if r.is_main):
                for a in np.arange(0.0, r.line.length, 1000.0):
                    seg = substring(r.line, a, min(a + 1050.0, r.line.length))
                    pieces.append(seg.buffer(r.width_m / 2 + grow, cap_style="flat"))
            self._cache[key] = (pieces, shapely.STRtree(pieces))
        pieces, tree = self._cache[key]
        hits = tree.query(geom)
        return unary_union([pieces[i] for i in hits]) if len(hits) else Polygon()

    def occupied(self) -> Polygon:
        """Union of villages, rice schemes and estates."""
        if "occupied" not in self._cache:
            parts = [p.geometry for p in self.villages + self.rice + self.estates]
            g = unary_union(parts) if parts else Polygon()
            shapely.prepare(g)
            self._cache["occupied"] = g
        return self._cache["occupied"]


def reproject_geom(transformer, geom):  # type: ignore[no-untyped-def]
    """Reproject a shapely geometry with a ``pyproj.Transformer`` (``always_xy=True``)."""

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, fn)


def _meander(rng: np.random.Generator, x: float, y: float, heading: float, length: float, width: float,
             bounds: tuple[float, float, float, float], wl_factor: float = 14.0) -> LineString:
    """A meandering centre line: the heading deviation is a noise-driven AR(2) oscillator.

    ``θ_n = 2 r cos(w) θ_{n-1} - r² θ_{n-2} + ε`` is quasi-periodic with wavelength
    ``λ = 2π step / w`` (λ ≈ ``wl_factor`` channel widths) and random amplitude, phase and
    skew, so no two bends are alike (unlike a pure sine-generated curve).
    """
    step = max(8.0, min(width / 2, 25.0))
    lam = wl_factor * max(width, 12.0) * rng.uniform(0.85, 1.25)
    w = 2 * math.pi * step / lam
    r = 1 - step / (0.9 * lam)
    a1, a2 = 2 * r * math.cos(w), -r * r
    sig = 2.4 * math.sqrt((1 - r * r) * ((1 + r * r) ** 2 - a1 * a1) / (1 + r * r))
    trend, t1, t2 = heading, 0.0, 0.0
    pts = [(x, y)]
    x0, y0, x1, y1 = bounds
    for _ in range(int(length / step)):
        trend += -0.003 * (trend - heading) + rng.normal(0, 0.02)
        t1, t2 = float(np.clip(a1 * t1 + a2 * t2 + rng.normal(0, sig), -1.9, 1.9)), t1
        th = trend + t1
        x, y = x + step * math.cos(th), y + step * math.sin(th)
        pts.append((x, y))
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            break
    return LineString(pts).simplify(step / 4)


def blob(rng: np.random.Generator, cx: float, cy: float, area_m2: float, elong: float = 1.0,
         angle: float = 0.0, rough: float = 0.12) -> Polygon:
    """An irregular ellipse-like polygon of about ``area_m2`` (harmonic-perturbed radius)."""
    b = math.sqrt(area_m2 / (math.pi * elong))
    a = elong * b
    th = np.linspace(0, 2 * math.pi, 72, endpoint=False)
    r = np.ones_like(th)
    for k in range(2, 6):
        r += rough / k**0.5 * rng.normal() * np.cos(k * th + rng.uniform(0, 2 * math.pi))
    px, py = a * np.cos(th) * r, b * np.sin(th) * r
    ca, sa = math.cos(angle), math.sin(angle)
    poly = Polygon(np.c_[cx + ca * px - sa * py, cy + sa * px + ca * py]).buffer(0)
    return poly if poly.geom_type == "Polygon" else max(poly.geoms, key=lambda g: g.area)


def _smooth_offset(line: LineString, offset: float, win_m: float = 3000.0) -> LineString:
    n = max(int(line.length / 50), 4)
    pts = np.array([line.interpolate(d).coords[0] for d in np.linspace(0, line.length, n)])
    k = max(3, int(win_m / 50) | 1)
    pad = np.pad(pts, ((k // 2, k // 2), (0, 0)), mode="edge")
    ker = np.ones(k) / k
    sm = np.c_[np.convolve(pad[:, 0], ker, "valid"), np.convolve(pad[:, 1], ker, "valid")]
    d = np.gradient(sm, axis=0)
    nrm = np.c_[-d[:, 1], d[:, 0]] / np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)[:, None]
    return LineString(sm + offset * nrm).simplify(5)


def _rivers(seed: int, b: tuple[float, float, float, float]) -> list[River]:
    rng = rng_for(seed, "rivers")
    x0, y0, x1, y1 = b
    h = y1 - y0
    n_main = max(1, round(h / 22_000))
    outer = (x0 - 4000, y0 - 4000, x1 + 4000, y1 + 4000)
    rivers: list[River] = []
    for i in range(n_main):
        yc = y0 + h * (i + 0.5) / n_main + rng.uniform(-0.12, 0.12) * h / n_main
        width = rng.uniform(40, 80)
        line = _meander(rng, x0 - 3500, yc, rng.uniform(-0.12, 0.12), (x1 - x0) * 2 + 20_000, width,
                        outer)
        # pin the valley: shift the river so that it crosses the window's middle at ``yc``
        xy = np.asarray(line.coords)
        k = int(np.argmin(np.abs(xy[:, 0] - (x0 + x1) / 2)))
        line = shapely.affinity.translate(line, 0, yc - xy[k, 1])
        rivers.append(River(f"R{i + 1:02d}", _RIVER_NAMES[i % len(_RIVER_NAMES)], line, round(width, 1), True))
    k = 0
    for main in list(rivers):
        s = rng.uniform(500, 2500)
        while s < main.line.length:
            p = main.line.interpolate(s)
            q = main.line.interpolate(min(s + 30, main.line.length))
            hd = math.atan2(q.y - p.y, q.x - p.x)
            side = 1 if rng.random() < 0.5 else -1
            head = hd + side * (math.pi / 2 + rng.uniform(-0.6, 0.3))
            w = rng.uniform(8, 24)
            off = main.width_m / 2
            tl = _meander(rng, p.x + off * math.cos(head), p.y + off * math.sin(head), head,
                          rng.uniform(2500, 9000), w, outer, wl_factor=rng.uniform(12, 20))
            line = LineString([p.coords[0], *tl.coords])
            k += 1
            rivers.append(River(f"T{k:03d}", _TRIB_NAMES[k % len(_TRIB_NAMES)], line, round(w, 1), False))
            s += rng.uniform(1800, 4200)
    return rivers


def _roads(seed: int, rivers: list[River], b: tuple[float, float, float, float]) -> list[Road]:
    rng = rng_for(seed, "roads")
    roads: list[Road] = []
    for i, r in enumerate([r for r in rivers if r.is_main]):
        off = rng.choice([-1, 1]) * rng.uniform(280, 650)
        line = _smooth_offset(r.line, off)
        roads.append(Road(f"P{i + 1:02d}", "paved", f"Jalan {r.name}", line, round(rng.uniform(6, 8), 1)))
    k = 0
    for pr in list(roads):
        s = rng.uniform(400, 2000)
        while s < pr.line.length:
            p = pr.line.interpolate(s)
            q = pr.line.interpolate(min(s + 30, pr.line.length))
            hd = math.atan2(q.y - p.y, q.x - p.x)
            head = hd + rng.choice([-1, 1]) * (math.pi / 2 + rng.uniform(-0.5, 0.5))
            pts, x, y = [(p.x, p.y)], p.x, p.y
            for _ in range(int(rng.uniform(800, 4500) / 40)):
                head += rng.normal(0, 0.08)
                x, y = x + 40 * math.cos(head), y + 40 * math.sin(head)
                pts.append((x, y))
            k += 1
            roads.append(Road(f"D{k:03d}", "dirt", f"Jalan Desa {k}", LineString(pts).simplify(3),
                              round(rng.uniform(4, 6), 1)))
            s += rng.uniform(1200, 3500)
    return roads


def _villages(seed: int, rivers: list[River], roads: list[Road]) -> list[Patch]:
    rng = rng_for(seed, "villages")
    water = unary_union([r.line.buffer(r.width_m / 2 + 15) for r in rivers])
    out: list[Patch] = []
    for rd in [r for r in roads if r.kind == "paved"]:
        s = rng.uniform(300, 3000)
        while s < rd.line.length:
            ln = rng.uniform(400, 1300)
            seg = substring(rd.line, s, min(s + ln, rd.line.length))
            poly = seg.buffer(rng.uniform(60, 140), cap_style="round")
            c = seg.interpolate(0.5, normalized=True)
            poly = poly.union(blob(rng, c.x, c.y, rng.uniform(4e4, 1.5e5), 1.3, rng.uniform(0, 3)))
            poly = poly.difference(water)
            if poly.geom_type == "MultiPolygon":
                poly = max(poly.geoms, key=lambda g: g.area)
            out.append(Patch(f"V{len(out) + 1:03d}", "village", poly,
                             {"centre": (c.x, c.y), "road_id": rd.road_id, "s0": s, "s1": s + ln}))
            s += ln + rng.uniform(2500, 6000)
    return out


def _rice(seed: int, rivers: list[River], roads: list[Road], villages: list[Patch],
          bounds: tuple[float, float, float, float], min_rice: int) -> list[Patch]:
    rng = rng_for(seed, "rice")
    mains = [r for r in rivers if r.is_main]
    keepout = unary_union([r.line.buffer(r.width_m / 2 + 25) for r in rivers]
                          + [r.line.buffer(15) for r in roads] + [v.geometry for v in villages])
    out: list[Patch] = []
    for v in villages:
        if rng.random() < 0.25 or not mains:
            continue
        c = Point(v.params["centre"])
        riv = min(mains, key=lambda r: r.line.distance(c))
        q = riv.line.interpolate(riv.line.project(c))
        t = rng.uniform(0.35, 0.7)
        cx, cy = c.x + t * (q.x - c.x), c.y + t * (q.y - c.y)
        ang = math.atan2(q.y - c.y, q.x - c.x) + math.pi / 2
        poly = blob(rng, cx, cy, rng.uniform(6e4, 3.2e5), rng.uniform(1.4, 2.5), ang, 0.1)
        poly = poly.difference(keepout)
        if poly.geom_type == "MultiPolygon":
            poly = max(poly.geoms, key=lambda g: g.area)
        if poly.area < 2e4:
            continue
        out.append(_rice_patch(rng, poly, ang, len(out)))
    x0, y0, x1, y1 = bounds
    inner = shapely.geometry.box(x0 + 100, y0 + 100, x1 - 100, y1 - 100)
    for _ in range(200):  # small windows: make sure some paddy lies inside
        if sum(r.geometry.intersects(inner) for r in out) >= min_rice or not mains:
            break
        riv = mains[int(rng.integers(len(mains)))]
        p = riv.line.interpolate(rng.uniform(0, riv.line.length))
        q = riv.line.interpolate(min(riv.line.project(p) + 30, riv.line.length))
        hd = math.atan2(q.y - p.y, q.x - p.x)
        side = rng.choice([-1, 1])
        off = riv.width_m / 2 + rng.uniform(120, 250)
        cx, cy = p.x - side * off * math.sin(hd), p.y + side * off * math.cos(hd)
        poly = blob(rng, cx, cy, rng.uniform(4e4, 1.2e5), rng.uniform(1.4, 2.2), hd, 0.1).difference(keepout)
        if poly.geom_type == "Polygon" and poly.area > 2e4 and inner.contains(poly.centroid) \
                and not any(poly.intersects(r.geometry) for r in out):
            out.append(_rice_patch(rng, poly, hd, len(out)))
    return out


def _rice_patch(rng: np.random.Generator, poly: Polygon, ang: float, n: int) -> Patch:
    seasons = 2 if rng.random() < 0.45 else 1
    return Patch(f"S{n + 1:03d}", "rice", poly,
                 {"flood_doy": float(rng.uniform(285, 330)), "flood_doy2": float(rng.uniform(95, 125)),
                  "seasons": seasons, "plot_m": float(rng.uniform(35, 70)), "angle": ang})


def _estates(seed: int, b: tuple[float, float, float, float], rivers: list[River], roads: list[Road],
             villages: list[Patch]) -> tuple[list[Patch], list[Road]]:
    rng = rng_for(seed, "estates")
    x0, y0, x1, y1 = b
    area_km2 = (x1 - x0) * (y1 - y0) / 1e6
    keepout = unary_union([r.line.buffer(r.width_m / 2 + 250) for r in rivers if r.is_main]
                          + [v.geometry.buffer(200) for v in villages])
    out: list[Patch] = []
    tracks: list[Road] = []
    n = max(1, round(area_km2 / 60 * rng.uniform(0.7, 1.3)))
    for _ in range(n * 6):
        if len(out) >= n:
            break
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        east = np.clip((cx - 170_000) / 140_000, 0, 1)
        if rng.random() > 0.35 + 0.65 * east:
            continue
        w, h, ang = rng.uniform(1200, 3000), rng.uniform(900, 2200), rng.uniform(-0.3, 0.3)
        rect = shapely.affinity.rotate(box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), ang,
                                       use_radians=True)
        if rect.intersects(keepout) or any(rect.intersects(e.geometry) for e in out):
            continue
        eid = f"E{len(out) + 1:02d}"
        out.append(Patch(eid, "estate", rect, {"angle": ang, "block_m": float(rng.uniform(280, 420)),
                                              "planted": float(rng.uniform(0, 1))}))
        ca, sa = math.cos(ang), math.sin(ang)
        for j, t in enumerate(np.arange(-h / 2, h / 2 + 1, out[-1].params["block_m"])):
            p0 = (cx - ca * w / 2 - sa * t, cy - sa * w / 2 + ca * t)
            p1 = (cx + ca * w / 2 - sa * t, cy + sa * w / 2 + ca * t)
            tracks.append(Road(f"{eid}-{j:02d}", "dirt", f"Jalan Kebun {eid}", LineString([p0, p1]), 5.0))
    return out, tracks


def build_world(seed: int, bounds: tuple[float, float, float, float], min_rice: int = 0) -> World:
    """Draw the static vector world for a window ``(x0, y0, x1, y1)`` in EPSG:32748."""
    rivers = _rivers(seed, bounds)
    roads = _roads(seed, rivers, bounds)
    villages = _villages(seed, rivers, roads)
    rice = _rice(seed, rivers, roads, villages, bounds, min_rice)
    estates, tracks = _estates(seed, bounds, rivers, roads, villages)
    return World(bounds, rivers, roads + tracks, villages, rice, estates)
