"""After the tiles: sites, registry, road scores and the published week.

Reads the finished tiles' snapshot stores tile by tile, vectorises the
evidence into sites, attributes them, scores the road segments, upserts the
registry and publishes the week.  Everything here is deterministic given
the stores, the registry and the configuration, so a rerun after a crash
reproduces the same bytes.  ``SOURCE_DATE_EPOCH`` (the reproducible-builds
convention), when set, fixes the registry's run timestamp too.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from .. import __version__, aoi, grid
from ..change.params import load_detection_params, load_road_params
from ..change.roads import road_tile_evidence, score_from_tiles, segment_raster
from ..composites import week_bounds
from ..config import config_hash
from ..errors import ConfigError
from ..publish import publish_week
from ..sites import Registry, RunInfo, attribute_sites, load_sites_config, vectorize_tiles
from ..sources import load_cube
from . import roadwork
from .mosaic import mosaic, tile_readers
from .runconfig import RunConfig
from .snapshots import previous_week
from .tilework import COMPOSITE_BANDS, ROAD_STATS, _source, tile_info

__all__ = ["read_layer", "run_config_hash", "sites_registry_publish"]


def read_layer(path: str, what: str) -> gpd.GeoDataFrame | None:
    """An optional user layer (any OGR format) in EPSG:32748, or None when not configured."""
    if not path:
        return None
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"[layers] {what} = {path!r} does not exist; fix the path or set it to \"\"")
    gdf = gpd.read_file(p)
    if gdf.crs is None:
        raise ConfigError(f"{what} layer {p} has no CRS; save it with one (EPSG:4326 for GeoJSON)")
    return gdf.to_crs(grid.CRS_EPSG)


def run_config_hash(cfg: RunConfig) -> str:
    """Hash of everything that shapes results: run config, thresholds, sites settings."""
    return config_hash(cfg.source, cfg.aoi, cfg.layers, load_detection_params(cfg.paths.thresholds),
                       load_road_params(Path(cfg.paths.thresholds).with_name("roads.toml")),
                       load_sites_config(cfg.paths.sites_config))


def _now() -> dt.datetime | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else None


def _roads(cfg: RunConfig, week: str, gbox: Any, windows: dict[str, tuple[int, int, int, int]],
           done: list[str]) -> gpd.GeoDataFrame | None:
    """Combine the tiles' road pixel tables into the week's segment scores (with persistence).

    Tiles without a stored table (run before road tables existed) are computed from
    their weekly snapshot.  The previous snapshot week's segment state carries the
    persistence; the combined table is stored for the next week.  Returns the
    segments that touch the AOI, or None without a road layer.
    """
    rparams = roadwork.road_params(cfg.paths.thresholds)
    segments = roadwork.run_segments(cfg.layers.roads, rparams)
    if segments is None:
        return None
    state = Path(cfg.paths.state)
    tables = roadwork.read_tile_tables(state, week, done, roadwork.segments_key(segments))
    missing = [t for t in done if t not in tables]
    if missing:
        weekly = mosaic(state, f"weekly/{week}", gbox, windows, done)
        r0 = round((grid.GRID_Y0 - gbox.affine.f) / grid.RESOLUTION)
        c0 = round((gbox.affine.c - grid.GRID_X0) / grid.RESOLUTION)
        for t in missing:
            w = windows[t]
            tile = weekly.isel(y=slice(w[0] - r0, w[2] - r0), x=slice(w[1] - c0, w[3] - c0))
            tables[t] = road_tile_evidence(tile[[*COMPOSITE_BANDS, "n_clear"]], tile[list(ROAD_STATS)],
                                           segment_raster(segments, tile, rparams.corridor_half_width_m), rparams)
    previous = roadwork.read_segment_state(state, previous_week(state, done, week))
    scored = score_from_tiles(segments, [tables[t] for t in done], week, rparams, previous)
    roadwork.write_segment_state(state, week, scored)
    return scored[scored.intersects(gbox.extent.geom)].reset_index(drop=True)


def _history(reg: Registry) -> pd.DataFrame | None:
    obs = reg.observations()
    if obs is None or len(obs) == 0:
        return None
    sites = reg.sites(include_retired=True)[["site_id", "kecamatan"]]
    hist = pd.DataFrame(obs.drop(columns="geometry", errors="ignore")).merge(sites, on="site_id", how="left")
    return hist[["week", "site_id", "status", "area_ha", "kecamatan"]]


def sites_registry_publish(cfg: RunConfig, week: str, gbox: Any, windows: dict[str, tuple[int, int, int, int]],
                           done: list[str], *, publish: bool = True,
                           span_weeks: int = 1) -> tuple[dict[str, Any], dict[str, str]]:
    """Vectorise, attribute, upsert and publish one week from the finished tiles.

    ``span_weeks`` is the number of weeks the tiles folded (``weekly(...,
    span_weeks=N)``): the registry takes evidence dated inside that window as
    fresh, and counts the footprints' clear looks in it, at most one quiet
    week per clear look and per week of the span (:mod:`sarolangun_geo.sites.lifecycle`).
    """
    state = Path(cfg.paths.state)
    geom = aoi.load_regency()
    scfg = load_sites_config(cfg.paths.sites_config)
    reg = Registry(cfg.paths.registry, scfg)
    # tile by tile from the stores: one tile's arrays at a time, no dask graph of the whole AOI
    variables, tiles = tile_readers(state, f"detection/{week}", gbox, done)
    vec = vectorize_tiles(tiles, variables, scfg.polygonize,
                          footprints=reg.sites() if Path(cfg.paths.registry).exists() else None,
                          min_clear_frac=scfg.lifecycle.min_clear_frac)
    sites = vec.sites
    if len(sites):  # keep what lies in the regency (the AOI tiles overhang its border)
        sites = sites[sites.intersects(geom.to_crs(grid.CRS_EPSG).union_all())]
    roads = read_layer(cfg.layers.roads, "roads")
    attributed = attribute_sites(sites, water=vec.water, roads=roads,
                                 permits=read_layer(cfg.layers.permits, "permits"),
                                 forest=read_layer(cfg.layers.protected_forest, "protected_forest"),
                                 config=scfg.polygonize)
    road_scores = _roads(cfg, week, gbox, windows, done)
    items = sorted({d for t in done for d in tile_info(state, week, t).get("acquisitions", [])})
    spec = _source(*cfg.source_spec())
    run = RunInfo(sources=(getattr(spec, "name", cfg.source.url),), items=tuple(items),
                  config_hash=run_config_hash(cfg))
    counts = reg.upsert(week, attributed, roads=road_scores, footprint_stats=vec.footprint_stats, run=run,
                        now=_now(), span_weeks=span_weeks)
    counts = {**counts, "acquisitions": len(items),
              "damaged_segments": int(road_scores["damaged"].sum()) if road_scores is not None else 0}
    outputs: dict[str, str] = {"registry": str(cfg.paths.registry)}
    if publish:
        del vec, sites, attributed  # the registry holds them now
        evidence = mosaic(state, f"detection/{week}", gbox, windows, done)
        weekly = mosaic(state, f"weekly/{week}", gbox, windows, done)
        outputs.update(publish_from_state(cfg, week, gbox, windows, done, reg, road_scores, evidence, weekly,
                                          items, run.config_hash))
    return counts, outputs


def publish_from_state(cfg: RunConfig, week: str, gbox: Any, windows: dict[str, tuple[int, int, int, int]],
                       done: list[str], reg: Registry, road_scores: gpd.GeoDataFrame | None,
                       evidence: Any, weekly: Any, items: list[str], cfg_hash: str) -> dict[str, str]:
    """Publish a week whose registry entry and tile snapshots exist (reports, layers, exports, STAC)."""
    spec = _source(*cfg.source_spec())
    all_sites = reg.sites()
    first = pd.to_datetime(all_sites["first_seen"]).min() if len(all_sites) else None
    monday, sunday = week_bounds(week)
    start = (first - pd.Timedelta(days=120)).date() if first is not None else monday - dt.timedelta(days=120)
    cube = load_cube(gbox, str(start), str(sunday), spec)  # lazy: chips read only small windows
    provenance = {"package_version": __version__, "config_hash": cfg_hash, "config": cfg.name,
                  "source": getattr(spec, "name", cfg.source.url), "items": list(items),
                  "tiles": sorted(done), "tiles_failed": sorted(set(windows) - set(done))}
    out = publish_week(cfg.paths.out, week, all_sites, road_scores, composite=weekly[list(COMPOSITE_BANDS)],
                       evidence=evidence, history=_history(reg), provenance=provenance, lang=cfg.lang, cube=cube)
    return {"report": str(out.week_dir / "reports" / "index.html"), "week_dir": str(out.week_dir)}


def republish(cfg: RunConfig, week: str, gbox: Any, windows: dict[str, tuple[int, int, int, int]],
              done: list[str]) -> dict[str, str]:
    """Publish a week again from its snapshots and the registry (e.g. in another language)."""
    reg = Registry(cfg.paths.registry, load_sites_config(cfg.paths.sites_config))
    if not Path(cfg.paths.registry).exists() or week not in set(reg.runs()["week"]):
        raise ConfigError(f"week {week} is not in the registry {cfg.paths.registry}; run it first with "
                          f"`sarolangun-geo run --week {week}`")
    state = Path(cfg.paths.state)
    evidence = mosaic(state, f"detection/{week}", gbox, windows, done)
    weekly = mosaic(state, f"weekly/{week}", gbox, windows, done)
    road_scores = _roads(cfg, week, gbox, windows, done)
    items = sorted({d for t in done for d in tile_info(state, week, t).get("acquisitions", [])})
    return publish_from_state(cfg, week, gbox, windows, done, reg, road_scores, evidence, weekly, items,
                              run_config_hash(cfg))
