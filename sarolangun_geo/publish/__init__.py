"""Publishing of one week: layers, rasters, chips, reports, exports, STAC.

The top-level entry is :func:`publish_week`; :func:`export_sites` with a
:class:`SiteFilter` serves the ``sarolangun-geo export`` command.
"""

from __future__ import annotations

from .chips import ChipSettings, render_site_chips, write_chips
from .exports import FORMATS, SiteFilter, export_sites, filter_sites
from .layers import feature_collection, prepare_roads, prepare_sites, write_layers
from .report import ReportSettings, render_report, write_reports
from .schema import LAYERS, validate_layer
from .week import PublishSettings, WeekOutputs, publish_week

__all__ = [
    "FORMATS",
    "LAYERS",
    "ChipSettings",
    "PublishSettings",
    "ReportSettings",
    "SiteFilter",
    "WeekOutputs",
    "export_sites",
    "feature_collection",
    "filter_sites",
    "prepare_roads",
    "prepare_sites",
    "publish_week",
    "render_report",
    "render_site_chips",
    "validate_layer",
    "write_chips",
    "write_layers",
    "write_reports",
]
