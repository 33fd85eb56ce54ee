"""Benchmark: a year of weekly registry upserts with about 2 000 evolving sites.

A seeded generator places sites (squares of 40–150 m) on a jittered 800 m
lattice over a 60 x 60 km part of the regency and evolves them week by week:

* ``new``: ~16 sites appear each week (1 200 at the start -> ~2 000 at week 52);
* ``growing``: ~6 % of the active sites grow by 10–40 % in side length;
* ``stopping``: ~2 % stop for good; every week ~8 % are missed (clouds);
* ``merging``: ~40 pre-seeded pairs 150 m apart join into one polygon at a
  random week (the registry must keep the older id);
* ``splitting``: ~20 large sites split into two at a random week.

Per week the registry ``upsert`` wall time (lock, validation with
``integrity_check``, copy, transaction, deterministic rebuild, atomic replace)
and the file size are recorded; at the end the last week is rerun (time and
byte-identity) and 200 verification rows are imported.

Usage: ``python benchmarks/registry.py [--weeks 52] [--workdir DIR]``.
Writes ``benchmarks/results/registry.json`` and ``registry.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import geopandas as gpd  # noqa: E402
import pandas as pd  # noqa: E402
import shapely  # noqa: E402

from sarolangun_geo.sites.registry import Registry, RunInfo  # noqa: E402

X0, Y0, EXTENT, CELL = 200_000.0, 9_700_000.0, 60_000.0, 800.0
NOW = dt.datetime(2026, 12, 31, tzinfo=dt.UTC)


class Generator:
    """Seeded, evolving synthetic sites (state per site: centre, side, alive, partner, split week)."""

    def __init__(self, seed: int = 42, n_start: int = 1200, weeks: int = 52) -> None:
        self.rng = np.random.default_rng(seed)
        n_cells = int(EXTENT / CELL) ** 2
        self.cells = list(self.rng.permutation(n_cells))
        self.sites: list[dict] = []
        self.weeks = weeks
        for _ in range(n_start):
            self._add(0)
        for s in self.rng.choice(len(self.sites), 40, replace=False):  # merge pairs
            a = self.sites[s]
            b = self._add(0, near=a)
            a["merge_week"] = b["merge_week"] = int(self.rng.integers(min(4, weeks - 1), weeks))
            b["partner"] = s
        for s in self.rng.choice(len(self.sites), 20, replace=False):
            self.sites[s].update(side=150.0, split_week=int(self.rng.integers(min(4, weeks - 1), weeks)))

    def _add(self, week: int, near: dict | None = None) -> dict:
        if near is None:
            c = self.cells.pop()
            n = int(EXTENT / CELL)
            x = X0 + (c % n) * CELL + self.rng.uniform(100, 500)
            y = Y0 + (c // n) * CELL + self.rng.uniform(100, 500)
        else:
            x, y = near["x"] + 150.0, near["y"]
        site = {"x": x, "y": y, "side": float(self.rng.uniform(40, 100) if near is None else 60.0), "alive": True,
                "born": week, "partner": None, "merge_week": None, "split_week": None}
        self.sites.append(site)
        return site

    def week(self, w: int) -> gpd.GeoDataFrame:
        for _ in range(int(self.rng.poisson(16))):
            self._add(w)
        geoms, dates = [], []
        day = (dt.date.fromisocalendar(2026, w + 1, 3)).isoformat()
        for s in self.sites:
            if not s["alive"]:
                continue
            r = self.rng.random()
            if r < 0.02 and s["partner"] is None and s["merge_week"] is None:
                s["alive"] = False
                continue
            if r < 0.08:
                s["side"] *= 1 + self.rng.uniform(0.1, 0.4)
            if s["partner"] is not None and s["merge_week"] is not None and w >= s["merge_week"]:
                continue  # drawn together with its partner
            if self.rng.random() < 0.08:
                continue  # cloudy for this site
            x, y, h = s["x"], s["y"], s["side"]
            if s["merge_week"] is not None and w >= s["merge_week"] and s["partner"] is None:
                geoms.append(shapely.box(x, y, x + 150.0 + 60.0, y + max(h, 60.0)))
            elif s["split_week"] is not None and w >= s["split_week"]:
                geoms += [shapely.box(x, y, x + h * 0.6, y + h), shapely.box(x + h * 0.7, y, x + h, y + h)]
                dates.append(day)
            else:
                geoms.append(shapely.box(x, y, x + h, y + h))
            dates.append(day)
        area = shapely.area(np.asarray(geoms, dtype=object)) / 1e4
        n = len(geoms)
        return gpd.GeoDataFrame({"area_ha": np.round(area, 4), "last_detected": dates, "confidence": np.full(n, 3),
                                 "d_ndvi": np.round(self.rng.uniform(-0.6, -0.2, n), 3),
                                 "dist_water_m": np.round(self.rng.uniform(0, 3000, n), 1),
                                 "dist_settlement_m": np.round(self.rng.uniform(0, 5000, n), 1),
                                 "legality": np.where(self.rng.random(n) < 0.9, "luar_izin", "dalam_izin")},
                                geometry=geoms, crs="EPSG:32748")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weeks", type=int, default=52)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-registry-"))
    path = work / "registry.gpkg"
    path.unlink(missing_ok=True)
    reg = Registry(path)
    gen = Generator(weeks=args.weeks)
    rows = []
    for w in range(args.weeks):
        week = f"2026-W{w + 1:02d}"
        gdf = gen.week(w)
        t0 = time.perf_counter()
        counts = reg.upsert(week, gdf, run=RunInfo(sources=("synthetic",)), now=NOW)
        dt_s = time.perf_counter() - t0
        rows.append({"week": week, "seconds": round(dt_s, 3), "size_mb": round(path.stat().st_size / 1e6, 2),
                     **counts})
        print(f"{week}: {dt_s:6.2f} s  {rows[-1]['size_mb']:7.2f} MB  {counts}", flush=True)
    h1 = hashlib.sha256(path.read_bytes()).hexdigest()
    t0 = time.perf_counter()
    reg.upsert(week, gdf, run=RunInfo(sources=("synthetic",)), now=NOW)
    rerun_s = time.perf_counter() - t0
    identical = hashlib.sha256(path.read_bytes()).hexdigest() == h1
    sites = reg.sites()
    ver = pd.DataFrame({"site_id": sites.site_id.iloc[:200], "date": "2026-12-30", "team": "bench",
                        "outcome": "confirmed", "note": "", "photo": "", "source": "bench", "line": range(200)})
    t0 = time.perf_counter()
    reg.add_verifications(ver)
    verif_s = time.perf_counter() - t0
    secs = np.array([r["seconds"] for r in rows])
    statuses = sites.status.value_counts().to_dict()
    summary = {
        "weeks": args.weeks, "python": platform.python_version(), "machine": platform.machine(),
        "sites_final": len(sites), "sites_total_incl_merged": len(reg.sites(include_retired=True)),
        "observations": len(reg.observations()), "merges": int(sum(r["n_merged"] for r in rows)),
        "splits": int(sum(r["n_split"] for r in rows)), "status_counts": statuses,
        "upsert_seconds_mean": round(float(secs.mean()), 3), "upsert_seconds_median": round(float(np.median(secs)), 3),
        "upsert_seconds_max": round(float(secs.max()), 3), "upsert_seconds_total": round(float(secs.sum()), 2),
        "registry_mb_final": rows[-1]["size_mb"], "rerun_last_week_seconds": round(rerun_s, 3),
        "rerun_byte_identical": identical, "import_200_verifications_seconds": round(verif_s, 3),
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "registry.json").write_text(json.dumps({"summary": summary, "weeks": rows}, indent=1) + "\n")
    md = [f"# Registry benchmark: {args.weeks} weekly upserts, ~2 000 evolving synthetic sites", "",
          f"Python {summary['python']} on {summary['machine']}; seeded generator (see `benchmarks/registry.py`).", "",
          "| metric | value |", "|---|---|"]
    md += [f"| {k} | {v} |" for k, v in summary.items() if k not in ("python", "machine")]
    md += ["", "| week | seconds | size (MB) | polygons | new | merged | split | sites |", "|---|---|---|---|---|---|---|---|"]
    md += [f"| {r['week']} | {r['seconds']} | {r['size_mb']} | {r['n_polygons']} | {r['n_new']} | {r['n_merged']} | "
           f"{r['n_split']} | {r['n_sites']} |" for r in rows]
    (out / "registry.md").write_text("\n".join(md) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
