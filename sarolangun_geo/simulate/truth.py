"""Ground truth: ``<out>/truth/`` as docs/architecture.md §1 specifies.

``events.geojson`` holds one feature per event with its maximum footprint and its
area over time (``growth``) measured on the canonical 10 m grid from the same
activation fields that drive the pixels.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely
from affine import Affine
from rasterio import features

from .config import Acquisition, SimConfig
from .events import Event, activation_field, is_active
from .noise import rng_for
from .spectra import rice_state
from .stac import write_json
from .world import World, reproject_geom

__all__ = ["rice_events", "to_4326", "write_truth"]

_TO4326 = pyproj.Transformer.from_crs(32748, 4326, always_xy=True)


def to_4326(geom: shapely.Geometry, precision: float = 1e-6) -> shapely.Geometry:
    """EPSG:32748 -> EPSG:4326, rounded to ``precision`` degrees (RFC 7946)."""
    return shapely.set_precision(reproject_geom(_TO4326, geom), precision)


def _local_grid(geom: shapely.Geometry) -> tuple[Affine, np.ndarray, np.ndarray, tuple[int, int]]:
    x0, y0, x1, y1 = geom.bounds
    x0, y0 = math.floor(x0 / 10) * 10, math.floor(y0 / 10) * 10
    x1, y1 = math.ceil(x1 / 10) * 10, math.ceil(y1 / 10) * 10
    shape = (max(1, int((y1 - y0) / 10)), max(1, int((x1 - x0) / 10)))
    xs = x0 + 5 + 10 * np.arange(shape[1])
    ys = y1 - 5 - 10 * np.arange(shape[0])
    return Affine(10, 0, x0, 0, -10, y1), xs, ys, shape


def _growth(ev: Event, acqs: list[Acquisition], seed: int) -> list[dict[str, Any]]:
    tr, xs, ys, shape = _local_grid(ev.geometry)
    m = features.rasterize([ev.geometry], shape, transform=tr, fill=0, default_value=1, dtype="uint8") == 1
    f = activation_field(ev, xs, ys, seed)[m]
    out: list[dict[str, Any]] = []
    last = None
    for a in acqs:
        if ev.kind == "road_damage" and ev.end is not None and a.date > ev.end:
            area = 0.0
        elif ev.kind != "sandbar" and a.date < ev.start:
            area = 0.0
        else:
            area = round(float(is_active(ev, f, a.date, seed).sum()) * 0.01, 4)
        if area != last:
            out.append({"date": a.date.isoformat(), "area_ha": area})
            last = area
    return out


def rice_events(world: World, cfg: SimConfig, acqs: list[Acquisition], first_code: int) -> list[dict]:
    """``rice_flooding`` truth features: one per rice scheme, flooded area per acquisition."""
    from .landscape import rice_phase_field

    out = []
    for i, rp in enumerate(world.rice, 1):
        tr, xs, ys, shape = _local_grid(rp.geometry)
        m = features.rasterize([rp.geometry], shape, transform=tr, fill=0, default_value=1, dtype="uint8") == 1
        if not m.any():
            continue
        ph = rice_phase_field(rp, i, xs, ys)[m]
        growth, last, first = [], None, None
        for a in acqs:
            doy = a.date.timetuple().tm_yday
            t1 = (doy - rp.params["flood_doy"] - ph) % 365.25
            t2 = (doy - rp.params["flood_doy2"] - ph) % 365.25
            t = np.where((rp.params["seasons"] > 1) & (t2 < t1), t2, t1)
            area = round(float((rice_state(t)[0] > 0.5).sum()) * 0.01, 4)
            if area > 0 and first is None:
                first = a.date
            if area != last:
                growth.append({"date": a.date.isoformat(), "area_ha": area})
                last = area
        out.append(_feature(f"RICE_FLOODING-{first_code + i:04d}", "rice_flooding", rp.geometry,
                            first or cfg.start_date, None, growth, seasonal=True,
                            extra={"rice_id": rp.patch_id, "seasons": rp.params["seasons"]}))
    return out


def _feature(eid: str, kind: str, geom, start: dt.date, end, growth, seasonal: bool,  # type: ignore[no-untyped-def]
             extra: dict | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {
        "event_id": eid, "kind": kind, "is_target": kind in ("peti", "road_damage"),
        "start": start.isoformat(), "end": end.isoformat() if end else None,
        "area_ha": max([g["area_ha"] for g in growth], default=0.0),
        "footprint_ha": round(geom.area / 1e4, 4), "growth": growth, "seasonal": seasonal, "road_id": None,
    }
    props.update(extra or {})
    return {"type": "Feature", "geometry": shapely.geometry.mapping(to_4326(geom)), "properties": props}


def _permits(world: World, events: list[Event], seed: int) -> list[dict[str, Any]]:
    rng = rng_for(seed, "permits")
    x0, y0, x1, y1 = world.bounds
    peti = [e for e in events if e.kind == "peti"]
    feats = []
    for k in range(int(rng.integers(2, 5))):
        if peti and k == 0:  # one sample permit that covers a site (a legal mine)
            c = peti[int(rng.integers(len(peti)))].geometry.centroid
            cx, cy = c.x + rng.uniform(-150, 150), c.y + rng.uniform(-150, 150)
        else:
            cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        w, h = rng.uniform(400, 1400), rng.uniform(400, 1400)
        g = shapely.geometry.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        feats.append({"type": "Feature", "geometry": shapely.geometry.mapping(to_4326(g)), "properties": {
            "permit_id": f"SAMPLE-WIUP-{k + 1:03d}", "holder": "CONTOH / SAMPLE (fictitious)",
            "commodity": "emas", "kind": "IUP-OP (sample)", "area_ha": round(g.area / 1e4, 2),
            "sample": True, "note": "SAMPLE polygon made by the simulator; not a real permit"}})
    return feats


def write_truth(out: Path, cfg: SimConfig, world: World, events: list[Event], acqs: list[Acquisition],
                bbox_4326: list[float], extra: dict[str, Any], area: shapely.Geometry | None = None) -> None:
    """Write every file of ``<out>/truth/``; ``area`` (EPSG:4326) keeps only events that touch it."""
    tdir = out / "truth"
    feats = []
    for ev in events:
        ex = {k: v for k, v in ev.params.items() if k not in ("angle", "length")}
        growth = _growth(ev, acqs, cfg.seed)
        start = ev.start
        if ev.kind == "sandbar":  # first exposure seen, or the period start
            start = next((dt.date.fromisoformat(g["date"]) for g in growth if g["area_ha"] > 0), ev.start)
        feats.append(_feature(ev.event_id, ev.kind, ev.geometry, start, ev.end, growth,
                              seasonal=ev.kind == "sandbar", extra=ex))
    feats += rice_events(world, cfg, acqs, len(events))
    if area is not None:  # only what can be seen in the generated tiles
        feats = [f for f in feats if shapely.geometry.shape(f["geometry"]).intersects(area)]
    fc = lambda f: {"type": "FeatureCollection", "features": f}  # noqa: E731
    write_json(tdir / "events.geojson", fc(feats))
    clip = shapely.geometry.box(*world.bounds).buffer(500)
    rivers = [{"type": "Feature", "geometry": shapely.geometry.mapping(to_4326(r.line.intersection(clip))),
               "properties": {"river_id": r.river_id, "name": r.name, "width_m": r.width_m,
                              "main": r.is_main}} for r in world.rivers if r.line.intersects(clip)]
    roads = [{"type": "Feature", "geometry": shapely.geometry.mapping(to_4326(r.line.intersection(clip))),
              "properties": {"road_id": r.road_id, "kind": r.kind, "name": r.name, "width_m": r.width_m}}
             for r in world.roads if r.line.intersects(clip)]
    write_json(tdir / "rivers.geojson", fc(rivers))
    write_json(tdir / "roads.geojson", fc(roads))
    write_json(tdir / "permits_sample.geojson",
               {"type": "FeatureCollection", "name": "SAMPLE mining permits (fictitious)", "sample": True,
                "features": _permits(world, events, cfg.seed)})
    write_json(tdir / "scenario.json", {
        "config": cfg.to_dict(), "bbox": bbox_4326, "bbox_epsg32748": list(world.bounds),
        "dates": [a.date.isoformat() for a in acqs], "n_items": extra.get("n_items"),
        "tiles": extra.get("tiles"), "simulated": True, **{k: v for k, v in extra.items() if k not in
                                                          ("n_items", "tiles")}})
