"""Road evidence kinds: a change of material, not of moisture, shade or buildings (roads.pixel_flags)."""

from __future__ import annotations

import numpy as np
import pytest

from sarolangun_geo.change import roads
from sarolangun_geo.change.params import load_road_params

RP = load_road_params()


def _px(**kw: float) -> dict[str, np.ndarray]:
    """One clear corridor pixel of a vegetated verge with no change, with ``kw`` changed."""
    base = {"valid": True, "context": 0.0, "mndwi": -0.5, "water_freq": 0.0, "d_mndwi": 0.0, "d_bsi": 0.0,
            "redness": 0.1, "base_ndvi": 0.6, "d_ndvi": 0.0, "darkening": 0.0, "dark_ctx": 0.0, "angle": 0.5}
    return {k: np.array([v]) for k, v in {**base, **kw}.items()}


def _flag(kind: str, **kw: float) -> bool:
    return bool(roads.pixel_flags(_px(**kw), RP)[kind][0])


MUD = {"darkening": 0.3, "angle": 8.0}


def test_surface_change__mud_over_the_verge():
    assert _flag("surface_change", **MUD, d_ndvi=-0.1, d_bsi=0.02)


def test_surface_change__darker_vegetation_with_unchanged_greenness_is_not_damage():
    """Wetter, shaded or seasonal verge vegetation darkens NIR+SWIR without losing NDVI."""
    assert not _flag("surface_change", **MUD, d_ndvi=0.0, d_bsi=-0.03)
    assert not _flag("surface_change", **MUD, d_ndvi=RP.dark_max_dndvi / 2, d_bsi=0.02)


def test_surface_change__greener_soil_signal_falling_is_not_damage():
    """NDVI down but BSI down too (darker, wetter vegetation rather than exposed mud)."""
    assert not _flag("surface_change", **MUD, d_ndvi=-0.1, d_bsi=RP.dark_min_dbsi - 0.05)


def test_surface_change__still_needs_the_darkening_and_the_turned_spectrum():
    assert not _flag("surface_change", darkening=0.3, angle=0.5, d_ndvi=-0.1, d_bsi=0.02)  # only shading
    assert not _flag("surface_change", darkening=RP.dark_min / 2, angle=8.0, d_ndvi=-0.1, d_bsi=0.02)


VEG_LOSS = {"d_ndvi": -0.3, "d_bsi": 0.15}


@pytest.mark.parametrize("extra, expected", [
    ({"redness": 0.25}, True),                                     # red soil: a slide scar, a cut
    ({"redness": 0.0, "darkening": 0.2}, True),                    # grey but darker than around: mud, wet debris
    ({"redness": 0.0}, False),                                     # grey and bright: roofs, concrete, a yard
    ({"redness": RP.veg_loss_min_redness - 0.02}, False),
])
def test_veg_loss__the_new_surface_must_be_soil_or_mud(extra, expected):
    assert _flag("veg_loss", **VEG_LOSS, **extra) is expected


def test_veg_loss__darkening_is_judged_against_the_network():
    """Mud-dark by the land around, but every road of the network darkened as much this week."""
    px = _px(**VEG_LOSS, redness=0.0, darkening=0.2)
    assert roads.pixel_flags(px, RP)["veg_loss"][0]
    assert not roads.pixel_flags(px, RP, network_darkening=0.2)["veg_loss"][0]


def _kinds_at(context: float) -> set[str]:
    px = _px(**MUD, d_ndvi=-0.3, d_bsi=0.15, redness=0.25, mndwi=0.2, d_mndwi=0.5, context=context)
    return {k for k in roads.KINDS if roads.pixel_flags(px, RP)[k][0]}


def test_context__area_wide_change_drops_every_kind():
    assert _kinds_at(RP.context_max_frac + 0.01) == set()


def test_context__land_conversion_drops_bare_and_veg_loss_sooner():
    """Between the two thresholds: clearing or building around, but water and mud on the road still count."""
    assert RP.context_max_frac_land < RP.context_max_frac
    mid = (RP.context_max_frac_land + RP.context_max_frac) / 2
    assert _kinds_at(mid) == {"water", "surface_change"}
    assert _kinds_at(RP.context_max_frac_land - 0.01) == set(roads.KINDS)
