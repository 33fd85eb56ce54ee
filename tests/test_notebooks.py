"""The analyst notebooks: stored without outputs, and executed end to end on tiny simulated data."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import nbformat
import pytest
from pipeline.conftest import BASELINE, ROOT, write_config
from pipeline.test_e2e import weeks_with_items

from sarolangun_geo import pipeline, simulate
from sarolangun_geo.composites import iso_week, week_bounds

NOTEBOOKS = ROOT / "notebooks"
EXPECTED = ("01_quickstart", "02_change_detection", "03_sites_and_exports", "04_road_damage")


def _notebook_paths() -> list[Path]:
    """The notebooks git knows plus any in the folder (the lead commits them later)."""
    res = subprocess.run(["git", "ls-files", "notebooks/*.ipynb"], cwd=ROOT, capture_output=True, text=True)
    tracked = {ROOT / p for p in res.stdout.split()} if res.returncode == 0 else set()
    return sorted(tracked | set(NOTEBOOKS.glob("*.ipynb")))


def test_notebooks__are_stored_without_outputs():
    paths = _notebook_paths()
    assert {p.stem for p in paths} >= set(EXPECTED)
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [], f"{path.name}: a cell has outputs; clear them before committing"
                assert cell.execution_count is None, f"{path.name}: a cell has an execution count"


# --------------------------------------------------------------------------- executed on tiny data

@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The "test" scenario, its baseline and two weekly runs: what `make demo` leaves, in miniature."""
    root = tmp_path_factory.mktemp("notebooks")
    catalog = Path(simulate.simulate_catalog(root / "sim", simulate.scenario("test")))
    config = write_config(root / "run.toml", catalog, root / "out")
    cfg = pipeline.load_run_config(config)
    assert pipeline.backfill(*BASELINE, cfg).ok
    # the backfill's snapshot is labelled with the ISO week of the baseline end, and a weekly run needs a
    # snapshot strictly before its week: take the first weeks with imagery after that week
    backfill_week_end = week_bounds(iso_week(dt.date.fromisoformat(BASELINE[1])))[1]
    weeks = weeks_with_items(catalog, str(backfill_week_end))
    assert len(weeks) == 2
    for week in weeks:
        summary = pipeline.weekly(week, cfg)
        assert summary.ok, summary.tiles_failed
    return {"SAROLANGUN_CATALOG": str(catalog), "SAROLANGUN_CONFIG": str(config),
            "SAROLANGUN_OUT": str(root / "out"), "weeks": weeks}


def _execute(name: str, env: dict, monkeypatch) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    for k, v in env.items():
        if k.startswith("SAROLANGUN_"):
            monkeypatch.setenv(k, v)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, timeout=240, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def _outputs(nb: nbformat.NotebookNode) -> tuple[int, list[str], str]:
    """(number of figures, HTML tables, all text output) of an executed notebook."""
    figures, tables, text = 0, [], []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            figures += "image/png" in data
            if "<table" in data.get("text/html", ""):
                tables.append(data["text/html"])
            text.append(out.get("text", "") + data.get("text/plain", ""))
    return figures, tables, "\n".join(text)


#: notebook -> (minimum number of figures, strings its outputs must show)
CHECKS = {
    "01_quickstart": (2, ["clearest acquisition:", "platform", "ndvi"]),
    "02_change_detection": (4, ["baseline from the pipeline state", "PETI-", "candidate_share",
                                "max_confidence"]),
    "03_sites_and_exports": (0, ["latest_week", "peti_sites_top10.csv", "peti_sites_top10.xlsx",
                                 "peti_sites_top10.gpx"]),
    "04_road_damage": (2, ["segments of 100 m", "damaged segment-weeks", "surface_change"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPECTED)
def test_notebook__runs_on_the_demo_data(name, demo_run, monkeypatch):
    nb = _execute(name, demo_run, monkeypatch)
    figures, tables, text = _outputs(nb)
    min_figures, strings = CHECKS[name]
    assert figures >= min_figures, f"{name}: {figures} figures"
    assert any("<tbody>" in t and "<tr>" in t.split("<tbody>")[1] for t in tables), f"{name}: no table rows"
    for s in strings:
        assert s in text, f"{name}: {s!r} not in the outputs"
    if name in ("03_sites_and_exports", "04_road_damage"):  # the registry's weeks show up
        assert demo_run["weeks"][-1] in text
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, json.dumps(errors)[:2000]
