"""Simulator settings: the frozen :class:`SimConfig`, named scenarios and the acquisition plan.

Everything the simulator draws is a function of ``SimConfig`` (and its seed), so a
config fully identifies a catalog.  The acquisition plan follows Sentinel-2's
5-day revisit over Sarolangun: one descending pass at about 10:30 local solar time
(03:38 UTC at 102.5° E), alternating platforms.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from odc.geo.geobox import GeoBox

from .. import aoi, bands, grid
from ..errors import ConfigError

__all__ = [
    "SCENARIOS",
    "Acquisition",
    "SimConfig",
    "acquisitions",
    "scenario",
    "sim_geobox",
    "sim_tiles",
    "sun_position",
]

CloudRegime = Literal["sumatra", "heavy", "light", "clear"]

#: A fixed date on the simulated relative orbit: every acquisition is this + 5 k days.
ORBIT_EPOCH = dt.date(2025, 6, 3)
#: S2C took over from S2A on 2025-01-21; S2B launched 2017-03-07.
S2C_TAKEOVER = dt.date(2025, 1, 21)
S2B_START = dt.date(2017, 7, 1)


@dataclass(frozen=True)
class SimConfig:
    """Settings of one simulated catalog (frozen, hashable, JSON-serialisable).

    The area is, in order of precedence: ``tiles`` (canonical tile ids), ``bbox``
    (lon/lat, snapped to the 20 m grid), ``kecamatan`` (name/slug/code), or the
    whole regency when all three are unset.  Event counts are per 100 km² and
    scaled by the generated area (at least ``min_*`` of each are placed).
    """

    name: str = "custom"
    seed: int = 0
    start: str = "2025-06-01"
    end: str = "2026-11-22"
    tiles: tuple[str, ...] | None = None
    bbox: tuple[float, float, float, float] | None = None
    kecamatan: str | None = None
    revisit_days: int = 5
    cloud_regime: CloudRegime = "sumatra"
    peti_per_100km2: float = 6.0
    min_peti: int = 1
    peti_area_ha: tuple[float, float] = (0.2, 40.0)
    road_damage_per_100km2: float = 3.0
    min_road_damage: int = 1
    clearing_per_100km2: float = 1.5
    landslide_per_100km2: float = 1.5
    village_growth_per_100km2: float = 1.0
    min_confounders: int = 1
    dredge_fraction: float = 0.3
    stop_fraction: float = 0.3
    preexisting_fraction: float = 0.15
    min_rice: int = 1
    zone47_west: bool = False
    overviews: bool = True
    noise_scale: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        s, e = self.start_date, self.end_date
        if e < s:
            raise ConfigError(f"SimConfig end {self.end} is before start {self.start}; swap them")
        if self.revisit_days % 5 or self.revisit_days <= 0:
            raise ConfigError(f"revisit_days={self.revisit_days} must be a positive multiple of 5 "
                              "(Sentinel-2's revisit over Sarolangun)")
        lo, hi = self.peti_area_ha
        if not 0 < lo <= hi:
            raise ConfigError(f"peti_area_ha={self.peti_area_ha} must be (min, max) with 0 < min <= max")
        if self.cloud_regime not in ("sumatra", "heavy", "light", "clear"):
            raise ConfigError(f"cloud_regime={self.cloud_regime!r}; use sumatra, heavy, light or clear")

    @property
    def start_date(self) -> dt.date:
        return _date(self.start, "start")

    @property
    def end_date(self) -> dt.date:
        return _date(self.end, "end")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping of every field (tuples as lists)."""
        d = dataclasses.asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def _date(s: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(s))
    except ValueError:
        raise ConfigError(f"SimConfig {what}={s!r} is not an ISO date like 2025-06-01") from None


#: Named scenarios; see :func:`scenario`.
SCENARIOS: dict[str, dict[str, Any]] = {
    # 10 x 10 km canonical tile x04y08: the Limun valley on the Batang Asai border (hilly, rivers,
    # rubber and villages).  ~1 year of baseline then the monitoring weeks up to 2026-W47.
    "demo": dict(name="demo", seed=42, tiles=("x04y08",), start="2025-06-01", end="2026-11-22",
                 peti_per_100km2=10.0, min_peti=8, road_damage_per_100km2=4.0, min_road_damage=3,
                 clearing_per_100km2=2.0, landslide_per_100km2=2.0, village_growth_per_100km2=2.0,
                 min_confounders=2),
    # 2.4 x 2.4 km, 10-day steps over a year that straddles the 2022-01-25 offset change.
    "test": dict(name="test", seed=7, bbox=(102.430, -2.575, 102.4516, -2.5534), start="2021-10-01",
                 end="2022-09-30", revisit_days=10, cloud_regime="light", peti_per_100km2=0.0,
                 min_peti=2, peti_area_ha=(1.0, 4.0), road_damage_per_100km2=0.0, min_road_damage=1,
                 clearing_per_100km2=0.0, landslide_per_100km2=0.0, village_growth_per_100km2=0.0,
                 min_confounders=1, overviews=False),
    # Heavy cloud, small sites, many confounders, western items also in EPSG:32747.
    "hard": dict(name="hard", seed=1234, tiles=("x02y07",), start="2025-06-01", end="2026-11-22",
                 cloud_regime="heavy", peti_per_100km2=12.0, min_peti=10, peti_area_ha=(0.2, 0.5),
                 road_damage_per_100km2=4.0, clearing_per_100km2=5.0, landslide_per_100km2=5.0,
                 village_growth_per_100km2=4.0, min_confounders=3, zone47_west=True),
    # The whole regency tile by tile for benchmarks: a short period (6 acquisitions).
    "regency": dict(name="regency", seed=2026, start="2026-10-24", end="2026-11-22"),
}


def scenario(name: str, seed: int | None = None, **overrides: Any) -> SimConfig:
    """A named :class:`SimConfig` (``demo``, ``test``, ``hard``, ``regency``) with overrides.

    Raises
    ------
    ConfigError
        For an unknown name or an unknown override key.
    """
    if name not in SCENARIOS:
        raise ConfigError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    kw = dict(SCENARIOS[name])
    if seed is not None:
        kw["seed"] = int(seed)
    known = {f.name for f in dataclasses.fields(SimConfig)}
    bad = sorted(set(overrides) - known)
    if bad:
        raise ConfigError(f"unknown SimConfig field(s) {bad}; valid fields: {sorted(known)}")
    for k, v in overrides.items():
        if v is not None:
            kw[k] = tuple(v) if isinstance(v, list) else v
    area = ("tiles", "bbox", "kecamatan")
    if any(overrides.get(k) is not None for k in area):  # a new area replaces the scenario's
        for k in area:
            kw[k] = tuple(overrides[k]) if isinstance(overrides.get(k), list) else overrides.get(k)
    return SimConfig(**kw)


def _snap20(gbox: GeoBox) -> GeoBox:
    """Grow a canonical sub-grid to even pixel offsets and sizes (the 20 m grid)."""
    r0 = round((grid.GRID_Y0 - gbox.affine.f) / 10)
    c0 = round((gbox.affine.c - grid.GRID_X0) / 10)
    r1, c1 = r0 + gbox.shape[0], c0 + gbox.shape[1]
    r0, c0 = r0 - r0 % 2, c0 - c0 % 2
    r1, c1 = r1 + r1 % 2, c1 + c1 % 2
    return grid.regency_geobox()[r0:r1, c0:c1]


def sim_geobox(config: SimConfig) -> GeoBox:
    """The canonical sub-grid that the catalog covers (20 m aligned)."""
    if config.tiles:
        gbs = [grid.tile_geobox(t) for t in config.tiles]
        x0 = min(g.affine.c for g in gbs)
        y1 = max(g.affine.f for g in gbs)
        x1 = max(g.affine.c + g.shape[1] * 10 for g in gbs)
        y0 = min(g.affine.f - g.shape[0] * 10 for g in gbs)
        return grid.subgrid((x0 + 1, y0 + 1, x1 - 1, y1 - 1), crs=f"EPSG:{grid.CRS_EPSG}")
    if config.bbox is not None:
        return _snap20(grid.subgrid(tuple(config.bbox)))
    if config.kecamatan is not None:
        return _snap20(grid.subgrid(aoi.find_kecamatan(config.kecamatan).geometry))
    return grid.regency_geobox()


def sim_tiles(config: SimConfig) -> list[tuple[str, GeoBox]]:
    """(tile id, clipped GeoBox) of the canonical tiles that are generated.

    With ``tiles`` only those; with a bbox every tile it touches; with a
    kecamatan or the regency only the tiles that intersect its outline.
    """
    gbox = sim_geobox(config)
    pairs = list(grid.iter_tile_geoboxes(gbox))
    if config.tiles:
        return [p for p in pairs if p[0] in set(config.tiles)]
    if config.bbox is not None:
        return pairs
    shape = (aoi.find_kecamatan(config.kecamatan).geometry if config.kecamatan is not None
             else aoi.load_regency())
    keep = set(grid.tiles_for(shape))
    return [p for p in pairs if p[0] in keep]


@dataclass(frozen=True)
class Acquisition:
    """One simulated overpass."""

    index: int
    date: dt.date
    datetime: dt.datetime
    platform: str
    processing_baseline: str
    sun_zenith: float
    sun_azimuth: float

    @property
    def doy(self) -> int:
        return self.date.timetuple().tm_yday


def _platform(d: dt.date, k: int) -> str:
    if d < S2B_START:
        return "sentinel-2a"
    if d < S2C_TAKEOVER:
        return "sentinel-2a" if k % 2 == 0 else "sentinel-2b"
    return "sentinel-2c" if k % 2 == 0 else "sentinel-2b"


def sun_position(when: dt.datetime, lon: float = 102.5, lat: float = -2.5) -> tuple[float, float]:
    """Sun zenith and azimuth (degrees, azimuth clockwise from north) by the NOAA approximation."""
    doy = when.timetuple().tm_yday
    g = 2 * math.pi / 365 * (doy - 1 + (when.hour - 12) / 24)
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g) - 0.006758 * math.cos(2 * g)
            + 0.000907 * math.sin(2 * g) - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    eot = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                    - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    tst = when.hour * 60 + when.minute + when.second / 60 + eot + 4 * lon
    ha = math.radians(tst / 4 - 180)
    phi = math.radians(lat)
    cosz = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(ha)
    zen = math.acos(max(-1.0, min(1.0, cosz)))
    az = math.degrees(math.atan2(math.sin(ha),
                                 math.cos(ha) * math.sin(phi) - math.tan(decl) * math.cos(phi))) + 180
    return math.degrees(zen), az % 360


def acquisitions(config: SimConfig) -> list[Acquisition]:
    """The acquisition plan between ``start`` and ``end`` (inclusive)."""
    s, e = config.start_date, config.end_date
    k0 = math.ceil((s - ORBIT_EPOCH).days / 5)
    out: list[Acquisition] = []
    k = k0
    while True:
        d = ORBIT_EPOCH + dt.timedelta(days=5 * k)
        if d > e:
            break
        if (k - k0) * 5 % config.revisit_days == 0:
            # 03:38 UTC +- a few seconds along the orbit (deterministic, no RNG)
            t = dt.datetime(d.year, d.month, d.day, 3, 38, 0) + dt.timedelta(seconds=(k * 7) % 29)
            zen, az = sun_position(t)
            out.append(Acquisition(len(out), d, t, _platform(d, k), bands.baseline_for_date(d), zen, az))
        k += 1
    return out
