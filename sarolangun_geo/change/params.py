"""Frozen settings of the detection stages, loaded from ``data/config/detection.toml`` / ``roads.toml``.

Each stage owns its dataclass (``MaskParams`` in :mod:`~sarolangun_geo.masking`,
``BaselineParams`` in :mod:`~sarolangun_geo.baseline`, ``WaterParams`` and
``MiningParams`` here); :class:`DetectionParams` bundles them in the sections
of ``detection.toml``.  Load once and pass explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..baseline import BaselineParams
from ..config import CONFIG_DIR, load_dataclass
from ..masking import MaskParams

__all__ = [
    "DETECTION_TOML",
    "ROADS_TOML",
    "DetectionParams",
    "MiningParams",
    "RoadParams",
    "WaterParams",
    "load_detection_params",
    "load_road_params",
]

DETECTION_TOML = CONFIG_DIR / "detection.toml"
ROADS_TOML = CONFIG_DIR / "roads.toml"


@dataclass(frozen=True)
class WaterParams:
    """Water, turbidity and spatial-context settings (``[water]``)."""

    water_mndwi: float = 0.0
    turbid_ndti: float = 0.0
    new_water_margin: float = 0.15
    new_water_max_freq: float = 0.2
    texture_radius_px: int = 4
    texture_min_water: float = 0.04
    texture_min_bare: float = 0.08
    near_water_m: float = 500.0


@dataclass(frozen=True)
class MiningParams:
    """PETI evidence, scoring and persistence settings (``[mining]``)."""

    veg_loss_dndvi: float = -0.25
    veg_loss_z: float = 3.0
    veg_loss_max_ndvi: float = 0.45
    bare_bsi: float = 0.0
    bare_dbsi: float = 0.12
    bare_max_ndvi: float = 0.35
    tailings_min_red: float = 0.19
    tailings_min_green: float = 0.16
    tailings_max_blue_red: float = 0.9
    tailings_radius_px: int = 3
    tailings_min_frac: float = 0.25
    w_veg_loss: float = 0.3
    w_bare: float = 0.2
    w_water: float = 0.25
    w_texture: float = 0.15
    w_near_water: float = 0.1
    support_radius_px: int = 4
    confirm_medium: int = 2
    confirm_high: int = 3
    single_obs_medium_kinds: int = 4
    high_kinds: int = 3
    highest_kinds: int = 4
    reset_after_misses: int = 2
    active_ndvi_drop: float = 0.2
    active_mndwi_step: float = 0.3
    active_ndti_rise: float = 0.1


@dataclass(frozen=True)
class DetectionParams:
    """All PETI detection settings: the sections of ``detection.toml``."""

    masking: MaskParams = field(default_factory=MaskParams)
    baseline: BaselineParams = field(default_factory=BaselineParams)
    water: WaterParams = field(default_factory=WaterParams)
    mining: MiningParams = field(default_factory=MiningParams)


@dataclass(frozen=True)
class RoadParams:
    """Road-damage settings (``roads.toml``; the meaning of each is documented there)."""

    segment_length_m: float = 100.0
    corridor_half_width_m: float = 10.0
    min_clear_frac: float = 0.5
    min_clear_px: int = 5
    water_mndwi: float = 0.0
    water_dmndwi: float = 0.15
    max_base_water_freq: float = 0.2
    bare_dbsi: float = 0.12
    bare_min_redness: float = 0.18
    veg_loss_dndvi: float = -0.2
    veg_base_ndvi: float = 0.5
    veg_loss_min_redness: float = 0.15
    veg_loss_dark_min: float = 0.06
    dark_min: float = 0.12
    dark_min_angle: float = 4.0
    dark_max_dndvi: float = -0.05
    dark_min_dbsi: float = -0.02
    dark_radius_m: float = 100.0
    river_buffer_m: float = 60.0
    river_land_scoring: bool = True
    river_land_max_water_freq: float = 0.05
    river_land_max_mndwi: float = -0.1
    context_radius_m: float = 200.0
    context_max_frac: float = 0.2
    context_max_frac_land: float = 0.15
    context_memory_looks: int = 4
    context_min_seen: float = 0.25
    w_water: float = 1.0
    w_bare: float = 1.0
    w_veg_loss: float = 0.6
    w_surface_change: float = 1.0
    frac_scale: float = 0.4
    damaged_score: float = 0.5
    confidence_steps: tuple[float, ...] = (0.6, 0.8, 0.95)
    persist_looks: int = 2
    persist_window: int = 2
    single_look_score: float = 0.95
    single_look_min_clear_frac: float = 0.95
    single_look_min_px: int = 10
    single_look_max_context: float = 0.1
    single_look_neighbour_score: float = 0.75
    support_score: float = 0.2
    clear_looks: int = 2


def load_detection_params(path: str | Path = DETECTION_TOML) -> DetectionParams:
    """Load :class:`DetectionParams` from a TOML file (default: the shipped ``detection.toml``)."""
    return load_dataclass(DetectionParams, path)


def load_road_params(path: str | Path = ROADS_TOML) -> RoadParams:
    """Load :class:`RoadParams` from a TOML file (default: the shipped ``roads.toml``)."""
    return load_dataclass(RoadParams, path)
