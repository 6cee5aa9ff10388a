"""Wait until a service we started answers its probe: the one helper every test uses.

``/readyz`` (the default) answers 200 once the service's checks pass (Kafka, store …);
``/healthz`` answers 200 as soon as the process serves HTTP. A process that exits while
we wait fails at once with its exit code, instead of the wait running out.
The timeout is a guard against hanging, never a timing assertion.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx

#: A child started with subprocess.Popen or asyncio.create_subprocess_exec.
Process = subprocess.Popen | asyncio.subprocess.Process


class NotReady(AssertionError):
    """The service exited, or did not answer in time (an AssertionError: a test failure)."""


def _exit_code(process: Process | None) -> int | None:
    if process is None:
        return None
    if isinstance(process, subprocess.Popen):
        return process.poll()
    return process.returncode


def _check_alive(process: Process | None, name: str, describe: Callable[[], str]) -> None:
    code = _exit_code(process)
    if code is not None:
        raise NotReady(f"{name} exited with {code} while starting{describe()}")


async def wait_ready(
    base_url: str,
    *,
    path: str = "/readyz",
    process: Process | None = None,
    name: str = "service",
    timeout_s: float = 60.0,
    interval_s: float = 0.2,
    describe: Callable[[], str] = lambda: "",
) -> None:
    """Return once ``GET base_url + path`` answers 200. ``describe`` adds context (a log
    tail) to the failure."""
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            _check_alive(process, name, describe)
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(path)).status_code == 200:
                    return
            await asyncio.sleep(interval_s)
    raise NotReady(f"{name}: {base_url}{path} not 200 after {timeout_s:.0f}s{describe()}")


def wait_ready_blocking(base_url: str, **options: Any) -> None:
    """:func:`wait_ready` for code with no running event loop (sync fixtures, threads,
    the benchmarks)."""
    asyncio.run(wait_ready(base_url, **options))
