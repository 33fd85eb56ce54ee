"""sarolangun-geo: weekly PETI and road-damage monitoring for Kabupaten Sarolangun.

The core is pure functions over xarray and GeoDataFrames on one canonical grid
(:mod:`sarolangun_geo.grid`); I/O happens only at the edges (``sources``,
``baseline`` state, ``sites`` registry, ``publish``).  See ``docs/architecture.md``.
"""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
