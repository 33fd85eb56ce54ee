"""Settings of the sites layer, loaded from ``data/config/sites.toml``.

One frozen dataclass per concern (vectorising, matching, lifecycle,
verification, priority) and :class:`SitesConfig` holding them all.  The
defaults equal the shipped TOML, so ``SitesConfig()`` is the default setup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import CONFIG_DIR, load_dataclass
from ..errors import ConfigError

__all__ = [
    "DEFAULT_SITES_TOML",
    "LifecycleConfig",
    "MatchingConfig",
    "PolygonizeConfig",
    "PriorityConfig",
    "SitesConfig",
    "VerificationConfig",
    "load_sites_config",
]

DEFAULT_SITES_TOML = CONFIG_DIR / "sites.toml"


@dataclass(frozen=True)
class PolygonizeConfig:
    """Vectorising the evidence raster (see :mod:`.polygonize`)."""

    min_confidence: int = 2
    mmu_ha: float = 0.1
    simplify_m: float = 5.0
    evidence_min_delta: float = 0.05
    #: A polygon's activity date (``last_active``) needs at least this many pixels active on or after it ...
    active_min_px: int = 5
    #: ... and at least this share of its pixels (see :mod:`.polygonize`).
    active_min_frac: float = 0.03


@dataclass(frozen=True)
class MatchingConfig:
    """Matching this week's polygons to registry sites (see :mod:`.matching`)."""

    min_overlap: float = 0.3


@dataclass(frozen=True)
class LifecycleConfig:
    """Status transitions (see :mod:`.lifecycle`)."""

    growth_factor: float = 1.2
    #: Clear weeks without fresh activity before a live site becomes ``tidak_aktif`` (a catch-up
    #: span counts ``min(span_weeks, clear_looks)``; calendar weeks since ``last_seen`` when the
    #: footprint statistics carry no ``clear_frac``).
    inactive_weeks: int = 4
    #: Share of a site's footprint with a clear look in the run for the run to count as observed
    #: (and with ``k`` looks for it to count ``k`` clear looks).
    min_clear_frac: float = 0.5
    rehab_d_ndvi: float = -0.05
    max_obs_dates: int = 20
    #: What makes a run observe a site *active*: ``"evidence"``, a fresh confirming look of the
    #: change against the baseline (an abandoned bare pit keeps confirming it), or ``"change"``, a
    #: fresh look on which enough of its pixels changed since their previous clear look
    #: (``last_active``: new clearing, a pond turning turbid; a static abandoned pit retires).
    #: See ``benchmarks/results/lifecycle.md`` for what each costs.
    activity: str = "evidence"

    def __post_init__(self) -> None:
        if self.activity not in ("evidence", "change"):
            raise ConfigError(f'[lifecycle] activity = {self.activity!r}: use "evidence" or "change"')


@dataclass(frozen=True)
class VerificationConfig:
    """Effect of field verification on alerts."""

    suppress_growth_factor: float = 1.5


@dataclass(frozen=True)
class PriorityConfig:
    """Weights and scales of the priority score (see :mod:`.priority`)."""

    w_growth: float = 20.0
    w_size: float = 15.0
    w_water: float = 20.0
    w_settlement: float = 10.0
    w_forest: float = 10.0
    w_recurrence: float = 10.0
    w_confidence: float = 10.0
    w_outside_permit: float = 5.0
    growth_saturation: float = 1.0
    size_saturation_ha: float = 5.0
    water_scale_m: float = 1000.0
    settlement_scale_m: float = 2000.0
    inactive_factor: float = 0.3
    permit_factor: float = 0.3


@dataclass(frozen=True)
class SitesConfig:
    """All settings of the sites layer."""

    polygonize: PolygonizeConfig = field(default_factory=PolygonizeConfig)
    matching: MatchingConfig = field(default_factory=MatchingConfig)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    verification: VerificationConfig = field(default_factory=VerificationConfig)
    priority: PriorityConfig = field(default_factory=PriorityConfig)


def load_sites_config(path: str | Path = DEFAULT_SITES_TOML) -> SitesConfig:
    """Load :class:`SitesConfig` from a TOML file (default: the shipped one).

    Raises
    ------
    ConfigError
        Unknown or mistyped keys, naming the file and key.
    """
    return load_dataclass(SitesConfig, path)
