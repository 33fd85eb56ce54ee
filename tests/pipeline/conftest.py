"""A tiny simulated catalog and run configurations for the pipeline tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sarolangun_geo import simulate

ROOT = Path(__file__).resolve().parents[2]
#: The "test" scenario covers 2021-10..2022-09 (straddling the 2022-01-25 offset change) every 20 days.
BASELINE = ("2021-10-01", "2022-02-27")  # ends on a Sunday: weeks after it are whole



@pytest.fixture(scope="session")
def test_catalog(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "test"
    return Path(simulate.simulate_catalog(out, simulate.scenario("test")))


def write_config(path: Path, catalog: Path, out: Path, *, bbox=None, geojson=None, scheduler="threads",
                 roads=True) -> Path:
    truth = catalog.parent / "truth"
    lines = ['name = "pytest"', "[source]", 'kind = "stac"', f'url = "{catalog}"', "[aoi]"]
    if geojson:
        lines.append(f'geojson = "{geojson}"')
    else:
        lines.append(f"bbox = {list(bbox or simulate.scenario('test').bbox)}")
    lines += ["[layers]", f'roads = "{truth / "roads.geojson"}"' if roads else 'roads = ""',
              f'permits = "{truth / "permits_sample.geojson"}"',
              "[paths]", f'out = "{out}"', f'registry = "{out / "registry.gpkg"}"', f'state = "{out / "state"}"',
              "[baseline]", f'start = "{BASELINE[0]}"', f'end = "{BASELINE[1]}"',
              "[dask]", f'scheduler = "{scheduler}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(*args: str, env: dict | None = None, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    e = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000", **(env or {})}
    res = subprocess.run([sys.executable, "-m", "sarolangun_geo.cli", *args, "--no-progress"], cwd=ROOT,
                         capture_output=True, text=True, env=e, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"exit {res.returncode}\nSTDOUT:\n{res.stdout}\nSTDERR:\n{res.stderr[-4000:]}")
    return res


def tree_hashes(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under root (relative path -> hash), lock files excluded."""
    import hashlib

    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not p.name.endswith(".lock") and not any(rel.startswith(s) for s in skip):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def read_json(p: Path) -> dict:
    return json.loads(p.read_text())
