"""The layers import one way: run import-linter's contract from pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is not installed; run `make install`"
    res = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "KEPT" in res.stdout


def test_every_module_declares_all():
    missing = []
    for py in (ROOT / "sarolangun_geo").rglob("*.py"):
        text = py.read_text()
        if py.name == "__main__.py" or not text.strip():
            continue
        if "__all__" not in text:
            missing.append(str(py.relative_to(ROOT)))
    assert not missing, f"modules without __all__: {missing}"
