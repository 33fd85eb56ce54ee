"""Changes over time: PETI sites and road damage (targets) and their confounders.

Each event has a maximum footprint (a polygon in EPSG:32748), a start, an optional
end, and an *activation field* ``f(x, y)`` in [0, 1]: a pixel of the footprint has
changed once ``date >= start + grow_days * f``.  The same function drives the pixels
(:mod:`.scene`) and the truth (:mod:`.truth`), so the truth is what the pixels show.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import Point, Polygon
from shapely.ops import substring, unary_union

from .config import SimConfig
from .noise import key_of, rng_for, value_noise
from .spectra import river_stage
from .world import World, blob

__all__ = [
    "TARGET_KINDS",
    "Event",
    "activation_field",
    "is_active",
    "place_events",
    "sandbar_exposed",
    "stage_jitter",
]

TARGET_KINDS = frozenset({"peti", "road_damage"})


@dataclass(frozen=True)
class Event:
    event_id: str
    kind: str
    code: int  # 1-based raster code
    geometry: Polygon
    start: dt.date
    end: dt.date | None
    grow_days: float
    seed_xy: tuple[float, float]
    rmax: float
    params: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_target(self) -> bool:
        return self.kind in TARGET_KINDS


def _rand_date(rng: np.random.Generator, a: dt.date, b: dt.date, wet_bias: float = 0.0) -> dt.date:
    for _ in range(20):
        d = a + dt.timedelta(days=int(rng.integers(0, max(1, (b - a).days) + 1)))
        if wet_bias <= 0 or d.month in (10, 11, 12, 1, 2, 3) or rng.random() > wet_bias:
            return d
    return d


def _window_poly(world: World, inset: float) -> Polygon:
    x0, y0, x1, y1 = world.bounds
    return shapely.geometry.box(x0 + inset, y0 + inset, x1 - inset, y1 - inset)


def _count(rate: float, area_km2: float, minimum: int, rng: np.random.Generator) -> int:
    return max(minimum, int(rng.poisson(rate * area_km2 / 100.0)))


def place_events(world: World, cfg: SimConfig, dem_at) -> list[Event]:  # type: ignore[no-untyped-def]
    """Draw every event for the catalog (targets and confounders, excluding rice).

    ``dem_at(x, y) -> (slope_deg, aspect_rad)`` gives the terrain at a point.
    """
    rng = rng_for(cfg.seed, "events")
    S, E = cfg.start_date, cfg.end_date
    x0, y0, x1, y1 = world.bounds
    area = (x1 - x0) * (y1 - y0) / 1e6
    mains = world.river_polygons(main_only=True, grow=3.0)
    taken = [world.occupied().buffer(40)]
    road_buf = unary_union([r.line.buffer(r.width_m / 2 + 20) for r in world.roads])
    inner = _window_poly(world, 150)
    events: list[Event] = []

    def add(kind: str, geom: Polygon, start: dt.date, end: dt.date | None, grow: float,
            seed_xy: tuple[float, float], **params: object) -> None:
        rmax = max(Point(seed_xy).distance(Point(c)) for c in geom.exterior.coords) + 1
        events.append(Event(f"{kind.upper()}-{len(events) + 1:04d}", kind, len(events) + 1, geom, start, end,
                            grow, seed_xy, rmax, dict(params)))
        taken.append(geom.buffer(60))

    def free(geom: Polygon, avoid_roads: bool = True) -> bool:
        if geom.is_empty or not inner.contains(geom.centroid):
            return False
        if any(geom.intersects(t) for t in taken):
            return False
        return not (avoid_roads and geom.intersects(road_buf))

    # --- PETI: clusters of pits, ponds and tailings along rivers and up valleys
    lo, hi = cfg.peti_area_ha
    for _ in range(_count(cfg.peti_per_100km2, area, cfg.min_peti, rng)):
        for _try in range(80):
            riv = world.rivers[int(rng.integers(len(world.rivers)))]
            s = rng.uniform(0, riv.line.length)
            p, q = riv.line.interpolate(s), riv.line.interpolate(min(s + 25, riv.line.length))
            if not inner.contains(p):
                continue
            hd = math.atan2(q.y - p.y, q.x - p.x)
            a_ha = math.exp(rng.uniform(math.log(lo), math.log(hi)))
            elong = rng.uniform(1.3, 2.8)
            b = math.sqrt(a_ha * 1e4 / (math.pi * elong))
            side = rng.choice([-1, 1])
            off = (riv.width_m / 2 + b * 0.9 + rng.uniform(5, 60)) if riv.is_main else rng.uniform(0, b * 0.6)
            cx, cy = p.x - side * off * math.sin(hd), p.y + side * off * math.cos(hd)
            geom = blob(rng, cx, cy, a_ha * 1e4, elong, hd, 0.18)
            if geom.intersects(mains):  # cut the channel out, using only the local reach (fast)
                geom = geom.difference(world.main_channel_near(geom))
            if geom.geom_type != "Polygon" or not free(geom):
                continue
            if rng.random() < cfg.preexisting_fraction:  # already being mined when the record starts
                start = _rand_date(rng, S - dt.timedelta(days=120), S)
            else:
                start = _rand_date(rng, S + dt.timedelta(days=30), E - dt.timedelta(days=20))
            grow = float(np.clip(25 + 55 * math.sqrt(a_ha / 5), 20, 160))
            end = None
            if rng.random() < cfg.stop_fraction:
                e = start + dt.timedelta(days=int(grow + rng.uniform(20, 200)))
                end = e if e < E - dt.timedelta(days=10) else None
            near = geom.exterior.interpolate(geom.exterior.project(p))
            dredge = bool(riv.is_main and rng.random() < cfg.dredge_fraction)
            add("peti", geom, start, end, grow, (near.x, near.y), river_id=riv.river_id,
                dredge=dredge, plume_m=float(rng.uniform(1500, 4000)) if dredge else 0.0,
                setting="riverbank" if riv.is_main else "valley")
            break

    # --- road damage: mud/potholes along stretches, or a landslide across the road
    for _ in range(_count(cfg.road_damage_per_100km2, area, cfg.min_road_damage, rng)):
        for _try in range(60):
            rd = world.roads[int(rng.integers(len(world.roads)))]
            if rd.line.length < 300:
                continue
            s = rng.uniform(0, rd.line.length - 200)
            ln = rng.uniform(80, 500)
            seg = substring(rd.line, s, min(s + ln, rd.line.length))
            start = _rand_date(rng, S + dt.timedelta(days=15), E - dt.timedelta(days=10), wet_bias=0.7)
            end = start + dt.timedelta(days=int(rng.uniform(40, 160))) if rng.random() < 0.3 else None
            end = end if end is None or end < E else None
            if rng.random() < 0.25:
                c = seg.interpolate(0.5, normalized=True)
                q = seg.interpolate(0.55, normalized=True)
                hd = math.atan2(q.y - c.y, q.x - c.x) + math.pi / 2
                geom, cause, grow = blob(rng, c.x, c.y, rng.uniform(3e3, 1.5e4), rng.uniform(1.8, 3), hd), \
                    "landslide", 2.0
            else:
                geom, cause, grow = seg.buffer(rd.width_m / 2 + 6, cap_style="flat"), "surface", \
                    float(rng.uniform(10, 60))
                c = seg.interpolate(0.5, normalized=True)
            if not inner.contains(geom.centroid) or any(geom.intersects(t) for t in taken[1:]):
                continue
            add("road_damage", geom, start, end, grow, (c.x, c.y), road_id=rd.road_id, cause=cause,
                road_kind=rd.kind)
            break

    n_conf = cfg.min_confounders
    # --- plantation clearing and replanting: large regular blocks, no water
    for _ in range(_count(cfg.clearing_per_100km2, area, n_conf, rng)):
        for _try in range(60):
            est = world.estates[int(rng.integers(len(world.estates)))] if world.estates and rng.random() < 0.6 \
                else None
            ang = est.params["angle"] if est else rng.uniform(-0.5, 0.5)
            c = est.geometry.centroid if est else Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
            cx, cy = c.x + rng.uniform(-500, 500), c.y + rng.uniform(-400, 400)
            w, h = rng.uniform(300, 900), rng.uniform(220, 600)
            geom = shapely.affinity.rotate(shapely.geometry.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2),
                                           ang, use_radians=True)
            if est is None and (geom.intersects(world.occupied()) or not free(geom, False)):
                continue
            if est is not None and not (inner.contains(geom.centroid) and
                                        not any(geom.intersects(t) for t in taken[1:])):
                continue
            if geom.intersects(world.river_polygons(grow=40)):
                continue
            start = _rand_date(rng, S - dt.timedelta(days=30), E - dt.timedelta(days=30))
            sx, sy = cx - math.cos(ang) * w / 2, cy - math.sin(ang) * w / 2
            add("plantation_clearing", geom, start, None, float(rng.uniform(20, 50)), (sx, sy),
                angle=ang, length=w, replant=("oil_palm" if rng.random() < 0.7 else "rubber"),
                in_estate=est is not None)
            break

    # --- landslides on steep slopes, away from roads (no water)
    for _ in range(_count(cfg.landslide_per_100km2, area, n_conf, rng)):
        for _try in range(200):
            cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
            slope, aspect = dem_at(cx, cy)
            if slope < (16 if _try < 150 else 8):
                continue
            hd = math.pi / 2 - aspect  # downslope direction in math angle
            geom = blob(rng, cx, cy, rng.uniform(3e3, 2.5e4), rng.uniform(2.0, 3.5), hd, 0.15)
            if not free(geom) or geom.intersects(world.river_polygons(grow=30)):
                continue
            start = _rand_date(rng, S + dt.timedelta(days=10), E - dt.timedelta(days=20), wet_bias=0.7)
            add("landslide", geom, start, None, 2.0, (cx, cy), slope_deg=round(slope, 1))
            break

    # --- village growth: new houses at a village edge along its road
    for _ in range(_count(cfg.village_growth_per_100km2, area, n_conf, rng)):
        if not world.villages:
            break
        for _try in range(40):
            v = world.villages[int(rng.integers(len(world.villages)))]
            rd = next(r for r in world.roads if r.road_id == v.params["road_id"])
            fwd = rng.random() < 0.5
            a = v.params["s1"] if fwd else v.params["s0"] - 400
            seg = substring(rd.line, max(0, a - 50), min(rd.line.length, a + rng.uniform(200, 450)))
            geom = seg.buffer(rng.uniform(50, 110)).difference(v.geometry).difference(
                world.river_polygons(grow=15))
            if geom.geom_type != "Polygon" or not inner.contains(geom.centroid):
                continue
            if any(geom.intersects(t) for t in taken[1:]):
                continue
            start = _rand_date(rng, S - dt.timedelta(days=60), E - dt.timedelta(days=60))
            p = seg.interpolate(0.0 if fwd else 1.0, normalized=True)
            add("village_growth", geom, start, None, float(rng.uniform(150, 400)), (p.x, p.y),
                village=v.patch_id)
            break

    # --- dry-season sandbars on the inner bank of main-river bends
    for riv in [r for r in world.rivers if r.is_main]:
        ch = riv.line.buffer(riv.width_m / 2, cap_style="flat")
        n, last_s = 0, -1e9
        for s in np.arange(200.0, riv.line.length - 200, 40.0):
            pts = [riv.line.interpolate(s + d) for d in (-120, 0, 120)]
            h1 = math.atan2(pts[1].y - pts[0].y, pts[1].x - pts[0].x)
            h2 = math.atan2(pts[2].y - pts[1].y, pts[2].x - pts[1].x)
            turn = (h2 - h1 + math.pi) % (2 * math.pi) - math.pi
            if abs(turn) < 0.55 or not inner.contains(pts[1]) or rng.random() < 0.85:
                continue
            if s - last_s < 900:  # bars are at least ~900 m apart along the river
                continue
            side = 1 if turn > 0 else -1  # inner bank is on the turning side
            hn = h1 + side * math.pi / 2
            cx = pts[1].x + math.cos(hn) * riv.width_m * 0.55
            cy = pts[1].y + math.sin(hn) * riv.width_m * 0.55
            geom = blob(rng, cx, cy, math.pi * (riv.width_m * rng.uniform(0.9, 1.6)) ** 2 * 0.6, 1.8, h1, 0.1)
            geom = geom.intersection(ch)
            if geom.geom_type != "Polygon" or geom.area < 1500 or any(geom.intersects(t) for t in taken[1:]):
                continue
            add("sandbar", geom, S, None, 0.0, (cx, cy), river_id=riv.river_id)
            n, last_s = n + 1, s
    return events


def activation_field(ev: Event, xs: np.ndarray, ys: np.ndarray, seed: int) -> np.ndarray:
    """The event's activation fraction f in [0, 1] on the grid ``ys x xs`` (float32)."""
    n = value_noise(xs, ys, 45.0, key_of(seed, "act", ev.event_id))
    X, Y = np.meshgrid(np.asarray(xs, np.float64), np.asarray(ys, np.float64))
    if ev.kind == "plantation_clearing":
        a = ev.params["angle"]
        u = ((X - ev.seed_xy[0]) * math.cos(a) + (Y - ev.seed_xy[1]) * math.sin(a)) / ev.params["length"]
        f = u + 0.03 * n
    elif ev.kind in ("road_damage", "landslide"):
        f = 0.5 + 0.5 * n
    else:
        r = np.hypot(X - ev.seed_xy[0], Y - ev.seed_xy[1]) / ev.rmax
        f = (1 - r) + 0.25 * n if ev.kind == "sandbar" else 0.78 * r + 0.22 * (0.5 + 0.5 * n)
    return np.clip(f, 0, 1).astype(np.float32)


def stage_jitter(seed: int, d: dt.date) -> float:
    """Rain-driven deviation of the river stage on a date (same everywhere)."""
    return float(rng_for(seed, "stage", d.isoformat()).normal(0, 0.07))


def sandbar_exposed(f: np.ndarray, seed: int, d: dt.date) -> np.ndarray:
    """Which sandbar pixels (activation ``f``) are above water on a date."""
    return f > 0.2 + 1.0 * river_stage(d, stage_jitter(seed, d))


def is_active(ev: Event, f: np.ndarray, d: dt.date, seed: int) -> np.ndarray:
    """Which footprint pixels show the event on date ``d`` (ignores the end, see scene)."""
    if ev.kind == "sandbar":
        return sandbar_exposed(f, seed, d)
    days = (d - ev.start).days
    return days >= ev.grow_days * f
