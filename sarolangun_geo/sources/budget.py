"""Sentinel Hub processing units (PU): estimate, count and cap per calendar month.

The Copernicus Data Space free tier gives 10 000 PU a month.  Before each
request :meth:`PUBudget.reserve` refuses (``BudgetExceededError``) when the
units spent this month plus those reserved by requests in flight plus the
request's estimate would pass the limit; after the request
:meth:`PUBudget.record` adds what the service reports in the
``X-ProcessingUnits-Spent`` header (or the estimate when it is absent).  The
tally lives in a small JSON file, locked with ``fcntl`` so parallel processes
share it; a new UTC month starts from zero.

PU estimate (Sentinel Hub's published rule): ``(width * height / 512²) *
(input bands / 3) * (2 if FLOAT32 output else 1) * n_dates``, at least 0.005;
``dataMask`` does not count as an input band.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from ..errors import BudgetExceededError

__all__ = ["CDSE_FREE_PU", "PU_HEADER", "PUBudget", "estimate_pu"]

PU_HEADER = "X-ProcessingUnits-Spent"
CDSE_FREE_PU = 10_000.0


def estimate_pu(width: int, height: int, n_input_bands: int, *, float32: bool = False,
                n_dates: int = 1) -> float:
    """Processing units of one Process API request (Sentinel Hub's rule, see module docstring)."""
    pu = (width * height / 512**2) * (n_input_bands / 3.0) * (2.0 if float32 else 1.0) * n_dates
    return max(pu, 0.005)


class PUBudget:
    """Monthly PU tally persisted at ``path``.

    Parameters
    ----------
    path
        JSON file holding ``{"month": "YYYY-MM", "spent_pu": float, "requests": int}``.
    limit_pu
        Monthly limit (CDSE free tier: 10 000).
    """

    def __init__(self, path: str | Path, limit_pu: float = CDSE_FREE_PU) -> None:
        self.path = Path(path)
        self.limit_pu = float(limit_pu)
        self._lock = threading.Lock()
        self._pending = 0.0

    @staticmethod
    def _month() -> str:
        return dt.datetime.now(dt.UTC).strftime("%Y-%m")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = json.loads(self.path.read_text()) if self.path.is_file() else {}
            except json.JSONDecodeError:
                state = {}
            if state.get("month") != self._month():
                state = {"month": self._month(), "spent_pu": 0.0, "requests": 0}
            yield state
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state, indent=1))
            os.replace(tmp, self.path)

    def spent(self) -> float:
        """PU spent this month (as recorded)."""
        with self._locked() as state:
            return float(state["spent_pu"])

    def reserve(self, estimate: float, what: str = "request") -> None:
        """Reserve ``estimate`` PU or raise :class:`BudgetExceededError`."""
        with self._locked() as state:
            used = state["spent_pu"] + self._pending
            if used + estimate > self.limit_pu:
                raise BudgetExceededError(
                    f"Sentinel Hub {what} needs ~{estimate:.2f} PU but {used:.2f} of the {self.limit_pu:.0f} PU "
                    f"monthly budget are used ({self.path}); wait for next month, shrink the AOI or period, "
                    "serve it from the cache, or raise budget_pu if your plan allows"
                )
            self._pending += estimate

    def record(self, estimate: float, spent: float | None) -> None:
        """Release a reservation and add the PU actually spent (``None``: nothing was spent)."""
        with self._locked() as state:
            self._pending = max(0.0, self._pending - estimate)
            if spent is not None:
                state["spent_pu"] = float(state["spent_pu"]) + float(spent)
                state["requests"] = int(state["requests"]) + 1
