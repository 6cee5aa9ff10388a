"""Shared by the benchmark scripts: where results go, broker, router stores, percentiles."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
#: where ``python -m bench.<vegeta|pacer|smtp_sink> install`` put the compiled tools (never
#: committed)
TOOLS = Path(__file__).resolve().parent / ".tools" / "bin"


def go_build(source: Path, binary_name: str, target: Path) -> Path:
    """``go build`` of a bench tool's folder (standard library only: nothing to fetch)
    into ``target``; the binary's path."""
    target.mkdir(parents=True, exist_ok=True)
    binary = target / binary_name
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOWORK": "off"}
    subprocess.run(
        ["go", "build", "-trimpath", "-o", str(binary), "."], cwd=source, env=env, check=True
    )
    return binary


def find_tool(name: str, env: str) -> Path | None:
    """A compiled tool if it is built: the path in ``env``, else on PATH, else in TOOLS."""
    path = Path(os.environ.get(env) or shutil.which(name) or str(TOOLS / name))
    return path if path.exists() else None


def bootstrap_servers() -> str:
    """``KAFKA_BOOTSTRAP_SERVERS`` if set, else the project's local broker (started if needed)."""
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if env:
        return env
    from tools.local_broker import LocalKafka

    broker = LocalKafka()
    broker.start()
    return broker.bootstrap_servers


def delete_run_topics(kafka: Any) -> None:
    """Delete the topics a finished run made (``kafka`` is its ``KafkaSettings``).

    Every run makes topics of its own, and a local broker on Kafka's defaults (1 GB
    segments, 7 days) keeps all of them: 36 GB of past runs filled this machine's disk
    and killed a CI run. Called after the figures are taken; a failure is reported,
    not raised."""
    from libs.common.kafka.admin import delete_topics

    names = run_topic_names(kafka.topics)
    try:
        asyncio.run(delete_topics(kafka, names))
    except Exception as error:  # clean-up only: the run's figures stand
        print(f"[bench] could not delete the run's topics {names}: {error!r}", flush=True)


def run_topic_names(topics: Any) -> list[str]:
    """The topics of ``topics`` (a ``TopicSettings``) that are the run's own: named
    ``<run>.<topic>`` after its interactions topic (``tools.testing.system.run_topics``).

    The others keep their broker-wide names (``support.privacy.v1``, often
    ``support.assistant.v1``): other runs, the tests' systems and a developer's
    ``omnidesk dev up`` on the same broker use them, so a run's clean-up leaves them."""
    run = topics.interactions.removesuffix(".interactions")
    if run == topics.interactions:  # not a run's naming: nothing here is the run's own
        return []
    return [name for name in topics.all_names() if name.startswith(run + ".")]


def router_store_names(choice: str) -> list[str]:
    """``--store all|sqlite|postgresql`` as the stores to run, in that order."""
    return [name for name in ("sqlite", "postgresql") if choice in ("all", name)]


@contextmanager
def router_store_url(name: str, *, prefix: str) -> Iterator[str]:
    """A fresh, empty router database: a SQLite file in a temporary folder, or a
    database on a private PostgreSQL server (Debian packages), removed afterwards."""
    if name == "postgresql":
        from tools.testing.postgres import postgres_for_tests

        with postgres_for_tests() as server:
            yield server.create_database()
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield f"sqlite+aiosqlite:///{folder}/router.db"


@contextmanager
def scratch_folder(prefix: str, *, keep: bool = False) -> Iterator[Path]:
    """A run's temporary folder (a SQLite store, a service's state), removed when the run
    ends, failed runs too: a router store after a run is ~100 MB, and every run used to
    leave its own in /tmp. ``keep`` (a bench's ``--keep-store``) leaves it and prints
    where it is, to look at the store afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        if keep:
            print(f"[bench] kept {folder}", flush=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def bench_gc_paused() -> Iterator[None]:
    """The bench process's own garbage collector off while it measures latency, and a
    collection when the phase is over (outside the measured time).

    A latency bench counts its own lateness as latency (an event is timed from when its
    publish was due). Its gen-2 collections walk everything the process holds (the
    router's modules it imports, the stamps of every event): 24-85 ms each, ~6 per
    ``bench.router_throughput`` run, and each stalls publishing, so ~50 events go out
    late in a burst. That was the p99 at 1,000/s on SQLite: the slowest 1 % had waited
    57 ms on average before the bench created them (idle machine, load 0.7; p99 109 ms
    with the bench's collector on, 51 ms with it paused, same router). A phase allocates
    a few MB, which the collection after it frees."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


async def paced(total: int, rate: float, began: float) -> AsyncIterator[tuple[int, float]]:
    """``(n, due)`` for n in ``range(total)``, each once its due time (``began + n / rate``
    on ``time.perf_counter()``) has come: an open-loop schedule. A caller that falls
    behind gets the next at once, so its lateness shows as latency from ``due``."""
    for n in range(total):
        due = began + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        yield n, due


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def latency_summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
        "mean_ms": round(statistics.fmean(ms), 3) if ms else float("nan"),
    }


def write_result(name: str, figures: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **figures,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))
    print(f"written to {path}")
    return path


def annotate_inclusive(path: Path | str) -> str:
    """``callgrind_annotate --inclusive=yes`` of a callgrind output file: each function's
    instructions with those of everything it called (functions under 100 left out)."""
    return subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
