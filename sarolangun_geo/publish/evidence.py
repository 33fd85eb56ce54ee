"""Evidence packs: the sites as GeoJSON, their chips, and a manifest with hashes.

The zip holds ``peti_sites.geojson``, ``chips/<site_id>_<key>.png`` and
``manifest.json`` listing every other member with its size and SHA-256, plus
the provenance of the week (input items, config hash, software version) so a
pack can be checked and traced long after it left the office.  Entries are
sorted and stamped 1980-01-01, so the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from .. import __version__
from ._io import atomic_write_bytes, deterministic_zip, dumps_json
from .chips import CHIP_KEYS
from .layers import dumps_feature_collection, feature_collection
from .schema import validate_layer

__all__ = ["manifest", "write_evidence_pack"]


def manifest(members: list[tuple[str, bytes]], provenance: Mapping[str, Any]) -> dict[str, Any]:
    """Manifest dict: ``files`` (path, bytes, sha256) and ``provenance``."""
    return {
        "generator": f"sarolangun-geo {__version__}",
        "files": [{"path": n, "bytes": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in members],
        "provenance": dict(provenance),
    }


def write_evidence_pack(sites: gpd.GeoDataFrame, path: str | Path, *, chips: pd.DataFrame | None,
                        chips_root: str | Path | None, provenance: Mapping[str, Any]) -> Path:
    """Write the evidence zip of prepared ``sites`` to ``path`` (atomic, deterministic)."""
    fc = feature_collection(sites, "peti_sites")
    validate_layer(fc, "peti_sites")
    members: list[tuple[str, bytes]] = [("peti_sites.geojson", dumps_feature_collection(fc).encode())]
    if chips is not None and chips_root is not None:
        for sid in sites["site_id"]:
            if sid not in chips.index:
                continue
            for key in CHIP_KEYS:
                rel = chips.loc[sid, key]
                if rel:
                    members.append((rel, (Path(chips_root) / rel).read_bytes()))
    man = dumps_json(manifest(members, provenance)).encode()
    return atomic_write_bytes(path, deterministic_zip([*members, ("manifest.json", man)]))
