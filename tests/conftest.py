"""Shared fixtures: a small canonical sub-grid and the package's data paths."""

from __future__ import annotations

import pytest

from sarolangun_geo import grid


@pytest.fixture(scope="session")
def small_geobox():
    """A 200 x 200 px (2 x 2 km) sub-grid in Batang Asai, on the canonical grid."""
    return grid.regency_geobox()[4000:4200, 3000:3200]
