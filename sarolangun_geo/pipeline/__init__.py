"""Pipelines: ``backfill`` builds the baseline, ``weekly`` runs one ISO week end to end.

Plain functions (see :mod:`.run`); run configurations are TOML files in
``pipelines/`` loaded with :func:`load_run_config`.
"""

from __future__ import annotations

from .run import RunSummary, aoi_geometry, backfill, last_complete_week, status, weekly
from .runconfig import RunConfig, load_run_config
from .scheduler import use_scheduler

__all__ = [
    "RunConfig",
    "RunSummary",
    "aoi_geometry",
    "backfill",
    "last_complete_week",
    "load_run_config",
    "status",
    "use_scheduler",
    "weekly",
]
