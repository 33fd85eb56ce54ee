"""What each CLI command does: call the library, print for a person.

Kept apart from :mod:`sarolangun_geo.cli` (which only parses arguments) so
that the logic is importable and testable without a shell.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["Progress", "dispatch", "load_config"]


def load_config(args: argparse.Namespace) -> Any:
    """The run configuration with the command-line overrides applied."""
    from .pipeline import load_run_config

    cfg = load_run_config(args.config)
    return cfg.with_overrides(kecamatan=tuple(args.kecamatan or ()), scheduler=args.scheduler,
                              lang=args.lang, out=args.out)


class Progress:
    """A tqdm bar over tiles (silent with ``--no-progress`` or when stderr is not a terminal)."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.bar = None
        if enabled and total > 1:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="tile", file=sys.stderr)

    def __call__(self, result: dict) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"{result['tile']} {result['status']}")
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress(args: argparse.Namespace, cfg: Any, desc: str) -> Progress:
    from .pipeline.run import _tiles

    return Progress(len(_tiles(cfg)[1]), desc, not args.no_progress and sys.stderr.isatty())


def _print_summary(summary: Any) -> int:
    print(f"{summary.kind} {summary.week}: {len(summary.tiles_ok)} tiles done, "
          f"{len(summary.tiles_skipped)} already done, {len(summary.tiles_failed)} failed")
    for tile, err in sorted(summary.tiles_failed.items()):
        print(f"  FAILED {tile}: {err}")
    for k, v in sorted(summary.counts.items()):
        print(f"  {k}: {v}")
    for k, v in sorted(summary.outputs.items()):
        print(f"  {k}: {v}")
    return 0 if summary.ok else 1


def cmd_run(args: argparse.Namespace) -> int:
    from .pipeline import last_complete_week, weekly

    cfg = load_config(args)
    week = args.week or last_complete_week()
    bar = _progress(args, cfg, f"week {week}")
    try:
        summary = weekly(week, cfg, publish=not args.no_publish, progress=bar)
    finally:
        bar.close()
    return _print_summary(summary)


def _week_range(spec: str) -> list[str]:
    from .composites import iso_week, week_bounds

    try:
        a, b = spec.split(":")
        d, end = week_bounds(a)[0], week_bounds(b)[0]
    except ValueError:
        raise ConfigError(f"--then-weeks {spec!r}: use FIRST:LAST ISO weeks, e.g. 2026-W23:2026-W45") from None
    import datetime as dt

    weeks = []
    while d <= end:
        weeks.append(iso_week(d))
        d += dt.timedelta(days=7)
    return weeks


def cmd_backfill(args: argparse.Namespace) -> int:
    from .pipeline import backfill, weekly

    cfg = load_config(args)
    start, end = args.start or cfg.baseline.start, args.end or cfg.baseline.end
    if not start or not end:
        raise ConfigError("backfill needs --start and --end (or [baseline] start/end in the config)")
    bar = _progress(args, cfg, "backfill")
    try:
        code = _print_summary(backfill(start, end, cfg, progress=bar))
    finally:
        bar.close()
    for w in _week_range(args.then_weeks) if args.then_weeks else []:
        code = max(code, _print_summary(weekly(w, cfg, publish=False)))
    return code


def cmd_status(args: argparse.Namespace) -> int:
    from .pipeline import status

    print(json.dumps(status(load_config(args)), indent=1, default=str))
    return 0


def _registry(cfg: Any) -> Any:
    from .sites import Registry

    path = Path(cfg.paths.registry)
    if not path.is_file():
        raise ConfigError(f"no registry at {path}; run `sarolangun-geo run` first (or pass --config)")
    return Registry(path)


def cmd_sites(args: argparse.Namespace) -> int:
    import pandas as pd

    reg = _registry(load_config(args))
    sites = reg.sites()
    if args.sites_command == "show":
        row = sites[sites["site_id"] == args.site_id]
        if row.empty:
            raise ConfigError(f"site {args.site_id!r} is not in the registry; list ids with `sarolangun-geo sites list`")
        rec = row.drop(columns="geometry").iloc[0].to_dict()
        print(json.dumps(rec, indent=1, default=str, ensure_ascii=False))
        hist = pd.DataFrame(reg.observations(args.site_id)).drop(columns="geometry", errors="ignore")
        print("\nweekly history:")
        print(hist[[c for c in ("week", "status", "area_ha", "confidence", "event") if c in hist]].to_string(index=False))
        ver = reg.verifications()
        ver = ver[ver["site_id"] == args.site_id]
        if len(ver):
            print("\nverifications:")
            print(ver[["date", "team", "outcome", "note"]].to_string(index=False))
        return 0
    if args.kecamatan:
        from .aoi import find_kecamatan

        names = {find_kecamatan(k)["nama"] for k in args.kecamatan}
        sites = sites[sites["kecamatan"].isin(names)]
    if args.status:
        sites = sites[sites["status"].isin(args.status)]
    if args.min_area is not None:
        sites = sites[sites["area_ha"] >= args.min_area]
    cols = ["priority_rank", "site_id", "status", "area_ha", "confidence", "kecamatan", "desa", "first_seen",
            "last_seen", "lat", "lon"]
    print(sites.sort_values("priority_rank")[cols].head(args.top).to_string(index=False))
    print(f"({len(sites)} sites)")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    reg = _registry(load_config(args))
    report = reg.import_verifications(args.file)
    print(report.summary())
    return 0 if not report.errors else 1


def cmd_export(args: argparse.Namespace) -> int:
    from .publish import SiteFilter, export_sites

    cfg = load_config(args)
    f = SiteFilter(kecamatan=tuple(args.kecamatan or ()), desa=tuple(args.desa or ()),
                   status=tuple(args.status or ()), min_area_ha=args.min_area, since=args.since,
                   min_confidence=args.min_confidence, top_n=args.top)
    from .pipeline.weekly_outputs import read_layer

    path = export_sites(_registry(cfg).sites(), args.out_file, args.format, f, lang=cfg.lang,
                        roads=read_layer(cfg.layers.roads, "roads"))
    print(path)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .pipeline import last_complete_week
    from .pipeline.run import republish

    cfg = load_config(args)
    print(republish(args.week or last_complete_week(), cfg))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from . import simulate

    area = {"bbox": args.bbox, "kecamatan": args.kecamatan, "tiles": args.tiles}
    area = {k: (tuple(v) if isinstance(v, list) else v) for k, v in area.items()} \
        if any(v is not None for v in area.values()) else {}
    cfg = simulate.scenario(args.scenario, seed=args.seed, start=args.start, end=args.end,
                            zone47_west=args.zone47_west, **area)
    t0 = time.perf_counter()
    path = simulate.simulate_catalog(args.out, cfg, workers=args.workers)
    print(path)
    print(f"simulated in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .pipeline.demo import run_demo

    return run_demo(Path(args.data), args)


COMMANDS = {"run": cmd_run, "backfill": cmd_backfill, "status": cmd_status, "sites": cmd_sites,
            "verify": cmd_verify, "export": cmd_export, "report": cmd_report, "simulate": cmd_simulate,
            "demo": cmd_demo}


def dispatch(args: argparse.Namespace) -> int:
    """Run the parsed command; returns the exit code."""
    return COMMANDS[args.command](args)
