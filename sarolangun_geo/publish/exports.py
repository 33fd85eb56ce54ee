"""Site lists for the field: CSV, XLSX, KML/KMZ, GPX, GeoJSON, GPKG (+ field sheets, evidence packs).

:func:`export_sites` filters the registry's sites (docs §4) with a
:class:`SiteFilter` and writes one file.  Columns follow :mod:`.schema`.
Spreadsheet cells that start with ``= + - @``, tab or carriage return are
prefixed with ``'`` so Excel/LibreOffice never run them as formulas.  Every
writer is atomic and deterministic (fixed zip timestamps, fixed document
dates), so the same sites give the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from .. import aoi
from ..errors import ExportError
from ._io import atomic_path, atomic_write_bytes, atomic_write_text, deterministic_zip, normalise_zip
from .i18n import status_label, t
from .layers import dumps_feature_collection, feature_collection, prepare_sites
from .mapview import STATUS_COLOURS
from .schema import PETI_SITES, STATUSES, validate_layer

__all__ = ["FORMATS", "SiteFilter", "export_sites", "filter_sites", "neutralise", "site_rows"]

FORMATS = ("csv", "xlsx", "kml", "kmz", "gpx", "geojson", "gpkg", "html", "pdf", "zip")
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class SiteFilter:
    """Which sites to export; empty/None fields do not filter.

    ``kecamatan`` takes names, slugs or codes; ``desa`` names or Kemendagri
    codes (case-insensitive); ``since`` keeps sites seen on or after that
    date (``last_seen``); ``top_n`` keeps the N highest-priority sites after
    the other filters.
    """

    kecamatan: tuple[str, ...] = ()
    desa: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    min_area_ha: float | None = None
    since: dt.date | str | None = None
    min_confidence: int | None = None
    top_n: int | None = None
    include_suppressed: bool = False


def filter_sites(sites: gpd.GeoDataFrame, f: SiteFilter | None) -> gpd.GeoDataFrame:
    """Apply ``f``; the result is sorted by ``priority_rank`` (a new frame).

    Raises
    ------
    ExportError
        For an unknown status or a negative ``top_n``; unknown kecamatan raise
        :class:`~sarolangun_geo.errors.UnknownKecamatanError`.
    """
    f = f or SiteFilter()
    s = sites
    if not f.include_suppressed and "suppressed" in s.columns:
        s = s[~s["suppressed"].fillna(False).astype(bool)]
    if f.kecamatan:
        codes = {aoi.find_kecamatan(k)["kode_kemendagri"] for k in f.kecamatan}
        s = s[s["kode_kemendagri_kec"].isin(codes)]
    if f.desa:
        keys = {d.strip().casefold() for d in f.desa}
        s = s[s["desa"].str.casefold().isin(keys) | s["kode_desa"].astype(str).str.casefold().isin(keys)]
    if f.status:
        bad = sorted(set(f.status) - set(STATUSES))
        if bad:
            raise ExportError(f"unknown status {bad} in the filter; valid statuses are {list(STATUSES)}")
        s = s[s["status"].isin(f.status)]
    if f.min_area_ha is not None:
        s = s[s["area_ha"] >= f.min_area_ha]
    if f.since is not None:
        s = s[s["last_seen"].astype(str).str[:10] >= str(f.since)[:10]]
    if f.min_confidence is not None:
        s = s[s["confidence"] >= f.min_confidence]
    s = s.sort_values(["priority_rank", "site_id"], kind="mergesort")
    if f.top_n is not None:
        if f.top_n < 0:
            raise ExportError(f"top_n={f.top_n} must be >= 0")
        s = s.head(f.top_n)
    return s.reset_index(drop=True)


def neutralise(v: Any) -> Any:
    """Prefix ``'`` to strings a spreadsheet would read as a formula; other values pass."""
    if isinstance(v, str) and v.startswith(_DANGEROUS):
        return "'" + v
    return v


def site_rows(prepared: gpd.GeoDataFrame) -> list[list[Any]]:
    """Schema-ordered, rounded, neutralised values of each site (for CSV/XLSX)."""
    fc = feature_collection(prepared, "peti_sites")
    return [[neutralise(v) for v in feat["properties"].values()] for feat in fc["features"]]


def _csv(prepared: gpd.GeoDataFrame) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([f.name for f in PETI_SITES])
    for row in site_rows(prepared):
        w.writerow(["" if v is None else v for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 correctly


def _xlsx(prepared: gpd.GeoDataFrame, lang: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "PETI"
    heads = [f.label_en if lang == "en" else f.label_id for f in PETI_SITES]
    ws.append(heads)
    for row in site_rows(prepared):
        ws.append(row)
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, even if a value slipped through
    for i, f in enumerate(PETI_SITES, start=1):
        c = ws.cell(row=1, column=i)
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = PatternFill("solid", fgColor="8C1D18")
        c.alignment = Alignment(wrap_text=True, vertical="top")
        width = max(len(heads[i - 1]), *(len(str(ws.cell(row=r, column=i).value or ""))
                                         for r in range(2, min(ws.max_row, 500) + 1)), 6)
        ws.column_dimensions[get_column_letter(i)].width = min(48, width + 2)
        if f.type == "number" and f.decimals is not None:
            fmt = "0" if f.decimals == 0 else "0." + "0" * f.decimals
            for r in range(2, ws.max_row + 1):
                ws.cell(row=r, column=i).number_format = fmt
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = ws.dimensions
    meta = wb.create_sheet("Keterangan" if lang == "id" else "Fields")
    meta.append(["name", "label", "type", "unit", "description"])
    for f in PETI_SITES:
        meta.append([f.name, f.label_en if lang == "en" else f.label_id, f.type, f.unit, f.description])
    for col, w in zip("ABCDE", (20, 26, 10, 10, 70), strict=True):
        meta.column_dimensions[col].width = w
    fixed = dt.datetime(2000, 1, 1)
    wb.properties.creator = "sarolangun-geo"
    wb.properties.created = fixed
    buf = io.BytesIO()
    wb.save(buf)
    stamp = (rb"<dcterms:modified([^>]*)>[^<]*</dcterms:modified>",
             rb"<dcterms:modified\1>2000-01-01T00:00:00Z</dcterms:modified>")
    return normalise_zip(buf.getvalue(), {"docProps/core.xml": stamp})


def _kml_colour(hex_rgb: str) -> str:
    r, g, b = hex_rgb[1:3], hex_rgb[3:5], hex_rgb[5:7]
    return f"ff{b}{g}{r}"


def _description(p: Mapping[str, Any], lang: str) -> str:
    rows = "".join(f"<tr><td>{html.escape(f.label_en if lang == 'en' else f.label_id)}</td>"
                   f"<td>{html.escape('' if p[f.name] is None else str(p[f.name]))}</td></tr>"
                   for f in PETI_SITES)
    return f"<table>{rows}</table>"


def _kml(prepared: gpd.GeoDataFrame, lang: str) -> str:
    import simplekml
    import simplekml.base

    # simplekml numbers every object from a process-wide counter; restart it so the
    # same sites give the same ids (byte-identical reruns within one process too).
    simplekml.base.Kmlable._globalid = 0
    kml = simplekml.Kml(name=f"PETI {t('place.regency', lang)}")
    styles = {}
    for st in STATUSES:
        style = simplekml.Style()
        style.iconstyle.color = _kml_colour(STATUS_COLOURS[st])
        style.iconstyle.icon.href = "http://maps.google.com/mapfiles/kml/shapes/placemark_circle.png"
        style.linestyle.color = _kml_colour(STATUS_COLOURS[st])
        style.linestyle.width = 2
        style.polystyle.color = "40" + _kml_colour(STATUS_COLOURS[st])[2:]
        styles[st] = style
    fc = feature_collection(prepared, "peti_sites")
    folders = {st: kml.newfolder(name=status_label(st, lang)) for st in STATUSES}
    for feat in fc["features"]:
        p = feat["properties"]
        folder = folders[p["status"]]
        pt = folder.newpoint(name=p["site_id"], coords=[(p["lon"], p["lat"])])
        pt.description = _description(p, lang)
        pt.style = styles[p["status"]]
        geom = feat["geometry"]
        polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
        for rings in polys:
            pg = folder.newpolygon(name=p["site_id"], outerboundaryis=rings[0], innerboundaryis=rings[1:])
            pg.style = styles[p["status"]]
    return kml.kml()


def _gpx(prepared: gpd.GeoDataFrame, lang: str) -> str:
    import gpxpy.gpx

    g = gpxpy.gpx.GPX()
    g.creator = "sarolangun-geo"
    g.name = f"PETI {t('place.regency', lang)}"
    for r in prepared.itertuples(index=False):
        wp = gpxpy.gpx.GPXWaypoint(latitude=round(float(r.lat), 6), longitude=round(float(r.lon), 6),
                                   name=str(r.site_id), symbol="Flag, Red", type=status_label(r.status, lang))
        wp.description = (f"{status_label(r.status, lang)}; {float(r.area_ha):.2f} ha; {r.desa}, {r.kecamatan}; "
                          f"{str(r.first_seen)[:10]}..{str(r.last_seen)[:10]}; "
                          f"{t('confidence.' + str(int(r.confidence)), lang)}")
        wp.comment = wp.description
        g.waypoints.append(wp)
    return g.to_xml(version="1.1")


def _gpkg(prepared: gpd.GeoDataFrame, path: Path) -> None:
    import pyogrio
    import shapely.geometry

    feats = feature_collection(prepared, "peti_sites")["features"]
    dtypes = {"integer": "int64", "number": "float64", "boolean": "bool", "string": "object", "date": "object"}
    cols = {f.name: pd.Series([ft["properties"][f.name] for ft in feats], dtype=dtypes[f.type]) for f in PETI_SITES}
    gdf = gpd.GeoDataFrame(cols, geometry=[shapely.geometry.shape(ft["geometry"]) for ft in feats], crs=4326)
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2000-01-01T00:00:00.000Z"})
    try:
        with atomic_path(path) as tmp:
            tmp.unlink()
            gdf.to_file(tmp, driver="GPKG", layer="peti_sites", engine="pyogrio",
                        geometry_type="MultiPolygon" if len(gdf) == 0 else None, promote_to_multi=True)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def export_sites(sites_gdf: gpd.GeoDataFrame, out_path: str | Path, fmt: str | None = None,
                 filters: SiteFilter | None = None, *, lang: str = "id", week: str = "",
                 roads: gpd.GeoDataFrame | None = None, chips: pd.DataFrame | None = None,
                 chips_root: str | Path | None = None, provenance: Mapping[str, Any] | None = None) -> Path:
    """Filter the sites and write them to ``out_path`` in ``fmt``.

    Parameters
    ----------
    sites_gdf
        Registry sites (docs §4), any CRS with a CRS set.
    fmt
        One of :data:`FORMATS`; inferred from the suffix when None.  ``html``
        and ``pdf`` are field sheets (:mod:`.fieldsheet`), ``zip`` an evidence
        pack (:mod:`.evidence`).
    roads
        Road lines (EPSG:32748 or any CRS) for the field sheet's directions.
    chips, chips_root
        Chip index of :func:`.chips.write_chips` and the folder its paths are
        relative to (the week folder): chips go into field sheets and evidence packs.

    Raises
    ------
    ExportError
        Unknown format, or a format that needs inputs that are missing.
    """
    path = Path(out_path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r} for {path}; use one of {list(FORMATS)}")
    prepared = prepare_sites(filter_sites(sites_gdf, filters), week,
                             drop_suppressed=not (filters and filters.include_suppressed))
    prepared = prepared.sort_values(["priority_rank", "site_id"], kind="mergesort").reset_index(drop=True)
    if fmt == "csv":
        return atomic_write_bytes(path, _csv(prepared))
    if fmt == "xlsx":
        return atomic_write_bytes(path, _xlsx(prepared, lang))
    if fmt == "kml":
        return atomic_write_text(path, _kml(prepared, lang))
    if fmt == "kmz":
        return atomic_write_bytes(path, deterministic_zip([("doc.kml", _kml(prepared, lang).encode())]))
    if fmt == "gpx":
        return atomic_write_text(path, _gpx(prepared, lang))
    if fmt == "geojson":
        fc = feature_collection(prepared, "peti_sites")
        validate_layer(fc, "peti_sites")
        return atomic_write_text(path, dumps_feature_collection(fc))
    if fmt == "gpkg":
        _gpkg(prepared, path)
        return path
    if fmt in ("html", "pdf"):
        from .fieldsheet import write_field_sheet

        return write_field_sheet(prepared, path, fmt=fmt, roads=roads, chips=chips, chips_root=chips_root,
                                 lang=lang)
    from .evidence import write_evidence_pack

    return write_evidence_pack(prepared, path, chips=chips, chips_root=chips_root, provenance=provenance or {})
