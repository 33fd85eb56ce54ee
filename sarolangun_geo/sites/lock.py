"""An exclusive lock file next to the registry (``<registry>.lock``).

Created with ``O_CREAT | O_EXCL`` (atomic on local file systems) and holding
JSON ``{pid, host, since, argv}``.  A lock whose process is gone (same host,
pid not alive) is stale and is taken over; otherwise a second run fails fast
with :class:`RegistryLockedError` naming the holder and the fix.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
import time
from pathlib import Path
from types import TracebackType

from ..errors import RegistryLockedError

__all__ = ["RegistryLock", "lock_path"]


def lock_path(registry: Path) -> Path:
    """The lock file of a registry path."""
    return registry.with_name(registry.name + ".lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RegistryLock:
    """Context manager holding ``<registry>.lock``.

    Parameters
    ----------
    registry
        Path of the registry file.
    timeout
        Seconds to keep retrying while another live process holds the lock (0 = fail at once).
    """

    def __init__(self, registry: Path, timeout: float = 0.0) -> None:
        self.path = lock_path(Path(registry))
        self.timeout = timeout
        self._fd: int | None = None

    def _holder(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def acquire(self) -> None:
        """Take the lock, removing a stale one; raise RegistryLockedError if held."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self._fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                pid, host = holder.get("pid"), holder.get("host")
                if isinstance(pid, int) and host == socket.gethostname() and not _alive(pid):
                    try:
                        self.path.unlink()
                    except FileNotFoundError:
                        pass
                    continue
                if time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                raise RegistryLockedError(
                    f"registry {self.path.with_suffix('')} is locked by pid {pid} on {host} since "
                    f"{holder.get('since', '?')} ({' '.join(holder.get('argv', []))[:120]}); wait for that run to "
                    f"finish, or if no such process is running delete {self.path}") from None
            info = {"pid": os.getpid(), "host": socket.gethostname(),
                    "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "argv": sys.argv}
            os.write(self._fd, json.dumps(info).encode())
            os.fsync(self._fd)
            return

    def release(self) -> None:
        """Drop the lock (only if this object holds it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self) -> RegistryLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
