"""Processing-unit estimate and the persisted monthly budget."""

from __future__ import annotations

import json

import pytest

from sarolangun_geo.errors import BudgetExceededError
from sarolangun_geo.sources.budget import PUBudget, estimate_pu


def test_estimate_pu__rule() -> None:
    assert estimate_pu(512, 512, 3) == pytest.approx(1.0)
    assert estimate_pu(1000, 1000, 7) == pytest.approx(1000 * 1000 / 512**2 * 7 / 3)
    assert estimate_pu(512, 512, 3, float32=True) == pytest.approx(2.0)
    assert estimate_pu(1, 1, 1) == 0.005


def test_pu_budget__reserve_record_refuse(tmp_path) -> None:
    b = PUBudget(tmp_path / "b.json", limit_pu=10)
    b.reserve(6)
    b.record(6, 5.5)
    assert b.spent() == 5.5
    with pytest.raises(BudgetExceededError, match=r"5\.50 of the 10 PU"):
        b.reserve(4.6)
    b.reserve(4.5)
    b.record(4.5, None)  # failed request: nothing spent, reservation released
    assert PUBudget(tmp_path / "b.json", 10).spent() == 5.5


def test_pu_budget__new_month_starts_from_zero(tmp_path) -> None:
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"month": "1999-01", "spent_pu": 9999.0, "requests": 3}))
    assert PUBudget(p, 10).spent() == 0.0
