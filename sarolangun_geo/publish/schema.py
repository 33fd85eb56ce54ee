"""The one schema of the published vector layers, and its validator.

Each layer (``peti_sites``, ``road_damage``) is a tuple of :class:`Field` in
the exact order the properties appear in every GeoJSON feature.  A field
states its JSON type, unit, English description and the Bahasa Indonesia /
English labels that reports, spreadsheets and KML descriptions use.

:func:`validate_layer` checks a FeatureCollection against RFC 7946 (no
``crs`` member, lon/lat order and range, closed counter-clockwise exterior
rings, fixed coordinate precision) and against the schema (names, order,
types, enumerations).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import LayerSchemaError

__all__ = [
    "COORD_DECIMALS",
    "LAYERS",
    "LEGALITY",
    "PETI_SITES",
    "ROAD_DAMAGE",
    "STATUSES",
    "Field",
    "field_names",
    "label",
    "validate_layer",
]

#: Decimal places of every published coordinate (about 0.1 m at the equator).
COORD_DECIMALS = 6
STATUSES = ("baru", "aktif", "meluas", "tidak_aktif", "rehabilitasi", "aktif_kembali")
LEGALITY = ("dalam_izin", "luar_izin", "hutan_lindung", "tidak_diketahui")

JsonType = Literal["string", "integer", "number", "boolean", "date"]


@dataclass(frozen=True)
class Field:
    """One property of a published layer.

    ``type`` is the JSON type (``date`` = ISO ``YYYY-MM-DD`` string);
    ``decimals`` is the rounding of numbers; ``enum`` the allowed values.
    """

    name: str
    type: JsonType
    unit: str
    description: str
    label_id: str
    label_en: str
    nullable: bool = False
    decimals: int | None = None
    enum: tuple[str, ...] | None = None


F = Field
PETI_SITES: tuple[Field, ...] = (
    F("site_id", "string", "", "Stable site identifier, SRL-PETI-NNNNNN", "ID lokasi", "Site ID"),
    F("status", "string", "", "Lifecycle status this week", "Status", "Status", enum=STATUSES),
    F("confidence", "integer", "0-4", "Detection confidence: 0 none, 1 low, 2 medium, 3 high, 4 highest",
      "Keyakinan", "Confidence"),
    F("priority", "number", "0-100", "Enforcement priority score", "Prioritas", "Priority", decimals=1),
    F("priority_rank", "integer", "", "Rank by priority within the regency (1 = highest)",
      "Peringkat", "Rank"),
    F("area_ha", "number", "ha", "Disturbed area of the site this week", "Luas (ha)", "Area (ha)", decimals=2),
    F("first_seen", "date", "", "Date of the first confirming observation", "Pertama terlihat", "First seen"),
    F("last_seen", "date", "", "Date of the latest confirming observation", "Terakhir terlihat", "Last seen"),
    F("kecamatan", "string", "", "Kecamatan (district) name", "Kecamatan", "District"),
    F("kecamatan_slug", "string", "", "ASCII slug of the kecamatan (file names)", "Slug kecamatan",
      "District slug"),
    F("kode_kemendagri_kec", "string", "", "Kemendagri code of the kecamatan", "Kode Kemendagri kec.",
      "Kemendagri district code"),
    F("kode_bps_kec", "string", "", "BPS code of the kecamatan (null if none)", "Kode BPS kec.",
      "BPS district code", nullable=True),
    F("desa", "string", "", "Desa/kelurahan (village) name", "Desa", "Village"),
    F("kode_desa", "string", "", "Kemendagri code of the desa", "Kode desa", "Village code"),
    F("lat", "number", "degree", "Latitude of the site centre (WGS 84)", "Lintang", "Latitude", decimals=6),
    F("lon", "number", "degree", "Longitude of the site centre (WGS 84)", "Bujur", "Longitude", decimals=6),
    F("lat_dms", "string", "", "Latitude in degrees-minutes-seconds", "Lintang (DMS)", "Latitude (DMS)"),
    F("lon_dms", "string", "", "Longitude in degrees-minutes-seconds", "Bujur (DMS)", "Longitude (DMS)"),
    F("dist_water_m", "number", "m", "Distance to the nearest river or water body", "Jarak ke air (m)",
      "Distance to water (m)", nullable=True, decimals=0),
    F("dist_road_m", "number", "m", "Distance to the nearest road", "Jarak ke jalan (m)",
      "Distance to road (m)", nullable=True, decimals=0),
    F("legality", "string", "", "Position relative to permits and protected forest", "Legalitas",
      "Legality", enum=LEGALITY),
    F("n_confirm", "integer", "count", "Clear observations that confirmed the change", "Jumlah konfirmasi",
      "Confirmations"),
    F("obs_dates", "string", "", "Comma-separated ISO dates of confirming observations",
      "Tanggal pengamatan", "Observation dates"),
    F("evidence", "string", "", "Short text of the evidence kinds", "Bukti", "Evidence"),
    F("d_ndvi", "number", "index", "NDVI change against the baseline median", "Perubahan NDVI",
      "NDVI change", nullable=True, decimals=4),
    F("d_bsi", "number", "index", "BSI (bare soil) change against the baseline median", "Perubahan BSI",
      "BSI change", nullable=True, decimals=4),
    F("d_mndwi", "number", "index", "MNDWI (water) change against the baseline median", "Perubahan MNDWI",
      "MNDWI change", nullable=True, decimals=4),
    F("d_ndti", "number", "index", "NDTI (turbidity) change against the baseline median", "Perubahan NDTI",
      "NDTI change", nullable=True, decimals=4),
    F("verification", "string", "", "Latest field-verification outcome (empty if none)", "Verifikasi",
      "Verification"),
    F("week", "string", "", "ISO week of this publication, YYYY-Www", "Minggu", "Week"),
)

ROAD_DAMAGE: tuple[Field, ...] = (
    F("segment_id", "string", "", "Stable road segment id, {road_id}-{k:04d}", "ID segmen", "Segment ID"),
    F("road_id", "string", "", "Road identifier", "ID jalan", "Road ID"),
    F("kecamatan", "string", "", "Kecamatan holding the segment midpoint", "Kecamatan", "District",
      nullable=True),
    F("kecamatan_slug", "string", "", "ASCII slug of that kecamatan", "Slug kecamatan", "District slug",
      nullable=True),
    F("score", "number", "0-1", "Combined damage evidence", "Skor kerusakan", "Damage score", decimals=3),
    F("confidence", "integer", "0-4", "Damage confidence, 0 none to 4 highest", "Keyakinan", "Confidence"),
    F("damaged", "boolean", "", "Segment judged damaged this week", "Rusak", "Damaged"),
    F("water", "number", "0-1", "Standing-water evidence", "Genangan", "Water", nullable=True, decimals=3),
    F("bare", "number", "0-1", "Bare-soil evidence", "Tanah terbuka", "Bare soil", nullable=True, decimals=3),
    F("veg_loss", "number", "0-1", "Vegetation-loss evidence", "Hilang vegetasi", "Vegetation loss",
      nullable=True, decimals=3),
    F("surface_change", "number", "0-1", "Road-surface change evidence", "Perubahan permukaan",
      "Surface change", nullable=True, decimals=3),
    F("n_clear", "integer", "count", "Clear observations this week", "Pengamatan cerah", "Clear observations"),
    F("length_m", "number", "m", "Segment length", "Panjang (m)", "Length (m)", decimals=0),
    F("week", "string", "", "ISO week of the score, YYYY-Www", "Minggu", "Week"),
)

LAYERS: Mapping[str, tuple[Field, ...]] = {"peti_sites": PETI_SITES, "road_damage": ROAD_DAMAGE}
_GEOMETRY = {"peti_sites": {"Polygon", "MultiPolygon"}, "road_damage": {"LineString", "MultiLineString"}}


def field_names(layer: str) -> list[str]:
    """Property names of ``layer`` in published order."""
    return [f.name for f in _fields(layer)]


def label(layer: str, name: str, lang: str = "id") -> str:
    """Human label of a property in ``lang`` (``id`` or ``en``)."""
    for f in _fields(layer):
        if f.name == name:
            return f.label_en if lang == "en" else f.label_id
    raise LayerSchemaError(f"layer {layer!r} has no property {name!r}; valid are {field_names(layer)}")


def _fields(layer: str) -> tuple[Field, ...]:
    if layer not in LAYERS:
        raise LayerSchemaError(f"unknown layer {layer!r}; valid layers are {sorted(LAYERS)}")
    return LAYERS[layer]


def _check_value(f: Field, v: Any, where: str) -> None:
    if v is None:
        if not f.nullable:
            raise LayerSchemaError(f"{where}: property {f.name!r} is null but the schema requires a value")
        return
    ok = {
        "string": isinstance(v, str),
        "date": isinstance(v, str) and len(v) == 10 and v[4] == "-" and v[7] == "-",
        "integer": isinstance(v, int) and not isinstance(v, bool),
        "number": isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": isinstance(v, bool),
    }[f.type]
    if not ok:
        raise LayerSchemaError(f"{where}: property {f.name!r}={v!r} is not of type {f.type}")
    if f.enum is not None and v not in f.enum:
        raise LayerSchemaError(f"{where}: property {f.name!r}={v!r} is not one of {list(f.enum)}")


def _positions(coords: Any, depth: int) -> list[list[float]]:
    if depth == 0:
        return [coords]
    return [p for c in coords for p in _positions(c, depth - 1)]


def _ring_area2(ring: list[list[float]]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))


def _check_geometry(geom: Any, allowed: set[str], where: str) -> None:
    if not isinstance(geom, dict) or geom.get("type") not in allowed:
        raise LayerSchemaError(f"{where}: geometry must be one of {sorted(allowed)}, got {geom!r:.80}")
    kind, coords = geom["type"], geom.get("coordinates")
    depth = {"Point": 0, "LineString": 1, "Polygon": 2, "MultiLineString": 2, "MultiPolygon": 3}[kind]
    for p in _positions(coords, depth):
        if len(p) != 2 or not (-180 <= p[0] <= 180 and -90 <= p[1] <= 90):
            raise LayerSchemaError(f"{where}: position {p} is not [lon, lat] in WGS 84 (RFC 7946 §3.1.1)")
        if any(round(c, COORD_DECIMALS) != c for c in p):
            raise LayerSchemaError(f"{where}: position {p} has more than {COORD_DECIMALS} decimals")
    polys: list[Any] = [coords] if kind == "Polygon" else list(coords or []) if kind == "MultiPolygon" else []
    for poly in polys:
        for i, ring in enumerate(poly):
            if len(ring) < 4 or ring[0] != ring[-1]:
                raise LayerSchemaError(f"{where}: polygon ring is not closed or has < 4 positions")
            area2 = _ring_area2(ring)
            if (i == 0 and area2 < 0) or (i > 0 and area2 > 0):
                raise LayerSchemaError(f"{where}: ring {i} has the wrong winding (RFC 7946 §3.1.6: "
                                       "exterior counter-clockwise, holes clockwise)")


def validate_layer(fc: Mapping[str, Any], layer: str) -> int:
    """Validate a GeoJSON FeatureCollection of ``layer``; return its feature count.

    Raises
    ------
    LayerSchemaError
        Naming the feature, the property or position, and the rule broken.
    """
    fields = _fields(layer)
    names = [f.name for f in fields]
    if fc.get("type") != "FeatureCollection":
        raise LayerSchemaError(f"{layer}: top-level type must be 'FeatureCollection', got {fc.get('type')!r}")
    if "crs" in fc:
        raise LayerSchemaError(f"{layer}: RFC 7946 forbids a 'crs' member; coordinates are always WGS 84")
    feats = fc.get("features")
    if not isinstance(feats, list):
        raise LayerSchemaError(f"{layer}: 'features' must be a list")
    for i, feat in enumerate(feats):
        where = f"{layer} feature {i}"
        if feat.get("type") != "Feature":
            raise LayerSchemaError(f"{where}: type must be 'Feature'")
        props = feat.get("properties") or {}
        if list(props) != names:
            raise LayerSchemaError(f"{where}: properties {list(props)} differ from the schema order {names}")
        for f in fields:
            _check_value(f, props[f.name], where)
        _check_geometry(feat.get("geometry"), _GEOMETRY[layer], where)
    return len(feats)
