"""A compiled load generator for ``bench/webhook_load.py --generator vegeta``.

Vegeta (Go, github.com/tsenart/vegeta) is built from the Go module proxy into
``bench/.tools/bin`` by ``python -m bench.vegeta install`` (never committed;
needs ``go``). It cross-checks the Python generator: if the Python figures
were limited by the generator, vegeta's would be higher on the same server.

Each phase writes the already-signed requests as vegeta JSON targets (one per
line, body base64), runs ``vegeta attack`` and reads ``vegeta report -type=json``.
Throughput: ``-rate=0`` with ``--concurrency`` workers (closed loop); fixed
rate: ``-rate=N/s`` (vegeta's pacer is open loop; latency counts from each
request's send time, which the pacer keeps on schedule while workers are free).

    python -m bench.vegeta install
"""

from __future__ import annotations

import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import TOOLS, find_tool

MODULE = "github.com/tsenart/vegeta/v12"
NO_TARGETS = "no targets to attack"  # vegeta's ErrNoTargets, once the lazy targets ran out
VERSION = "v12.13.0"  # builds with the Go toolchain on the project's machines


def find() -> Path | None:
    """The vegeta binary if it is built (``BENCH_VEGETA``, on PATH, or bench/.tools/bin)."""
    return find_tool("vegeta", "BENCH_VEGETA")


def binary() -> Path:
    path = find()
    if path is None:
        raise SystemExit("vegeta not found: run `python -m bench.vegeta install` (needs go)")
    return path


def install() -> Path:
    TOOLS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(TOOLS)}
    subprocess.run(["go", "install", f"{MODULE}@{VERSION}"], env=env, check=True)
    return TOOLS / "vegeta"


def targets_file(requests: list[Any], base_url: str, folder: Path) -> Path:
    """Vegeta's JSON target format: method, url, header (lists), body (base64)."""
    path = folder / "targets.jsonl"
    with path.open("w") as out:
        for request in requests:
            target = {
                "method": request.method,
                "url": base_url + request.path,
                "header": {name: [value] for name, value in request.headers.items()},
                "body": base64.b64encode(request.content).decode(),
            }
            out.write(json.dumps(target) + "\n")
    return path


def attack(
    requests: list[Any], base_url: str, *, duration: float, rate: int, workers: int
) -> dict[str, Any]:
    """One phase; figures in webhook_load's shape. ``rate`` 0: as fast as ``workers`` go."""
    with tempfile.TemporaryDirectory(prefix="vegeta-") as folder:
        targets = targets_file(requests, base_url, Path(folder))
        results = Path(folder) / "results.bin"
        pacing = ["-rate=0", f"-max-workers={workers}"] if rate == 0 else [f"-rate={rate}/s"]
        command = [
            str(binary()),
            "attack",
            "-format=json",
            f"-targets={targets}",
            f"-duration={duration}s",
            f"-workers={workers}",
            "-timeout=30s",
            f"-output={results}",
            *pacing,
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, check=True)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        report = subprocess.run(
            [str(binary()), "report", "-type=json", str(results)],
            check=True,
            capture_output=True,
        )
    data = json.loads(report.stdout)
    return _figures(data, elapsed, rate, cpu_s=_cpu(after) - _cpu(before))


def attack_each(
    requests: list[Any], base_url: str, *, duration: float, rate: float
) -> tuple[list[dict[str, Any]], float]:
    """An open-loop fixed-rate phase sending every request once; every result as vegeta
    encodes it (``seq``, ``timestamp``, ``code``, ``latency`` in ns, ``error``), and
    vegeta's CPU-seconds.

    The targets are read lazily (``-lazy``), so the attack ends when they run out (one
    result per worker that found none: ``NO_TARGETS``) rather than at ``duration``,
    which only bounds a pacer that fell far behind. Hits are numbered (``seq``) in the
    pacer's order and take the targets in file order, so the n-th result by ``seq`` that
    found a target carries request n (two workers can swap neighbours within
    microseconds).
    """
    with tempfile.TemporaryDirectory(prefix="vegeta-") as folder:
        targets = targets_file(requests, base_url, Path(folder))
        results = Path(folder) / "results.bin"
        command = [
            str(binary()),
            "attack",
            "-format=json",
            f"-targets={targets}",
            "-lazy",
            f"-duration={duration}s",
            f"-rate={rate:g}/1s",
            "-timeout=30s",
            f"-output={results}",
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(command, check=True)
        cpu_s = _cpu(resource.getrusage(resource.RUSAGE_CHILDREN)) - _cpu(before)
        encoded = subprocess.run(
            [str(binary()), "encode", "--to=json", str(results)],
            check=True,
            capture_output=True,
        )
    return [json.loads(line) for line in encoded.stdout.splitlines() if line.strip()], cpu_s


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _figures(data: dict[str, Any], elapsed: float, rate: int, cpu_s: float) -> dict[str, Any]:
    statuses = {str(k): v for k, v in sorted(data.get("status_codes", {}).items())}
    ok = sum(v for k, v in statuses.items() if k.startswith("2"))
    latencies = data.get("latencies", {})

    def ms(key: str) -> float:
        return round(latencies.get(key, 0) / 1e6, 3)

    figures: dict[str, Any] = {
        "sent": data.get("requests", 0),
        "acked_2xx": ok,
        "statuses": statuses,
        "elapsed_s": round(elapsed, 3),
        "acked_per_s": round(data.get("throughput", 0.0), 1),
        # vegeta reports over all answers; with only 2xx answers they are the 2xx ones
        "latency_2xx": {
            "count": ok,
            "p50_ms": ms("50th"),
            "p99_ms": ms("99th"),
            "max_ms": ms("max"),
            "mean_ms": ms("mean"),
        },
        "generator_process_cpu_s": round(cpu_s, 3),
    }
    if rate:
        figures["target_rate"] = rate
    return figures


if __name__ == "__main__":
    if sys.argv[1:] == ["install"]:
        print(install())
    else:
        raise SystemExit("usage: python -m bench.vegeta install")
