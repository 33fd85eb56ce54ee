"""Change evidence: PETI (``mining``, ``water``) per pixel and road damage (``roads``) per segment.

Pure functions over xarray/GeoDataFrames; thresholds come from
``data/config/detection.toml`` and ``roads.toml`` through :mod:`.params`.
"""

from __future__ import annotations

__all__ = ["mining", "params", "roads", "water"]
