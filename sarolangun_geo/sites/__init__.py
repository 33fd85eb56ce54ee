"""Sites: from the per-pixel evidence to a registry of enforcement targets.

Weekly flow (the pipeline calls these, in this order)::

    reg = Registry(path)
    vec = vectorize(evidence, cfg.polygonize, footprints=reg.sites(),   # tile by tile
                    min_clear_frac=cfg.lifecycle.min_clear_frac)
    gdf = attribute_sites(vec.sites, water=vec.water, roads=roads, permits=permits, forest=forest)
    reg.upsert(week, gdf, roads=road_segments, footprint_stats=vec.footprint_stats, run=RunInfo(...),
               span_weeks=1)                                         # weeks the evidence run folded
    reg.import_verifications("field/2026-W07.xlsx")                   # whenever findings come back

See :mod:`.lifecycle` for the status table and :mod:`.priority` for the score.
"""

from __future__ import annotations

from .attributes import attribute_sites, to_dms
from .legality import LEGALITY_CLASSES, classify_legality
from .lifecycle import STATUSES, next_status
from .params import SitesConfig, load_sites_config
from .polygonize import EvidenceVectors, vectorize, vectorize_tiles
from .priority import priority_scores
from .registry import Registry, RunInfo
from .verification import OUTCOMES, VerificationReport, read_verifications

__all__ = [
    "LEGALITY_CLASSES",
    "OUTCOMES",
    "STATUSES",
    "EvidenceVectors",
    "Registry",
    "RunInfo",
    "SitesConfig",
    "VerificationReport",
    "attribute_sites",
    "classify_legality",
    "load_sites_config",
    "next_status",
    "priority_scores",
    "read_verifications",
    "to_dms",
    "vectorize",
    "vectorize_tiles",
]
