"""Starting a service as its own process in a test: its environment, the process, its log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from libs.common.settings import KafkaSettings
from tools.testing.system import kafka_env


def service_env(prefix: str, kafka: KafkaSettings, **settings: str) -> dict[str, str]:
    """This process's environment without the service's own ``prefix`` settings (a developer's
    shell must not leak into the test), pointed at the test broker and topics, plus ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefix)}
    return {**env, **kafka_env(kafka), **settings}


async def wait_log_count(
    log_path: Path, process: asyncio.subprocess.Process, marker: str, count: int
) -> None:
    """Until ``marker`` appears ``count`` times in the process's log (e.g. once per worker);
    bounded polling, failing at once if the process exits."""
    text = ""
    for _ in range(240):
        assert process.returncode is None, f"the process exited during start-up:\n{text}"
        text = await asyncio.to_thread(log_path.read_text)
        if text.count(marker) >= count:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"{marker!r} logged fewer than {count} times:\n{text}")


@contextlib.asynccontextmanager
async def running_module(
    module: str, env: dict[str, str], log_path: Path, *, stop_within_s: float = 60
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m module`` with its stdout and stderr in ``log_path``; on leaving, SIGTERM
    (what a supervisor sends) and wait for it to exit: ``process.returncode`` is then set.
    One that does not stop within ``stop_within_s`` is killed and the timeout raised."""
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            env=env,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), stop_within_s)
            except TimeoutError:
                process.kill()  # stop what the test started; the test still fails
                await process.wait()
                raise
