"""Command-line entry point ``sarolangun-geo``: argument parsing only, no logic."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sarolangun-geo", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("simulate", help="write a simulated Sentinel-2 L2A STAC catalog with truth")
    s.add_argument("--out", required=True)
    s.add_argument("--scenario", default="demo")
    s.add_argument("--seed", type=int, default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "simulate":
        from . import simulate

        path = simulate.simulate_catalog(args.out, simulate.scenario(args.scenario, seed=args.seed))
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
