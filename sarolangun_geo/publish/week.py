"""``publish_week``: write the whole output tree of one ISO week.

The function reads like a table of contents: prepare the frames, write the
layers, the rasters, the chips, the exports, the reports, the provenance and
the STAC catalog.  Every file is written atomically and deterministically,
so a rerun with the same inputs leaves the tree byte-identical.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import xarray as xr

from .. import aoi
from ..errors import ExportError
from ._io import atomic_write_text, dumps_json
from .chips import ChipSettings, write_chips
from .exports import SiteFilter, export_sites, filter_sites
from .fieldsheet import write_field_sheets
from .i18n import t
from .layers import prepare_roads, prepare_sites, write_layers
from .rasters import scopes_geometries, write_evidence_cogs, write_overlays, write_truecolour_cog
from .report import REGENCY, ReportSettings, write_reports
from .stac import write_root_catalog, write_week_catalog

__all__ = ["PublishSettings", "WeekOutputs", "check_week", "publish_week"]

_WEEK = re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")
_REGENCY_EXPORTS = ("csv", "xlsx", "kmz", "gpx", "gpkg")
_KEC_EXPORTS = ("csv", "xlsx", "kmz", "gpx")


@dataclass(frozen=True)
class PublishSettings:
    """Publishing options.

    ``fieldsheet_top_n`` sites (by priority) go on each field sheet;
    ``basemap`` adds optional online OSM tiles to the report maps.
    """

    basemap: bool = True
    max_table_rows: int = 200
    fieldsheet_top_n: int = 40
    overlay_px: int = 900
    chips: ChipSettings = field(default_factory=ChipSettings)


@dataclass(frozen=True)
class WeekOutputs:
    """Paths written by :func:`publish_week`, keyed by product."""

    week_dir: Path
    layers: Mapping[str, Path]
    rasters: Mapping[str, Path]
    reports: Mapping[str, Path]
    exports: Mapping[str, Path]
    catalog: Path
    chips: pd.DataFrame


def check_week(week: str) -> str:
    """Validate an ISO week label ``YYYY-Www``."""
    if not _WEEK.match(week):
        raise ExportError(f"week {week!r} is not an ISO week like '2026-W07'; use YYYY-Www")
    return week


def _exports(week_dir: Path, week: str, sites: gpd.GeoDataFrame, roads: gpd.GeoDataFrame | None,
             chips: pd.DataFrame, provenance: Mapping[str, Any], lang: str, s: PublishSettings
             ) -> tuple[dict[str, Path], dict[str, list[tuple[str, str]]]]:
    """Write the regency and per-kecamatan exports; return paths and report links per scope."""
    paths: dict[str, Path] = {}
    links: dict[str, list[tuple[str, str]]] = {}
    kw = dict(lang=lang, week=week, roads=roads, chips=chips, chips_root=week_dir)
    thumbs: dict[str, bytes] = {}
    for scope in [REGENCY, *aoi.load_kecamatan()["slug"]]:
        regency = scope == REGENCY
        base = week_dir / "exports" if regency else week_dir / "exports" / "kecamatan" / scope
        flt = SiteFilter() if regency else SiteFilter(kecamatan=(scope,))
        layer_dir = "layers" if regency else f"layers/kecamatan/{scope}"
        links[scope] = [(t("fmt.geojson", lang), f"../{layer_dir}/peti_sites.geojson")]
        for fmt in _REGENCY_EXPORTS if regency else _KEC_EXPORTS:
            p = export_sites(sites, base / f"peti_sites.{fmt}", fmt, flt, **kw)
            paths[f"{scope}/{fmt}"] = p
            links[scope].append((t(f"fmt.{fmt}", lang), "../" + p.relative_to(week_dir).as_posix()))
        sheet = prepare_sites(filter_sites(sites, SiteFilter(kecamatan=flt.kecamatan, top_n=s.fieldsheet_top_n)),
                              week)
        place = t("place.regency", lang) if regency else t("place.kecamatan", lang,
                                                          name=aoi.find_kecamatan(scope)["nama"])
        written = write_field_sheets(sheet, {f: base / f"field_sheet.{f}" for f in ("pdf", "html")}, roads=roads,
                                     chips=chips, chips_root=week_dir, lang=lang, subtitle=f"{place} · {week}",
                                     thumb_cache=thumbs)
        for fmt, p in written.items():
            paths[f"{scope}/field_sheet_{fmt}"] = p
            links[scope].append((t(f"fmt.{fmt}", lang), "../" + p.relative_to(week_dir).as_posix()))
        if regency:
            p = export_sites(sites, base / "evidence_pack.zip", "zip", flt, provenance=provenance, **kw)
            paths["regency/zip"] = p
            links[scope] += [(t("fmt.zip", lang), "../exports/evidence_pack.zip"),
                             (t("fmt.stac", lang), "../catalog.json")]
    return paths, links


def _stac_items(week_dir: Path, week: str, layers: Mapping[str, Path], rasters: Mapping[str, Path],
                reports: Mapping[str, Path], exports: Mapping[str, Path], composite: xr.Dataset | None
                ) -> list[dict[str, Any]]:
    bbox = [float(v) for v in aoi.load_regency().total_bounds]
    items: list[dict[str, Any]] = [{"id": f"{week}-peti-sites", "title": "PETI sites", "bbox": bbox,
              "assets": [(k.replace("/", "_"), p, f"PETI sites {k}", ("data",))
                         for k, p in layers.items() if k.endswith("peti_sites")]}]
    if "road_damage" in layers:
        items.append({"id": f"{week}-road-damage", "title": "Road damage", "bbox": bbox,
                      "assets": [(k.replace("/", "_"), p, f"Road damage {k}", ("data",))
                                 for k, p in layers.items() if k.endswith("road_damage")]})
    for key, title, roles in (("truecolour", "True-colour composite (uint8 RGB)", ("visual",)),
                              ("evidence_confidence", "PETI evidence confidence 0-4", ("data",)),
                              ("evidence_score", "PETI evidence score 0-1", ("data",))):
        if key in rasters:
            import rasterio
            from rasterio.warp import transform_bounds

            with rasterio.open(rasters[key]) as src:
                proj = {"proj:epsg": src.crs.to_epsg(), "proj:shape": [src.height, src.width],
                        "proj:transform": [round(v, 6) for v in list(src.transform)[:6]]}
                rb = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
            items.append({"id": f"{week}-{key.replace('_', '-')}", "title": title, "bbox": rb, "proj": proj,
                          "assets": [(key, rasters[key], title, roles)]})
    items.append({"id": f"{week}-reports", "title": "Weekly reports and exports", "bbox": bbox,
                  "assets": [(f"report_{k}", p, f"Report {k}", ("overview",)) for k, p in reports.items()]
                  + [(k.replace("/", "_"), p, f"Export {k}", ("data",)) for k, p in exports.items()
                     if k.startswith(REGENCY)]})
    return items


def publish_week(out_dir: str | Path, week: str, sites: gpd.GeoDataFrame, roads: gpd.GeoDataFrame | None = None,
                 composite: xr.Dataset | None = None, evidence: xr.Dataset | None = None,
                 history: pd.DataFrame | None = None, provenance: Mapping[str, Any] | None = None, *,
                 lang: str = "id", cube: xr.Dataset | None = None, clear: xr.DataArray | None = None,
                 settings: PublishSettings = PublishSettings()) -> WeekOutputs:
    """Write ``<out_dir>/<week>/`` (layers, rasters, chips, exports, reports, STAC).

    Parameters
    ----------
    sites
        Registry sites (docs §4, EPSG:32748); suppressed sites are not published.
    roads
        Scored road segments (docs §3) or None; also the road layer for directions.
    composite
        The week's composite (``red, green, blue`` reflectance on the grid) or None.
    evidence
        The week's PETI evidence (docs §3) or None.
    history
        Earlier site snapshots (``week, site_id, status, area_ha, kecamatan``) for
        changes and trends; None for the first week.
    provenance
        JSON-able record of inputs (``items``, ``config_hash`` ...), written to
        ``provenance.json`` and into the evidence pack.
    cube, clear
        The cube of docs §2 (lazy is best) and optionally its clear mask, for chips.
    """
    week_dir = Path(out_dir) / check_week(week)
    provenance = dict(provenance or {})
    sites_p = prepare_sites(sites, week)
    roads_p = prepare_roads(roads, week) if roads is not None else None
    slugs = list(aoi.load_kecamatan()["slug"])
    layers = write_layers(week_dir, sites_p, roads_p, slugs)
    rasters: dict[str, Path] = {}
    if composite is not None:
        rasters["truecolour"] = write_truecolour_cog(week_dir / "rasters" / "truecolour.tif", composite)
    if evidence is not None:
        rasters.update(write_evidence_cogs(week_dir, evidence))
    chips = write_chips(week_dir, sites_p, cube, clear=clear, settings=settings.chips)
    images = write_overlays(week_dir, composite, scopes_geometries(), settings.overlay_px) if composite is not None else {}
    exports, links = _exports(week_dir, week, sites, roads_p, chips, provenance, lang, settings)
    reports = write_reports(week_dir, week, sites=sites_p, roads=roads_p, history=history, chips=chips,
                            images=images, exports=links, provenance=provenance,
                            settings=ReportSettings(lang=lang, basemap=settings.basemap,
                                                    max_table_rows=settings.max_table_rows))
    atomic_write_text(week_dir / "provenance.json", dumps_json({"week": week, **provenance}))
    catalog = write_week_catalog(week_dir, week, _stac_items(week_dir, week, layers, rasters, reports, exports,
                                                             composite))
    write_root_catalog(out_dir)
    return WeekOutputs(week_dir=week_dir, layers=layers, rasters=rasters, reports=reports, exports=exports,
                       catalog=catalog, chips=chips)
