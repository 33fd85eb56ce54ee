"""Render one tile on one date: surface reflectance, terrain, atmosphere, clouds, noise.

Order of the physics (each step on the tile grid with its margin):

1. base cover spectra x texture, with phenology (rubber wintering, rice cycle,
   grass greening) and soil wetness;
2. rivers (turbid main channel, darker forest streams) and roads mixed by area fraction;
3. events (PETI, road damage, clearing, landslide, village growth, sandbars, dredge plumes);
4. residual terrain shading after Sen2Cor (half of the cos(i)/cos(z) effect kept) and cast shadow;
5. sensor PSF (Gaussian, σ 0.45 px) and residual adjacency (4 % of a 80 m blur);
6. residual aerosol/haze (smoke in the Aug–Oct fire season), thin cirrus, clouds
   (fBm at 20 m) and their shadows displaced by ``h · tan(zenith)`` away from the sun;
7. radiometric noise and calibration jitter.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from . import terrain
from .config import Acquisition, SimConfig
from .events import Event, is_active, sandbar_exposed
from .landscape import TileLayers
from .noise import fractal, key_of, rng_for
from .spectra import (
    Cover,
    month_cloud_mean,
    rice_state,
    river_stage,
    rubber_wintering,
    spectrum,
    wetness,
)

__all__ = ["DateParams", "date_params", "render"]

_SIGMA = np.array([0.0030, 0.0030, 0.0032, 0.0045, 0.0040, 0.0035], np.float32)  # radiometric noise (refl.)


@dataclass(frozen=True)
class DateParams:
    """Scene-wide (not per-tile) conditions of one acquisition."""

    cloud_frac: float
    cloud_spacing: float
    cloud_height: float
    haze: float
    smoke: bool
    cirrus: float
    gain: tuple[float, ...]
    soil_cloud_bias: float
    rain: float


def date_params(cfg: SimConfig, acq: Acquisition) -> DateParams:
    """Draw the acquisition's weather from the monthly climatology (deterministic by seed and date)."""
    rng = rng_for(cfg.seed, "date", acq.date.isoformat())
    m = month_cloud_mean(acq.date.month, cfg.cloud_regime)
    k = 2.2
    frac = float(np.clip(rng.beta(m * k, (1 - m) * k), 0, 0.995)) if m > 0 else 0.0
    wet = acq.date.month in (10, 11, 12, 1, 2, 3, 4)
    spacing = float(math.exp(rng.uniform(math.log(2500), math.log(18000 if wet else 7000))))
    smoke = acq.date.month in (8, 9, 10) and rng.random() < 0.3
    return DateParams(
        cloud_frac=frac, cloud_spacing=spacing, cloud_height=float(rng.uniform(700, 3000)),
        haze=float(rng.gamma(2.0, 0.12) + (0.9 if smoke else 0.0)), smoke=smoke,
        cirrus=float(rng.uniform(0, 0.12) if rng.random() < (0.45 if wet else 0.25) else 0.0),
        gain=tuple(float(g) for g in 1 + rng.normal(0, 0.012, 6)),
        soil_cloud_bias=float(rng.uniform(0, 1)), rain=float(rng.uniform(0, 1) * wetness(acq.date)),
    )


def _mix(R: np.ndarray, mask: np.ndarray, spec: np.ndarray, w: np.ndarray | float = 1.0) -> None:
    """In place on the private buffer ``R``: R = (1-w) R + w spec where ``mask``."""
    ww = np.broadcast_to(np.asarray(w, np.float32), mask.shape)[mask]
    R[:, mask] = R[:, mask] * (1 - ww) + spec[:, None] * ww


def _base(L: TileLayers, d: dt.date, dp: DateParams) -> np.ndarray:
    c = L.cover
    R = np.empty((6, *c.shape), np.float32)
    wint = rubber_wintering(d)
    wet = wetness(d)
    table = {
        Cover.FOREST: spectrum("forest"),
        Cover.RUBBER: spectrum("rubber") * (1 - wint) + (0.55 * spectrum("rubber") + 0.45 * spectrum("felled")) * wint,
        Cover.OIL_PALM: spectrum("oil_palm"), Cover.YOUNG_PALM: spectrum("young_palm"),
        Cover.SHRUB: spectrum("shrub"),
        Cover.GRASS: spectrum("grass") * (0.9 + 0.1 * wet) + spectrum("stubble") * 0.1 * (1 - wet),
        Cover.VILLAGE: spectrum("village"), Cover.BARE: spectrum("bare"), Cover.RICE: spectrum("stubble"),
    }
    lut = np.zeros((16, 6), np.float32)
    for k, v in table.items():
        lut[k] = v
    R[:] = np.moveaxis(lut[c], -1, 0)
    R *= L.tex[None]
    R[3:] *= (1 + 0.05 * L.tex2)[None]
    vil = c == Cover.VILLAGE
    _mix(R, vil, spectrum("roof"), L.roof)
    rice = L.rice_id > 0
    if rice.any():
        _rice(R, L, d)
    soil = np.isin(c, (Cover.BARE, Cover.YOUNG_PALM, Cover.VILLAGE))
    R[:, soil] *= 1 - 0.15 * dp.rain
    return R


def _rice(R: np.ndarray, L: TileLayers, d: dt.date) -> None:
    m = L.rice_id > 0
    doy = d.timetuple().tm_yday
    t1 = (doy - L.rice_fl[0][m] - L.rice_phase[m]) % 365.25
    t2 = (doy - L.rice_fl[1][m] - L.rice_phase[m]) % 365.25
    t = np.where((L.rice_fl[2][m] > 1) & (t2 < t1), t2, t1)
    fw, gw, rw, sw = rice_state(t)
    spec = (fw[None] * spectrum("rice_flooded")[:, None] + gw[None] * spectrum("rice_green")[:, None]
            + rw[None] * spectrum("rice_ripe")[:, None] + sw[None] * spectrum("stubble")[:, None])
    R[:, m] = spec * (1 + 0.4 * (L.tex[m] - 1))[None]


def _water(R: np.ndarray, L: TileLayers, d: dt.date, plume_on: np.ndarray) -> None:
    m = L.river > 0
    stage = river_stage(d)
    turb = 0.85 + 0.3 * stage
    riv = spectrum("river") * np.array([1, turb, turb, turb, 1, 1], np.float32)
    trib = 0.5 * spectrum("dark_water") + 0.5 * spectrum("river")
    mm = L.river_main[m]
    spec = mm[None] * riv[:, None] + (1 - mm[None]) * trib[:, None]
    pw = (L.plume_w * plume_on)[m]
    spec = spec * (1 - pw[None]) + spectrum("river_plume")[:, None] * pw[None]
    fr = L.river[m]
    R[:, m] = R[:, m] * (1 - fr) + spec * fr


def _roads(R: np.ndarray, L: TileLayers, rain: float) -> None:
    m = L.road > 0
    p = L.paved[m]
    dirt = spectrum("laterite") * (1 - 0.3 * rain) + spectrum("mud") * 0.3 * rain
    spec = p[None] * spectrum("asphalt")[:, None] + (1 - p[None]) * dirt[:, None]
    fr = np.minimum(L.road[m] * 1.4, 1)  # verges and shoulders are bare too
    R[:, m] = R[:, m] * (1 - fr) + spec * fr


def _events(R: np.ndarray, L: TileLayers, events: dict[int, Event], d: dt.date, seed: int,
            rain: float) -> np.ndarray:
    """Apply the events; returns the per-pixel 'dredge plume on' factor (0/1)."""
    plume_on = np.zeros(L.river.shape, np.float32)
    for code in np.unique(L.ev_code):
        if code == 0:
            continue
        ev = events[int(code)]
        m = L.ev_code == code
        f = L.ev_f[m]
        act = is_active(ev, f, d, seed)
        if not act.any():
            continue
        mm = np.zeros_like(m)
        mm[m] = act
        age = ((d - ev.start).days - ev.grow_days * f[act]).astype(np.float32)
        since_end = (d - ev.end).days if ev.end else -1
        getattr(_EVENT_RENDER, ev.kind)(R, L, mm, age, since_end, rain, ev)
    for code in np.unique(L.plume_code):
        if code == 0:
            continue
        ev = events[int(code)]
        if (d - ev.start).days >= 5 and (ev.end is None or d <= ev.end):
            plume_on[L.plume_code == code] = 1.0
    return plume_on


class _EVENT_RENDER:
    @staticmethod
    def peti(R, L, mm, age, since_end, rain, ev) -> None:  # type: ignore[no-untyped-def]
        sub = L.sub[mm]
        pond, tail = sub < 0.38, sub > 0.58
        spec = np.empty((6, sub.size), np.float32)
        wet_sand = spectrum("tailings") * (1 - 0.25 * rain)
        spec[:] = (0.55 * spectrum("bare") + 0.45 * spectrum("mud"))[:, None]
        spec[:, tail] = wet_sand[:, None]
        if since_end > 0:  # abandoned: ponds settle and green, spoil revegetates
            g = min(1.0, since_end / 150)
            spec[:, pond] = ((1 - g) * spectrum("pond_ochre") + g * spectrum("pond_green"))[:, None]
            v = min(0.7, since_end / 400)
            land = ~pond
            spec[:, land] = spec[:, land] * (1 - v) + ((spectrum("grass") + spectrum("shrub")) / 2)[:, None] * v
        else:
            g = np.clip((0.3 - sub[pond]) / 0.3, 0, 0.7)[None]  # deeper/older pits: darker, greener
            spec[:, pond] = spectrum("pond_ochre")[:, None] * (1 - g) + spectrum("pond_green")[:, None] * g
        fresh = age < 14  # first two weeks: felled vegetation and bare ground
        spec[:, fresh] = (0.5 * spectrum("felled") + 0.5 * spectrum("bare"))[:, None]
        R[:, mm] = spec * (1 + 0.5 * (L.tex[mm] - 1))[None]

    @staticmethod
    def road_damage(R, L, mm, age, since_end, rain, ev) -> None:  # type: ignore[no-untyped-def]
        if since_end > 0:
            return  # repaired
        if ev.params["cause"] == "landslide":
            v = min(0.5, max(0, age.max() - 150) / 500)
            spec = spectrum("landslide") * (1 - v) + spectrum("grass") * v
            R[:, mm] = spec[:, None] * L.tex[mm][None]
            return
        puddle = L.sub[mm] < 0.35
        spec = np.where(puddle[None], (0.5 * spectrum("mud") + 0.5 * spectrum("river"))[:, None],
                        spectrum("mud")[:, None] * (1 - 0.2 * rain))
        w = np.clip(0.35 + 0.6 * np.maximum(L.road[mm], 0.25), 0, 0.9)[None]
        R[:, mm] = R[:, mm] * (1 - w) + spec * w

    @staticmethod
    def plantation_clearing(R, L, mm, age, since_end, rain, ev) -> None:  # type: ignore[no-untyped-def]
        X = L.xs[None, :].repeat(len(L.ys), 0)[mm]
        Y = L.ys[:, None].repeat(len(L.xs), 1)[mm]
        a = ev.params["angle"]
        stripe = ((-X * math.sin(a) + Y * math.cos(a)) // 30) % 2 == 0  # windrows / planting terraces
        felled = age < 25
        bare = ~felled & (age < 90)
        grow = np.clip((age - 90) / 420, 0, 1)
        target = spectrum("young_palm") if ev.params["replant"] == "oil_palm" else spectrum("shrub")
        spec = (1 - grow[None]) * spectrum("bare")[:, None] + grow[None] * target[:, None]
        spec[:, bare & stripe] = (0.5 * spectrum("burnt") + 0.5 * spectrum("bare"))[:, None]
        spec[:, felled] = spectrum("felled")[:, None]
        spec *= 1 - 0.15 * rain
        R[:, mm] = spec * L.tex[mm][None]

    @staticmethod
    def landslide(R, L, mm, age, since_end, rain, ev) -> None:  # type: ignore[no-untyped-def]
        v = np.clip((age - 120) / 600, 0, 0.7)[None]
        spec = spectrum("landslide")[:, None] * (1 - 0.15 * rain) * (1 - v) + spectrum("grass")[:, None] * v
        R[:, mm] = spec * L.tex[mm][None]

    @staticmethod
    def village_growth(R, L, mm, age, since_end, rain, ev) -> None:  # type: ignore[no-untyped-def]
        w = np.clip(age / 90, 0, 1)[None] * 0.85
        spec = spectrum("village")[:, None] * (1 - L.roof[mm][None]) + spectrum("roof")[:, None] * L.roof[mm][None]
        R[:, mm] = R[:, mm] * (1 - w) + spec * w

    @staticmethod
    def sandbar(R, L, mm, age, since_end, rain, ev) -> None:  # type: ignore[no-untyped-def]
        f = L.ev_f[mm]
        wetedge = np.clip(1 - (f - f.min()) / 0.15, 0, 1)[None]
        spec = spectrum("sand")[:, None] * (1 - 0.45 * wetedge) + spectrum("mud")[:, None] * 0.45 * wetedge
        R[:, mm] = spec * L.tex[mm][None]


def _clouds(L: TileLayers, acq: Acquisition, dp: DateParams, seed: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Cloud, shadow and cirrus opacity, the cloud field and its threshold, at 20 m (margin grid)."""
    xs20, ys20 = L.xs[::2] + 5, L.ys[::2] - 5
    key = key_of(seed, "cloud", acq.date.isoformat())
    if dp.cloud_frac <= 0.002:
        z = np.zeros((len(ys20), len(xs20)), np.float32)
        return z, z, z, z, 9.0
    from scipy.special import ndtri

    thr = float(ndtri(1 - dp.cloud_frac)) * 0.8

    def opacity(xs, ys):  # type: ignore[no-untyped-def]
        c = fractal(xs, ys, dp.cloud_spacing, key, octaves=9, persistence=0.58, min_spacing=30)
        return 1 - np.exp(-np.clip(c - thr, 0, None) * 3.5), c

    alpha, c = opacity(xs20, ys20)
    zen, az = math.radians(acq.sun_zenith), math.radians(acq.sun_azimuth)
    disp = dp.cloud_height * math.tan(zen)
    shadow, _ = opacity(xs20 + disp * math.sin(az), ys20 + disp * math.cos(az))
    ci = np.zeros_like(alpha)
    if dp.cirrus > 0:
        ci = dp.cirrus * np.clip(0.5 + 0.5 * fractal(xs20, ys20, 25000, key + 1, octaves=4), 0, 1)
    return alpha.astype(np.float32), shadow.astype(np.float32), ci.astype(np.float32), c, thr


def up(a: np.ndarray) -> np.ndarray:
    """20 m -> 10 m by pixel replication."""
    return np.repeat(np.repeat(a, 2, 0), 2, 1)


def render(L: TileLayers, events: dict[int, Event], acq: Acquisition, dp: DateParams, cfg: SimConfig
           ) -> dict[str, np.ndarray]:
    """Top-of-canopy-to-L2A simulation for one tile and date, on the margin grid.

    Returns float32 reflectance ``blue..nir`` (10 m), ``swir16``/``swir22`` (20 m) and the
    truth opacities ``cloud``, ``shadow``, ``cirrus`` (20 m) and ``illum`` (20 m).
    """
    d, seed = acq.date, cfg.seed
    R = _base(L, d, dp)
    plume_on = np.zeros(L.river.shape, np.float32)
    _roads(R, L, dp.rain)
    ev_plume = _events(R, L, events, d, seed, dp.rain) if L.ev_code.any() or L.plume_code.any() else plume_on
    Rw = R.copy()
    _water(Rw, L, d, ev_plume)
    keep = L.ev_code > 0  # PETI ponds etc. replace the channels they dig into
    keep &= np.isin(L.ev_code, [c for c, e in events.items() if e.kind in ("peti", "plantation_clearing")])
    sb = np.isin(L.ev_code, [c for c, e in events.items() if e.kind == "sandbar"])
    if sb.any():
        keep |= sb & sandbar_exposed(L.ev_f, seed, d)
    R = np.where(keep[None], R, Rw)

    illum = terrain.illumination(L.slope, L.aspect, acq.sun_zenith, acq.sun_azimuth)
    shade = 0.3 + 0.7 * illum  # Sen2Cor's terrain correction leaves most of the shading
    z20 = L.dem[::4, ::4]
    cast = terrain.cast_shadow(z20, acq.sun_zenith, acq.sun_azimuth, res=40.0, max_dist=320.0)
    cast = np.repeat(np.repeat(cast, 4, 0), 4, 1)[: R.shape[1], : R.shape[2]]
    shade = np.where(cast, np.minimum(shade, 0.3), shade)
    water = L.river > 0.5
    shade[water] = 1.0
    R *= shade[None]

    ny, nx = R.shape[1:]
    for b in range(6):  # residual adjacency: 4 % of an ~80 m blur (computed at 40 m), then the PSF
        coarse = R[b, : ny // 4 * 4, : nx // 4 * 4].reshape(ny // 4, 4, nx // 4, 4).mean(axis=(1, 3))
        blur = np.repeat(np.repeat(ndimage.gaussian_filter(coarse, 2.0, mode="nearest"), 4, 0), 4, 1)
        blur = np.pad(blur, ((0, ny - blur.shape[0]), (0, nx - blur.shape[1])), mode="edge")
        R[b] = 0.96 * ndimage.gaussian_filter(R[b], 0.45, mode="nearest", truncate=3.0) + 0.04 * blur

    alpha, shadow, ci, cval, thr_c = _clouds(L, acq, dp, seed)
    a10, s10, c10 = (ndimage.gaussian_filter(up(v), 0.7) for v in (alpha, shadow, ci))
    hz = dp.haze * np.clip(0.6 + 0.3 * fractal(L.xs[::8], L.ys[::8], 20000, key_of(seed, "haze", d), 3), 0, 2)
    hz = np.repeat(np.repeat(hz, 8, 0), 8, 1)[: R.shape[1], : R.shape[2]]
    path = spectrum("smoke_path" if dp.smoke else "haze_path")
    cloud = spectrum("cloud")
    # cloud-top brightness: sunlit tops and grey, self-shadowed flanks and bases
    ctex = up(np.clip(0.72 + 0.2 * np.tanh(1.5 * (cval - thr_c)) + 0.12 * fractal(
        L.xs[::2], L.ys[::2], 600.0, key_of(seed, "ctex", d), octaves=4, min_spacing=30), 0.4, 1.25))
    R *= (1 - 0.75 * s10 * (1 - a10))[None]
    for b in range(6):
        R[b] = R[b] * (1 - 0.15 * hz) + path[b] * hz
        R[b] = R[b] * (1 - c10) + c10 * cloud[b] * (0.9 if b < 4 else 0.35)
        R[b] = R[b] * (1 - a10) + a10 * cloud[b] * ctex
        R[b] *= dp.gain[b]

    rng = rng_for(seed, "noise", d.isoformat(), L.tile_id)
    out: dict[str, np.ndarray] = {}
    for b, name in enumerate(("blue", "green", "red", "nir")):
        sig = _SIGMA[b] * cfg.noise_scale * (1 + 3 * R[b])
        out[name] = R[b] + sig * rng.standard_normal(R[b].shape, dtype=np.float32)
    for b, name in ((4, "swir16"), (5, "swir22")):
        r20 = R[b].reshape(R.shape[1] // 2, 2, R.shape[2] // 2, 2).mean(axis=(1, 3))
        sig = _SIGMA[b] * cfg.noise_scale * (1 + 3 * r20)
        out[name] = r20 + sig * rng.standard_normal(r20.shape, dtype=np.float32)
    out.update(cloud=alpha, shadow=shadow * (1 - alpha), cirrus=ci,
               illum=illum.reshape(alpha.shape[0], 2, alpha.shape[1], 2).mean(axis=(1, 3)),
               cast=cast[::2, ::2])
    return out
