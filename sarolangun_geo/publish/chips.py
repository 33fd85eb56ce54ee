"""Before/after image chips of every site, cut lazily from the cube.

For each site two observations are chosen from the cube (docs §2): the *best*
clear one before ``first_seen`` (highest clear fraction in the window, the
latest on ties) and the *latest* clear one.  Each is drawn twice, in true
colour (red/green/blue) and SWIR false colour (swir22/nir/red: bare soil and
tailings orange-pink, vegetation green, water dark), as small PNGs with the
site outline in yellow and the date written on the chip.

Only the small window around each site is ever computed, so this works on a
dask-backed cube of the whole regency.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr
from PIL import Image, ImageDraw, ImageFont

from ..bands import SCL_CLOUDY
from ._io import atomic_write_bytes, atomic_write_text, dumps_json
from .imaging import SWIR_FALSE_COLOUR, TRUE_COLOUR, png_bytes, rgb_from_bands

__all__ = [
    "CHIP_KEYS",
    "ChipSettings",
    "choose_observations",
    "clear_mask",
    "render_site_chips",
    "write_chips",
]

CHIP_KEYS = ("before_tc", "before_swir", "after_tc", "after_swir")
_BANDS = ("red", "green", "blue", "nir", "swir22")


@dataclass(frozen=True)
class ChipSettings:
    """How chips are cut: output ``size`` px, ``margin_m`` around the site bbox,
    a window of at least ``min_window_m``, and ``min_clear`` (0..1) clear fraction
    for an observation to count as clear."""

    size: int = 96
    margin_m: float = 150.0
    min_window_m: float = 600.0
    min_clear: float = 0.6


def clear_mask(cube: xr.Dataset) -> xr.DataArray:
    """Clear-sky mask ``(time, y, x)`` bool from ``scl`` (and valid red); lazy."""
    valid = cube["red"].notnull()
    if "scl" not in cube:
        return valid
    return valid & ~cube["scl"].isin(sorted(SCL_CLOUDY))


def _window(geom: shapely.Geometry, s: ChipSettings) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = geom.bounds
    half = max(maxx - minx, maxy - miny) / 2 + s.margin_m
    half = max(half, s.min_window_m / 2)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    return cx - half, cy - half, cx + half, cy + half


def choose_observations(clear_frac: pd.Series, first_seen: dt.date, min_clear: float
                        ) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Pick (before, after) times from a per-time clear fraction.

    *before*: among times before ``first_seen`` the highest clear fraction,
    the latest on ties (``None`` if nothing before is at all clear).
    *after*: the latest time at or after ``first_seen`` with at least
    ``min_clear``, else the clearest such time (``None`` if none).
    """
    fs = pd.Timestamp(first_seen)
    s = clear_frac.sort_index()
    pre = s[(s.index < fs) & (s > 0)]
    before = pre[pre == pre.max()].index[-1] if len(pre) else None
    post = s[(s.index >= fs) & (s > 0)]
    ok = post[post >= min_clear]
    after = ok.index[-1] if len(ok) else (post[post == post.max()].index[-1] if len(post) else None)
    return before, after


def _font(size: int) -> Any:
    try:
        return ImageFont.load_default(size=max(9, size // 9))
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _draw(rgb: np.ndarray, geom: shapely.Geometry, win: tuple[float, float, float, float], date: str,
          size: int) -> bytes:
    img = Image.fromarray(rgb, "RGB").resize((size, size), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = win
    sx, sy = size / (x1 - x0), size / (y1 - y0)
    polys = getattr(geom, "geoms", [geom])
    for p in polys:
        if p.geom_type == "Polygon":
            pts = [((x - x0) * sx, (y1 - y) * sy) for x, y in p.exterior.coords]
            draw.line(pts, fill=(255, 230, 0), width=1)
    font = _font(size)
    h = max(11, size // 8)
    draw.rectangle([0, size - h, size, size], fill=(0, 0, 0))
    draw.text((2, size - h), date, fill=(255, 255, 255), font=font)
    return png_bytes(np.asarray(img))


def render_site_chips(cube: xr.Dataset, geom: shapely.Geometry, first_seen: dt.date, *,
                      clear: xr.DataArray | None = None, settings: ChipSettings = ChipSettings()
                      ) -> dict[str, tuple[str, bytes]]:
    """PNG chips of one site: ``{key: (iso date, png bytes)}`` for keys in :data:`CHIP_KEYS`.

    ``geom`` is in the cube's CRS (EPSG:32748).  Keys are missing when there
    is no usable observation (for example no clear scene before ``first_seen``).
    """
    win = _window(geom, settings)
    sub = cube.sel(x=slice(win[0], win[2]), y=slice(win[3], win[1]))
    if sub.sizes.get("x", 0) == 0 or sub.sizes.get("y", 0) == 0:
        return {}
    cm = clear.sel(x=sub.x, y=sub.y) if clear is not None else clear_mask(sub)
    frac = cm.mean(("y", "x")).compute().to_series()
    before, after = choose_observations(frac, first_seen, settings.min_clear)
    out: dict[str, tuple[str, bytes]] = {}
    for when, t in (("before", before), ("after", after)):
        if t is None:
            continue
        obs = sub[list(_BANDS)].sel(time=t).compute()
        bands = {b: obs[b].values for b in _BANDS}
        date = pd.Timestamp(t).date().isoformat()
        for look_key, look in (("tc", TRUE_COLOUR), ("swir", SWIR_FALSE_COLOUR)):
            out[f"{when}_{look_key}"] = (date, _draw(rgb_from_bands(bands, look), geom, win, date, settings.size))
    return out


def write_chips(week_dir: str | Path, sites: gpd.GeoDataFrame, cube: xr.Dataset | None, *,
                clear: xr.DataArray | None = None, settings: ChipSettings = ChipSettings()) -> pd.DataFrame:
    """Write ``chips/<site_id>_<key>.png`` for every site and ``chips/chips.json``.

    Returns
    -------
    pandas.DataFrame
        Index ``site_id``; columns ``before_date``, ``after_date`` (ISO or "")
        and one per :data:`CHIP_KEYS` holding the path relative to ``week_dir``
        ("" when that chip could not be made).
    """
    base = Path(week_dir) / "chips"
    rows = []
    geoms = sites.to_crs(32748).geometry if len(sites) else []
    for sid, fs, geom in zip(sites["site_id"], sites["first_seen"], geoms, strict=True):
        chips = {} if cube is None else render_site_chips(cube, geom, pd.Timestamp(fs).date(), clear=clear,
                                                          settings=settings)
        row: dict[str, Any] = {"site_id": sid, "before_date": "", "after_date": ""}
        for key in CHIP_KEYS:
            row[key] = ""
            if key in chips:
                date, data = chips[key]
                name = f"chips/{sid}_{key}.png"
                atomic_write_bytes(Path(week_dir) / name, data)
                row[key] = name
                row[f"{key.split('_')[0]}_date"] = date
        rows.append(row)
    df = pd.DataFrame(rows, columns=["site_id", "before_date", "after_date", *CHIP_KEYS])
    atomic_write_text(base / "chips.json", dumps_json(df.to_dict(orient="records")))
    return df.set_index("site_id")
