"""The input edge: Sentinel-2 L2A from STAC, Sentinel Hub or local COGs into one lazy cube.

Public API: :func:`load_cube` and the sources behind the :class:`Source` protocol.
See ``docs/architecture.md`` §2 for the cube contract.
"""

from __future__ import annotations

from .base import Source
from .cube import load_cube, resolve_aoi, resolve_source
from .local import LocalFolderSource
from .stac import StacSource

__all__ = [
    "LocalFolderSource",
    "SentinelHubSource",
    "Source",
    "StacSource",
    "load_cube",
    "resolve_aoi",
    "resolve_source",
]


def __getattr__(name: str):  # sentinelhub is imported only when used
    if name == "SentinelHubSource":
        from .sentinelhub import SentinelHubSource

        return SentinelHubSource
    raise AttributeError(name)
