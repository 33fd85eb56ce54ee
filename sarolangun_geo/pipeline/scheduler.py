"""Choose the dask scheduler a run computes on.

``threads`` (default, the local threaded scheduler), ``sync`` (single thread,
for debugging), ``local:N`` (a ``dask.distributed.LocalCluster`` with N worker
processes) or ``tcp://host:8786`` (an existing dask.distributed scheduler, e.g.
started by dask-jobqueue, the Dask Kubernetes operator or Coiled).  The same
run configuration works on all of them: only the pipeline calls ``compute``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dask

from ..errors import ConfigError

__all__ = ["SchedulerInfo", "use_scheduler"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchedulerInfo:
    """What a run computes on."""

    spec: str
    client: Any | None = None
    dashboard: str | None = None
    n_workers: int = 1


@contextlib.contextmanager
def use_scheduler(spec: str = "threads", memory_limit: str = "4GB",
                  threads_per_worker: int = 1) -> Iterator[SchedulerInfo]:
    """Context manager that makes ``spec`` the scheduler for ``dask.compute`` inside it.

    Raises
    ------
    ConfigError
        For an unknown spec, with the accepted forms.
    """
    if spec in ("threads", "sync", "synchronous", "processes"):
        name = "sync" if spec == "synchronous" else spec
        with dask.config.set(scheduler=name):
            yield SchedulerInfo(spec=name)
        return
    if spec.startswith("local:") or spec.startswith("tcp://") or spec.startswith("tls://"):
        from distributed import Client, LocalCluster

        if spec.startswith("local:"):
            try:
                n = int(spec.split(":", 1)[1])
            except ValueError:
                raise ConfigError(f"--scheduler {spec!r}: the worker count after 'local:' must be a number") from None
            cluster = LocalCluster(n_workers=n, threads_per_worker=threads_per_worker, processes=True,
                                   memory_limit=memory_limit, dashboard_address=":0")
            client = Client(cluster)
        else:
            cluster = None
            client = Client(spec, timeout="20s")
        try:
            info = SchedulerInfo(spec=spec, client=client, dashboard=client.dashboard_link,
                                 n_workers=len(client.scheduler_info().get("workers", {})))
            log.info("dask dashboard: %s (%d workers)", info.dashboard, info.n_workers)
            yield info
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    raise ConfigError(
        f"--scheduler {spec!r} is not understood; use 'threads', 'sync', 'local:N' or 'tcp://host:8786'"
    )
