"""The pipeline bench's compiled load generator (``bench/pacer``, Go standard library only).

``bench/pipeline.py`` needs an open-loop generator: each pre-signed POST sent once, request
n due at start + n/rate whether or not earlier ones were answered, and per request when it
was due, when it went out and what came back. vegeta (``bench/vegeta.py``) does that for
~0.3-0.4 CPU-ms a request on the 2-core bench machine; at 500/s that is 8 % of the machine
the services are measured on. The pacer writes requests serialised before the run on
keep-alive connections, one goroutine a connection, and with ``tick`` wakes at most once
per tick to send what is due (a request leaves up to a tick late; its lag behind the
schedule is reported, and latency is counted from its due time, so the lag is never
hidden). Built into ``bench/.tools/bin`` by ``python -m bench.pacer install`` (needs
``go``; nothing to fetch).

    python -m bench.pacer install
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import TOOLS, find_tool, go_build
from bench.vegeta import targets_file

SOURCE = Path(__file__).resolve().parent / "pacer"
BINARY_NAME = "pacer"
BINARY_ENV = "BENCH_PACER"
#: At most one wake-up per tick: at 500/s two requests leave together every 4 ms; below
#: 250/s every request has its own wake-up as before.
DEFAULT_TICK_MS = 4.0


def find() -> Path | None:
    """The pacer if it is built (``BENCH_PACER``, on PATH, bench/.tools/bin)."""
    return find_tool(BINARY_NAME, BINARY_ENV)


def install(target: Path = TOOLS) -> Path:
    """``go build`` of ``bench/pacer`` into ``target``."""
    return go_build(SOURCE, BINARY_NAME, target)


def attack_each(
    requests: list[Any],
    base_url: str,
    *,
    rate: float,
    tick_ms: float = DEFAULT_TICK_MS,
    timeout_s: float = 30.0,
    binary: Path | None = None,
) -> tuple[list[dict[str, Any]], float]:
    """Send every request once at ``rate``; per request (in order) ``seq``, ``due``,
    ``timestamp`` (sent), ``code`` (0: no answer), ``latency`` (ns) and ``error``, and
    the pacer's CPU-seconds."""
    program = binary or find()
    if program is None:
        raise SystemExit("pacer not built: run `python -m bench.pacer install` (needs go)")
    with tempfile.TemporaryDirectory(prefix="pacer-") as folder:
        targets = targets_file(requests, base_url, Path(folder))
        results = Path(folder) / "results.jsonl"
        command = [
            str(program),
            f"-targets={targets}",
            f"-output={results}",
            f"-rate={rate:g}",
            f"-tick={tick_ms:g}ms",
            f"-timeout={timeout_s:g}s",
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        # one OS thread runs the goroutines: hand-offs between a connection's goroutine and
        # the pacer stay on it instead of waking another thread each time
        subprocess.run(command, check=True, env={**os.environ, "GOMAXPROCS": "1"})
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        lines = results.read_text().splitlines()
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return [json.loads(line) for line in lines if line.strip()], cpu_s


def main() -> None:
    if sys.argv[1:] != ["install"]:
        raise SystemExit("usage: python -m bench.pacer install")
    print(install())


if __name__ == "__main__":
    main()
