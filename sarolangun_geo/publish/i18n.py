"""Every human-readable string of reports, field sheets and exports, in id and en.

Bahasa Indonesia (``id``) is the default; English (``en``) is the second
language.  Column labels of the layers live in :mod:`.schema`; everything
else lives here, so a translator edits one file.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ExportError

__all__ = ["CATALOG", "LANGS", "compass", "legality_label", "status_label", "strings", "t"]

LANGS = ("id", "en")

CATALOG: Mapping[str, tuple[str, str]] = {
    # statuses
    "status.baru": ("Baru", "New"),
    "status.aktif": ("Aktif", "Active"),
    "status.meluas": ("Meluas", "Expanding"),
    "status.tidak_aktif": ("Tidak aktif", "Inactive"),
    "status.rehabilitasi": ("Rehabilitasi", "Rehabilitated"),
    "status.aktif_kembali": ("Aktif kembali", "Reactivated"),
    # legality
    "legality.dalam_izin": ("Dalam izin", "Inside a permit"),
    "legality.luar_izin": ("Di luar izin", "Outside permits"),
    "legality.hutan_lindung": ("Hutan lindung", "Protected forest"),
    "legality.tidak_diketahui": ("Tidak diketahui", "Unknown"),
    # places
    "place.regency": ("Kabupaten Sarolangun", "Sarolangun Regency"),
    "place.kecamatan": ("Kecamatan {name}", "{name} District"),
    # page
    "title.regency": ("Laporan Mingguan PETI dan Kerusakan Jalan — Kabupaten Sarolangun",
                      "Weekly PETI and Road Damage Report — Sarolangun Regency"),
    "title.kecamatan": ("Laporan Mingguan PETI dan Kerusakan Jalan — Kecamatan {name}",
                        "Weekly PETI and Road Damage Report — {name} District"),
    "week": ("Minggu {week} ({start} s.d. {end})", "Week {week} ({start} to {end})"),
    "generated_from": ("Sumber: citra Sentinel-2 L2A; konfigurasi {config}",
                       "Source: Sentinel-2 L2A imagery; configuration {config}"),
    "nav.regency": ("Kabupaten", "Regency"),
    "nav.kecamatan": ("Kecamatan", "Districts"),
    "nav.other_lang": ("English", "Bahasa Indonesia"),
    "summary": ("Ringkasan", "Summary"),
    "summary.status": ("Status", "Status"),
    "summary.count": ("Jumlah lokasi", "Sites"),
    "summary.area": ("Luas (ha)", "Area (ha)"),
    "summary.change": ("Perubahan dari minggu lalu", "Change from last week"),
    "summary.total": ("Total", "Total"),
    "summary.roads": ("Segmen jalan rusak: {n} dari {total} ({km} km)",
                      "Damaged road segments: {n} of {total} ({km} km)"),
    "summary.no_prev": ("tidak ada data minggu lalu", "no data for last week"),
    "map": ("Peta", "Map"),
    "map.help": ("Klik titik untuk rincian. Peta tetap bekerja tanpa internet; latar peta daring "
                 "hanya tampil jika ada koneksi.",
                 "Click a point for details. The map works offline; the online basemap appears "
                 "only with a connection."),
    "map.features": ("{n} objek di peta", "{n} features on the map"),
    "legend": ("Legenda", "Legend"),
    "legend.sites": ("Lokasi PETI (status)", "PETI sites (status)"),
    "legend.roads": ("Skor kerusakan jalan", "Road damage score"),
    "legend.road_low": ("rendah", "low"),
    "legend.road_high": ("tinggi", "high"),
    "legend.boundaries": ("Batas kecamatan / desa", "District / village boundaries"),
    "layer.truecolour": ("Citra warna asli minggu ini", "True-colour image of the week"),
    "layer.kecamatan": ("Batas kecamatan", "District boundaries"),
    "layer.desa": ("Batas desa", "Village boundaries"),
    "layer.sites": ("Lokasi PETI", "PETI sites"),
    "layer.roads": ("Kerusakan jalan", "Road damage"),
    "layer.basemap": ("Peta dasar OpenStreetMap (daring)", "OpenStreetMap basemap (online)"),
    "trend": ("Tren", "Trend"),
    "trend.area": ("Luas PETI aktif (ha) per minggu", "Active PETI area (ha) by week"),
    "trend.new": ("Lokasi baru per minggu", "New sites by week"),
    "trend.none": ("Belum ada riwayat.", "No history yet."),
    "table": ("Daftar lokasi (urut prioritas)", "Sites by priority"),
    "table.more": ("{n} lokasi lain ada di berkas ekspor.", "{n} more sites are in the export files."),
    "table.empty": ("Tidak ada lokasi PETI minggu ini.", "No PETI sites this week."),
    "exports": ("Unduhan", "Downloads"),
    "exports.help": ("Untuk GPS, Google Earth, Excel dan QGIS.", "For GPS units, Google Earth, Excel and QGIS."),
    "popup.before": ("Sebelum", "Before"),
    "popup.after": ("Sesudah", "After"),
    "popup.tc": ("warna asli", "true colour"),
    "popup.swir": ("SWIR", "SWIR"),
    "popup.coords": ("Koordinat", "Coordinates"),
    "popup.dates": ("Terlihat", "Seen"),
    "popup.segment": ("Segmen jalan", "Road segment"),
    "popup.score": ("Skor", "Score"),
    "confidence.0": ("tidak ada", "none"),
    "confidence.1": ("rendah", "low"),
    "confidence.2": ("sedang", "medium"),
    "confidence.3": ("tinggi", "high"),
    "confidence.4": ("sangat tinggi", "highest"),
    "fmt.geojson": ("GeoJSON (QGIS)", "GeoJSON (QGIS)"),
    "fmt.csv": ("CSV", "CSV"),
    "fmt.xlsx": ("Excel (XLSX)", "Excel (XLSX)"),
    "fmt.kmz": ("Google Earth (KMZ)", "Google Earth (KMZ)"),
    "fmt.gpx": ("GPS (GPX)", "GPS (GPX)"),
    "fmt.gpkg": ("GeoPackage", "GeoPackage"),
    "fmt.pdf": ("Lembar lapangan (PDF)", "Field sheet (PDF)"),
    "fmt.html": ("Lembar lapangan (HTML)", "Field sheet (HTML)"),
    "fmt.zip": ("Paket bukti (ZIP)", "Evidence pack (ZIP)"),
    "fmt.stac": ("Katalog STAC", "STAC catalog"),
    # field sheet
    "sheet.title": ("Lembar Verifikasi Lapangan PETI", "PETI Field Verification Sheet"),
    "sheet.directions": ("Arah dari jalan terdekat", "Directions from the nearest road"),
    "sheet.directions_text": ("{dist} ke arah {compass} ({bearing}°) dari titik jalan {lat}, {lon}",
                              "{dist} towards {compass} ({bearing}°) from the road point {lat}, {lon}"),
    "sheet.no_roads": ("tidak ada data jalan", "no road data"),
    "sheet.decimal": ("Desimal", "Decimal"),
    "sheet.check.visited": ("Lokasi dikunjungi", "Site visited"),
    "sheet.check.active": ("PETI aktif ditemukan", "Active PETI found"),
    "sheet.check.inactive": ("Bekas PETI, tidak aktif", "Former PETI, inactive"),
    "sheet.check.none": ("Tidak ada PETI (salah deteksi)", "No PETI (false detection)"),
    "sheet.check.photo": ("Foto diambil", "Photos taken"),
    "sheet.notes": ("Catatan", "Notes"),
    "sheet.officer": ("Petugas / tanggal", "Officer / date"),
    "sheet.sites": ("{n} lokasi", "{n} sites"),
}

_COMPASS = {"id": ("U", "TL", "T", "TG", "S", "BD", "B", "BL"), "en": ("N", "NE", "E", "SE", "S", "SW", "W", "NW")}


def _check(lang: str) -> int:
    if lang not in LANGS:
        raise ExportError(f"language {lang!r} is not supported; use one of {list(LANGS)}")
    return LANGS.index(lang)


def t(key: str, lang: str = "id", **fmt: object) -> str:
    """The string ``key`` in ``lang``, formatted with ``fmt`` (unescaped: templates escape)."""
    i = _check(lang)
    try:
        s = CATALOG[key][i]
    except KeyError:
        raise ExportError(f"no string {key!r} in the i18n catalog; add it to publish/i18n.py") from None
    return s.format(**fmt) if fmt else s


def status_label(status: str, lang: str = "id") -> str:
    """Human label of a site status (falls back to the raw value)."""
    key = f"status.{status}"
    return t(key, lang) if key in CATALOG else str(status)


def legality_label(value: str, lang: str = "id") -> str:
    """Human label of a legality class (falls back to the raw value)."""
    key = f"legality.{value}"
    return t(key, lang) if key in CATALOG else str(value)


def compass(bearing: float, lang: str = "id") -> str:
    """Eight-point compass abbreviation of a bearing in degrees."""
    return _COMPASS[lang][int(((bearing % 360) + 22.5) // 45) % 8]


def strings(lang: str = "id") -> dict[str, str]:
    """The whole catalog in one language (for templates and embedded JS)."""
    i = _check(lang)
    return {k: v[i] for k, v in CATALOG.items()}


