"""Fixtures of the change tests; the synthetic world itself is in ``synth_world.py``."""

from __future__ import annotations

import pytest
from synth_world import make_world


@pytest.fixture(scope="session")
def world():
    """(baseline cube, monitoring cube) of :func:`synth_world.make_world`."""
    return make_world()
