"""``make demo``: simulate the sample data, build the baseline, run the weeks, publish.

Steps (each idempotent, so a second ``make demo`` is fast):

1. simulate the ``demo`` scenario (one 10 x 10 km tile in the Limun / Batang Asai
   river country) as a local STAC catalog, unless the same catalog is there;
2. backfill the baseline over ``[baseline] start..end`` of ``pipelines/demo.toml``;
3. catch up the weeks after the baseline without publishing (the registry
   gets its weekly history);
4. run the last two weeks with publishing (reports, layers, exports).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from dataclasses import replace
from pathlib import Path

from ..composites import iso_week, week_bounds
from .run import backfill, weekly
from .runconfig import load_run_config

__all__ = ["DEMO_CONFIG", "ensure_catalog", "run_demo", "weeks_between"]

DEMO_CONFIG = Path("pipelines/demo.toml")


def ensure_catalog(data_dir: Path, scenario: str = "demo") -> Path:
    """Simulate ``scenario`` into ``data_dir`` unless the same catalog is already there."""
    from .. import simulate

    cfg = simulate.scenario(scenario)
    cat = data_dir / "catalog.json"
    meta = data_dir / "truth" / "scenario.json"
    if cat.is_file() and meta.is_file():
        try:
            if json.loads(meta.read_text()).get("config") == cfg.to_dict():
                return cat
        except ValueError:
            pass
    return Path(simulate.simulate_catalog(data_dir, cfg))


def weeks_between(first: str, last: str) -> list[str]:
    """ISO weeks from ``first`` to ``last`` inclusive."""
    d, end = week_bounds(first)[0], week_bounds(last)[0]
    out = []
    while d <= end:
        out.append(iso_week(d))
        d += dt.timedelta(days=7)
    return out


def run_demo(data_dir: Path, args: argparse.Namespace) -> int:
    """The whole demo; prints each step's time and where the report is."""
    t0 = time.perf_counter()
    clock = lambda: f"[{time.perf_counter() - t0:5.0f} s]"  # noqa: E731
    cat = ensure_catalog(Path(data_dir))
    print(f"{clock()} sample catalog: {cat}")
    cfg = load_run_config(getattr(args, "config", None) or DEMO_CONFIG)
    cfg = cfg.with_overrides(scheduler=args.scheduler, lang=args.lang, out=args.out)
    cfg = replace(cfg, source=replace(cfg.source, url=str(cat)),
                  layers=replace(cfg.layers, roads=str(Path(data_dir) / "truth" / "roads.geojson"),
                                 permits=str(Path(data_dir) / "truth" / "permits_sample.geojson")))
    b = backfill(cfg.baseline.start, cfg.baseline.end, cfg)
    print(f"{clock()} baseline {cfg.baseline.start}..{cfg.baseline.end}: {len(b.tiles_ok)} built, "
          f"{len(b.tiles_skipped)} already there, {len(b.tiles_failed)} failed")
    if b.tiles_failed:
        print(json.dumps(b.tiles_failed, indent=1))
        return 1
    first = iso_week(dt.date.fromisoformat(cfg.baseline.end) + dt.timedelta(days=7))
    weeks = weeks_between(first, DEMO_LAST_WEEK)
    catch_up = weeks[:-2]
    # catch up in steps of CATCH_UP_SPAN weeks, ending on the week before the published ones
    ends = catch_up[::-1][::CATCH_UP_SPAN][::-1]
    prev_end = None
    for w in ends:
        span = catch_up.index(w) + 1 if prev_end is None else catch_up.index(w) - catch_up.index(prev_end)
        s = weekly(w, cfg, publish=False, span_weeks=span)
        prev_end = w
        if not s.ok:
            print(f"{clock()} {w}: tiles failed {s.tiles_failed}")
            return 1
    print(f"{clock()} caught up {len(catch_up)} weeks ({catch_up[0]}..{catch_up[-1]}) in {len(ends)} steps "
          "without publishing")
    summary = None
    for w in weeks[-2:]:
        summary = weekly(w, cfg, publish=True)
        c = summary.counts
        print(f"{clock()} {w}: {c.get('n_sites', 0)} sites ({c.get('n_new', 0)} new), "
              f"{c.get('damaged_segments', 0)} damaged road segments, {c.get('acquisitions', 0)} acquisitions")
    assert summary is not None
    print(f"\nReport (open in a browser, works offline): {summary.outputs.get('report')}")
    print(f"Layers, exports and STAC catalog: {summary.outputs.get('week_dir')}")
    print(f"Registry (opens in QGIS): {cfg.paths.registry}")
    return 0 if summary.ok else 1


#: Weeks folded per catch-up step (the registry keeps one history entry per step).
CATCH_UP_SPAN = 6
#: The demo's last published week: the last complete week of the simulated period.
DEMO_LAST_WEEK = "2026-W47"
