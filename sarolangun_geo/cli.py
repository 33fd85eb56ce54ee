"""Command-line entry point ``sarolangun-geo``: argument parsing and printing only, no logic.

Exit codes: 0 success; 1 the run finished but some tiles failed (see the run
summary); 2 bad usage or configuration; 3 an imagery-source or data problem;
4 another run holds the lock; 5 an unexpected internal error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from typing import Any

__all__ = ["EXIT", "build_parser", "main"]

EXIT = {"ok": 0, "partial": 1, "usage": 2, "data": 3, "locked": 4, "internal": 5}
DEFAULT_CONFIG = "pipelines/demo.toml"


def _fmt(examples: str) -> dict[str, Any]:
    return {"epilog": "examples:\n" + textwrap.indent(textwrap.dedent(examples).strip(), "  "),
            "formatter_class": argparse.RawDescriptionHelpFormatter}


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("common options")
    g.add_argument("--config", default=DEFAULT_CONFIG, help=f"run configuration TOML (default: {DEFAULT_CONFIG})")
    g.add_argument("--kecamatan", action="append", default=None,
                   help="limit to a kecamatan (name, slug or code); repeat for several")
    g.add_argument("--scheduler", default=None,
                   help="threads (default), sync, local:N (LocalCluster of N workers) or tcp://host:8786")
    g.add_argument("--lang", choices=("id", "en"), default=None, help="report language (default: id)")
    g.add_argument("--out", default=None, help="output folder (overrides [paths] of the config)")
    g.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    g.add_argument("--log-json", action="store_true", help="structured (JSON lines) logging on stderr")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sarolangun-geo",
        description="Weekly satellite monitoring of PETI (illegal gold mining) and road damage in "
                    "Kabupaten Sarolangun.", **_fmt("""
            sarolangun-geo demo                                  # simulate + backfill + weekly runs
            sarolangun-geo run --config pipelines/earth-search.toml --week 2026-W47
            sarolangun-geo sites list --status baru --kecamatan limun
            sarolangun-geo export --format kmz --kecamatan batang-asai --out-file sites.kmz
        """))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("run", help="run one ISO week end to end", **_fmt("""
        sarolangun-geo run --week 2026-W47
        sarolangun-geo run --config pipelines/cdse.toml --kecamatan limun --scheduler local:2
    """))
    s.add_argument("--week", default=None, help="ISO week YYYY-Www (default: the last complete week)")
    s.add_argument("--no-publish", action="store_true", help="update state and registry, skip reports")
    _common(s)

    s = sub.add_parser("backfill", help="build the baseline from a period of history", **_fmt("""
        sarolangun-geo backfill --start 2025-06-01 --end 2026-05-31
    """))
    s.add_argument("--start", default=None, help="first day (default: [baseline] start of the config)")
    s.add_argument("--end", default=None, help="last day (default: [baseline] end of the config)")
    s.add_argument("--then-weeks", default=None, metavar="W1:W2",
                   help="after the baseline, run these weeks without publishing (catch-up), e.g. 2026-W23:2026-W45")
    _common(s)

    s = sub.add_parser("status", help="snapshots, registry and last runs", **_fmt("sarolangun-geo status"))
    _common(s)

    s = sub.add_parser("sites", help="list or show registry sites", **_fmt("""
        sarolangun-geo sites list --status baru --min-area 0.5
        sarolangun-geo sites show SRL-PETI-000012
    """))
    ssub = s.add_subparsers(dest="sites_command", required=True, metavar="ACTION")
    sl = ssub.add_parser("list", help="a table of sites, by priority")
    sl.add_argument("--status", action="append", default=None)
    sl.add_argument("--min-area", type=float, default=None, help="hectares")
    sl.add_argument("--top", type=int, default=30)
    _common(sl)
    ss = ssub.add_parser("show", help="one site with its weekly history and verifications")
    ss.add_argument("site_id")
    _common(ss)

    s = sub.add_parser("verify", help="field verification", **_fmt("""
        sarolangun-geo verify import field/2026-W47-tim-a.xlsx
    """))
    vsub = s.add_subparsers(dest="verify_command", required=True, metavar="ACTION")
    vi = vsub.add_parser("import", help="import a CSV, GeoJSON or XLSX of field findings")
    vi.add_argument("file")
    _common(vi)

    s = sub.add_parser("export", help="export filtered sites for the field", **_fmt("""
        sarolangun-geo export --format xlsx --status baru --status meluas --out-file baru.xlsx
        sarolangun-geo export --format gpx --kecamatan limun --top 20 --out-file limun.gpx
    """))
    s.add_argument("--format", default=None,
                   help="csv, xlsx, kml, kmz, gpx, geojson, gpkg, html or pdf (field sheet), zip (evidence pack);"
                        " default: from the --out-file suffix")
    s.add_argument("--out-file", required=True)
    s.add_argument("--desa", action="append", default=None)
    s.add_argument("--status", action="append", default=None)
    s.add_argument("--min-area", type=float, default=None, help="hectares")
    s.add_argument("--since", default=None, help="first_seen on or after this date (YYYY-MM-DD)")
    s.add_argument("--min-confidence", type=int, default=None, help="0..4")
    s.add_argument("--top", type=int, default=None, help="top-N by priority")
    _common(s)

    s = sub.add_parser("report", help="(re)publish the reports of a week already run", **_fmt("""
        sarolangun-geo report --week 2026-W47 --lang en
    """))
    s.add_argument("--week", default=None)
    _common(s)

    s = sub.add_parser("demo", help="simulate the sample data, backfill, run two weeks, publish", **_fmt("""
        sarolangun-geo demo --data data/sample --out out
    """))
    s.add_argument("--data", default="data/sample", help="where the simulated catalog goes")
    _common(s)
    # the simulate subcommand is added by _add_simulate (kept apart: it has many options)
    _add_simulate(sub)
    return p


def _add_simulate(sub: Any) -> None:
    s = sub.add_parser("simulate", help="write a simulated Sentinel-2 L2A STAC catalog with truth", **_fmt("""
        sarolangun-geo simulate --out data/sample                 # the demo scenario
        sarolangun-geo simulate --scenario hard --seed 3 --out /tmp/hard
    """))
    s.add_argument("--out", required=True)
    s.add_argument("--scenario", default="demo")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--start", default=None, help="first date (ISO), overrides the scenario")
    s.add_argument("--end", default=None, help="last date (ISO), overrides the scenario")
    s.add_argument("--bbox", type=float, nargs=4, default=None, metavar=("W", "S", "E", "N"),
                   help="lon/lat bbox instead of the scenario's area")
    s.add_argument("--kecamatan", default=None, help="a kecamatan name/slug/code instead of the area")
    s.add_argument("--tiles", nargs="+", default=None, help="canonical tile ids (x04y08 ...)")
    s.add_argument("--zone47-west", action="store_true", default=None,
                   help="also write the western EPSG:32747 items, as Earth Search does")
    s.add_argument("--workers", type=int, default=None)


def _logging(args: argparse.Namespace) -> None:
    level = logging.WARNING - 10 * min(getattr(args, "verbose", 0), 2)
    handler = logging.StreamHandler(sys.stderr)
    if getattr(args, "log_json", False):
        class _Json(logging.Formatter):
            def format(self, r: logging.LogRecord) -> str:
                return json.dumps({"time": self.formatTime(r), "level": r.levelname, "logger": r.name,
                                   "message": r.getMessage()})
        handler.setFormatter(_Json())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=min(level, logging.INFO), handlers=[handler], force=True)
    logging.getLogger("sarolangun_geo").setLevel(min(level, logging.INFO))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _logging(args)
    from . import commands
    from .errors import ConfigError, RegistryLockedError, SarolangunGeoError, SourceError

    try:
        return int(commands.dispatch(args))
    except RegistryLockedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT["locked"]
    except (ConfigError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT["usage"]
    except (SourceError, SarolangunGeoError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT["data"]
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
