"""Real administrative geography of Kabupaten Sarolangun.

Loads the regency outline, its 11 kecamatan and 158 desa/kelurahan (see
``data/boundaries/SOURCES.md`` for origin and licence) as GeoDataFrames in
EPSG:4326, and looks a kecamatan up by name, slug, Kemendagri or BPS code.

Name lookup is case-, space- and spelling-tolerant: ``Cermin Nan Gadang`` finds
*Cermin Nan Gedang* and ``Batin VIII`` / ``Bathin 8`` find *Bathin VIII*.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import pandas as pd

from .config import DATA_DIR
from .errors import UnknownKecamatanError

__all__ = [
    "BOUNDARY_DIR",
    "find_kecamatan",
    "kecamatan_names",
    "load_desa",
    "load_kecamatan",
    "load_regency",
    "slugify",
]

BOUNDARY_DIR = DATA_DIR / "boundaries"
_ROMAN = {"viii": "8", "vii": "7", "vi": "6", "iv": "4", "ix": "9", "iii": "3", "ii": "2", "v": "5", "x": "10"}


def slugify(name: str) -> str:
    """``"Cermin Nan Gedang" -> "cermin-nan-gedang"`` (ASCII, lowercase, hyphens)."""
    s = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


def _norm(name: str) -> str:
    """Spelling-tolerant key: lowercase words, known variants folded, no spaces."""
    words = slugify(name).split("-")
    out = []
    for w in words:
        w = {"gadang": "gedang", "batin": "bathin", "kecamatan": "", "kec": ""}.get(w, w)
        out.append(_ROMAN.get(w, w))
    return "".join(out)


@lru_cache(maxsize=4)
def _read(path: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(path)


def load_regency() -> gpd.GeoDataFrame:
    """The regency outline (one polygon, EPSG:4326)."""
    return _read(BOUNDARY_DIR / "sarolangun_regency.geojson").copy()


def load_kecamatan() -> gpd.GeoDataFrame:
    """The 11 kecamatan (EPSG:4326) with ``slug`` added, ordered by Kemendagri code.

    Columns: ``kode_kemendagri`` (15.03.01), ``kode_bps`` (1503010, null for
    Mandiangin Timur), ``nama``, ``slug``, ``n_desa_kel``, ``area_km2`` …
    """
    gdf = _read(BOUNDARY_DIR / "sarolangun_kecamatan.geojson").copy()
    gdf["slug"] = gdf["nama"].map(slugify)
    return gdf.sort_values("kode_kemendagri").reset_index(drop=True)


def load_desa() -> gpd.GeoDataFrame:
    """The 158 desa/kelurahan (EPSG:4326) with ``slug`` added."""
    gdf = _read(BOUNDARY_DIR / "sarolangun_desa.geojson").copy()
    gdf["slug"] = gdf["nama"].map(slugify)
    return gdf.sort_values("kode_kemendagri").reset_index(drop=True)


def kecamatan_names() -> list[str]:
    """The 11 kecamatan names as spelled by the source."""
    return list(load_kecamatan()["nama"])


def find_kecamatan(key: str | int) -> pd.Series:
    """Look one kecamatan up by name, slug, Kemendagri code or BPS code.

    Parameters
    ----------
    key
        ``"Batang Asai"``, ``"batang-asai"``, ``"15.03.01"``, ``"1503010"`` or
        ``1503010``.

    Returns
    -------
    pandas.Series
        The kecamatan's row (with ``geometry``).

    Raises
    ------
    UnknownKecamatanError
        Listing the valid names, slugs and codes.
    """
    kec = load_kecamatan()
    k = str(key).strip()
    for col in ("kode_kemendagri", "kode_bps", "slug"):
        hit = kec[kec[col].astype(str) == k]
        if len(hit) == 1:
            return hit.iloc[0]
    nk = _norm(k)
    hit = kec[kec["nama"].map(_norm) == nk]
    if len(hit) == 1:
        return hit.iloc[0]
    valid = ", ".join(f"{r.nama} ({r.slug}, {r.kode_kemendagri}" + (f", {r.kode_bps})" if isinstance(r.kode_bps, str) else ")")
                      for r in kec.itertuples())
    raise UnknownKecamatanError(f"unknown kecamatan {key!r}; valid kecamatan are: {valid}")
