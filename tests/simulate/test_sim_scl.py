"""The simulated SCL errs the way Sen2Cor does (unit tests on synthetic 20 m reflectances)."""

from __future__ import annotations

import numpy as np

from sarolangun_geo.bands import SCL
from sarolangun_geo.simulate.scl import classify
from sarolangun_geo.simulate.spectra import SPECTRA

N = 12  # 12 x 12 pixels at 20 m (four 60 m cloud-probability blocks)


def _scl(spec: tuple[float, ...], soil_bias: float = 0.5, shadow: float = 0.0, cirrus: float = 0.0) -> np.ndarray:
    r20 = {b: np.full((N, N), v, np.float32) for b, v in zip(
        ("blue", "green", "red", "nir", "swir16", "swir22"), spec, strict=True)}
    xs = 200_000 + 20 * np.arange(N) + 10.0
    ys = 9_715_000 - 20 * np.arange(N) - 10.0
    return classify(r20, np.full((N, N), shadow, np.float32), np.full((N, N), cirrus, np.float32), xs, ys,
                    seed=1, date_key="2026-01-01", soil_bias=soil_bias)


def _mix(a: str, b: str, w: float) -> tuple[float, ...]:
    return tuple((1 - w) * x + w * y for x, y in zip(SPECTRA[a], SPECTRA[b], strict=True))


def test_classify__covers():
    assert (_scl(SPECTRA["forest"]) == SCL.VEGETATION).all()
    assert (_scl(SPECTRA["river"]) == SCL.WATER).all()
    assert (_scl(SPECTRA["bare"]) == SCL.NOT_VEGETATED).all()
    assert (_scl(SPECTRA["cloud"]) == SCL.CLOUD_HIGH).all()


def test_classify__turbid_ochre_ponds_and_plumes_are_not_vegetated_not_water():
    assert (_scl(SPECTRA["pond_ochre"]) == SCL.NOT_VEGETATED).all()
    assert (_scl(SPECTRA["river_plume"]) == SCL.NOT_VEGETATED).all()


def test_classify__bright_tailings_are_cloud_on_some_dates_only():
    flagged = [(_scl(SPECTRA["tailings"], soil_bias=b) == SCL.CLOUD_MEDIUM).all() for b in np.linspace(0, 1, 11)]
    assert any(flagged) and not all(flagged)


def test_classify__thin_cloud_edges_are_missed():
    thin = _mix("forest", "cloud", 0.12)
    assert not np.isin(_scl(thin), (SCL.CLOUD_MEDIUM, SCL.CLOUD_HIGH)).any()
    assert np.isin(_scl(_mix("forest", "cloud", 0.5)), (SCL.CLOUD_MEDIUM, SCL.CLOUD_HIGH)).all()


def test_classify__shadows_are_found_only_in_part():
    n = 120  # 2.4 km: many 60-120 m detection patches
    dark = [v * 0.35 for v in SPECTRA["forest"]]
    r20 = {b: np.full((n, n), v, np.float32) for b, v in zip(
        ("blue", "green", "red", "nir", "swir16", "swir22"), dark, strict=True)}
    xs = 200_000 + 20 * np.arange(n) + 10.0
    ys = 9_715_000 - 20 * np.arange(n) - 10.0
    s = classify(r20, np.full((n, n), 0.8, np.float32), np.zeros((n, n), np.float32), xs, ys, seed=1,
                 date_key="2026-01-01", soil_bias=0.5)
    found = (s == SCL.CLOUD_SHADOW).mean()
    assert 0.4 < found < 0.95  # Sen2Cor misses a good part of the cloud shadows
