"""chat_ingest's CPU per request at paced rates (vegeta, open loop) and saturated, with the
counts that say where a rate-dependent cost comes from.

One service process (``python -m services.chat_ingest``, one worker, as ``bench.webhook_load``
starts it) on a run's own topics; vegeta sends pre-signed web-chat POSTs at each ``--rates``
rate for ``--seconds`` (open loop, keep-alive, as the pipeline's generator), then, with
``--saturated N``, closed loop with N workers. For every phase, from ``/proc``:

- the service's CPU-seconds per 1,000 requests (utime + stime of its process tree);
- context switches per request (voluntary / involuntary, summed over its threads);
- TCP segments the service sent to the broker per second and per request (``ss -ti``'s
  ``data_segs_out`` on its broker connections: ~one a produce request, aiokafka writes a
  request in one ``write``), so records per produce request is ~ requests / segments;
- the broker's CPU-seconds per 1,000 requests (the process listening on its port), for
  what the service's produce requests cost it too;
- with ``--syscalls``, syscalls per request by kind (``perf stat`` on the kernel's
  ``syscalls:sys_enter_*`` tracepoints: exact counts, unlike ``strace`` it does not slow
  the service down, which changes how requests arrive);
  new connections per request among them (``accept4``).

``--perf DIR`` records ``perf record -e cpu-clock -g`` of the service through each phase,
``--pyspy DIR`` its Python stacks (``py-spy record --nonblocking``, collapsed stacks).
Run it alternately from two trees to compare them (A, B, A, B). JSON goes to
``bench/results/webhook_paced_cpu-<time>.json``.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19112 python -m bench.webhook_paced_cpu \\
        [--rates 100,500,1000] [--seconds 12] [--saturated 64] [--syscalls] [--perf DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import vegeta
from bench.cpu_accounting import listening_pid, rss_mb, thread_stats
from bench.webhook_load import TARGETS, _tree_cpu_s
from bench.webhook_rate_cpu import one_worker_service

RESULTS = Path(__file__).parent / "results"
WARM_UP_RATE, WARM_UP_S = 200, 3.0
_SEGS = re.compile(r"\bdata_segs_out:(\d+)")
#: Syscalls counted with ``--syscalls``.
SYSCALLS = (
    "accept4",
    "close",
    "epoll_ctl",
    "epoll_pwait",
    "epoll_wait",
    "getpid",
    "getsockname",
    "getpeername",
    "io_uring_enter",
    "read",
    "recvfrom",
    "sendmsg",
    "sendto",
    "setsockopt",
    "write",
    "writev",
)


@dataclass(frozen=True)
class Counts:
    cpu_s: float
    voluntary: int
    involuntary: int
    broker_segments: int
    broker_cpu_s: float = 0.0


def broker_segments(ss_output: str) -> int:
    """Sum of ``data_segs_out`` over the connections ``ss -tin`` printed."""
    return sum(int(m) for m in _SEGS.findall(ss_output))


def _segments_to(pid: int, broker_port: int) -> int:
    out = subprocess.run(
        ["ss", "-tinpH", "state", "established", f"( dport = :{broker_port} )"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    # one connection is two lines (the socket, then its -i figures): keep this pid's
    lines, total, mine = out.splitlines(), 0, False
    for line in lines:
        if "users:" in line:
            mine = f"pid={pid}," in line
        if mine:
            total += broker_segments(line)
    return total


def _counts(pid: int, broker_port: int, broker_pid: int | None) -> Counts:
    threads = thread_stats(pid).values()
    voluntary = sum(t.voluntary for t in threads)
    involuntary = sum(t.involuntary for t in threads)
    broker_cpu = _tree_cpu_s(broker_pid) if broker_pid else 0.0
    segments = _segments_to(pid, broker_port)
    return Counts(_tree_cpu_s(pid), voluntary, involuntary, segments, broker_cpu)


@contextlib.contextmanager
def _recorded(folder: Path | None, pid: int, name: str) -> Iterator[None]:
    """``perf record`` attached to ``pid`` while the block runs."""
    if folder is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}.perf.data"
    command = ["perf", "record", "-e", "cpu-clock", "-F", "999", "-g", "-p", str(pid)]
    with _attached([*command, "-o", str(out)]):
        yield


@contextlib.contextmanager
def _python_stacks(folder: Path | None, pid: int, name: str) -> Iterator[None]:
    """``py-spy record`` (collapsed stacks, not pausing the service) while the block runs."""
    if folder is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    py_spy = Path(sys.executable).parent / "py-spy"
    command = [str(py_spy), "record", "-r", "250", "--nonblocking", "-f", "raw"]
    with _attached([*command, "-p", str(pid), "-o", str(folder / f"{name}.txt")]):
        yield


@contextlib.contextmanager
def _attached(command: list[str]) -> Iterator[None]:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # attached before the phase starts
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)  # perf writes its data or counts and exits
        proc.wait(timeout=60)


def syscall_counts(perf_stat_csv: str) -> dict[str, int]:
    """``perf stat -x,`` output → {syscall: count} (pure)."""
    counts = {}
    for line in perf_stat_csv.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2].startswith("syscalls:sys_enter_"):
            with contextlib.suppress(ValueError):
                counts[fields[2].removeprefix("syscalls:sys_enter_")] = int(fields[0])
    return counts


@contextlib.contextmanager
def _syscalls(enabled: bool, pid: int, into: dict[str, int]) -> Iterator[None]:
    """Counts of ``SYSCALLS`` made by ``pid``'s threads while the block runs, into ``into``."""
    if not enabled:
        yield
        return
    with tempfile.NamedTemporaryFile("r", suffix=".csv") as out:
        events = ",".join(f"syscalls:sys_enter_{name}" for name in SYSCALLS)
        with _attached(["perf", "stat", "-x,", "-e", events, "-p", str(pid), "-o", out.name]):
            yield
        into.update(syscall_counts(Path(out.name).read_text()))


def percentile_ms(latencies_ns: list[int], q: float) -> float | None:
    """The ``q`` quantile (nearest rank) of vegeta's latencies, in ms (pure)."""
    if not latencies_ns:
        return None
    ordered = sorted(latencies_ns)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6, 2)


def phase_figures(before: Counts, after: Counts, answers: int, seconds: float) -> dict[str, Any]:
    """The phase's per-request and per-second figures (pure)."""
    segments = after.broker_segments - before.broker_segments
    per = 1 / answers if answers else 0.0
    return {
        "answers": answers,
        "cpu_s_per_1000": round((after.cpu_s - before.cpu_s) * 1e3 * per, 3),
        "cpu_ms_per_s": round((after.cpu_s - before.cpu_s) / seconds * 1e3, 1),
        "voluntary_switches_per_request": round((after.voluntary - before.voluntary) * per, 3),
        "involuntary_switches_per_request": round(
            (after.involuntary - before.involuntary) * per, 3
        ),
        "broker_segments_per_s": round(segments / seconds, 1),
        "requests_per_broker_segment": round(answers / segments, 2) if segments else None,
        "broker_cpu_s_per_1000": round((after.broker_cpu_s - before.broker_cpu_s) * 1e3 * per, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,500,1000")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--saturated", type=int, default=0, help="Workers of a closed loop.")
    parser.add_argument("--perf", type=Path, default=None)
    parser.add_argument("--pyspy", type=Path, default=None)
    parser.add_argument("--syscalls", action="store_true", help="Count syscalls (perf stat).")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    target = TARGETS["chat"](None)
    broker_port = int(os.environ.get("KAFKA_BOOTSTRAP_SERVERS", ":9092").rsplit(":", 1)[1])
    result: dict[str, Any] = {
        "label": args.label,
        "tree": os.getcwd(),
        "load_1m_at_start": round(os.getloadavg()[0], 2),
        "phases": {},
    }
    with one_worker_service(target, [sys.executable, "-m"]) as (proc, port):
        base_url = f"http://127.0.0.1:{port}"
        broker_pid = listening_pid(broker_port)
        seq = 0

        def requests(count: int) -> list[Any]:
            nonlocal seq
            batch = [target.build_request(seq + n, base_url) for n in range(count)]
            seq += count
            return batch

        warm = requests(int(WARM_UP_RATE * WARM_UP_S))
        vegeta.attack_each(warm, base_url, duration=WARM_UP_S + 30, rate=WARM_UP_RATE)
        phases: list[tuple[str, int]] = [(f"paced_{r}", int(r)) for r in args.rates.split(",")]
        if args.saturated:
            phases.append((f"saturated_{args.saturated}", 0))
        for name, rate in phases:
            print(f"[paced_cpu] {name} (service pid {proc.pid})", file=sys.stderr, flush=True)
            batch = requests(int((rate or 3000) * args.seconds))
            before = _counts(proc.pid, broker_port, broker_pid)
            syscalls: dict[str, int] = {}
            with (
                _recorded(args.perf, proc.pid, name),
                _python_stacks(args.pyspy, proc.pid, name),
                _syscalls(args.syscalls, proc.pid, syscalls),
            ):
                started = time.monotonic()
                if rate:
                    hits, _ = vegeta.attack_each(
                        batch, base_url, duration=2 * args.seconds + 30, rate=rate
                    )
                    answered = [h for h in hits if h.get("error") != vegeta.NO_TARGETS]
                    codes = [h["code"] for h in answered]
                    p99 = percentile_ms([h["latency"] for h in answered], 0.99)
                else:
                    figures = vegeta.attack(
                        batch, base_url, duration=args.seconds, rate=0, workers=args.saturated
                    )
                    codes = [int(k) for k, v in figures["statuses"].items() for _ in range(v)]
                    p99 = figures["latency_2xx"]["p99_ms"]
                elapsed = time.monotonic() - started
            after = _counts(proc.pid, broker_port, broker_pid)
            figures_out = phase_figures(before, after, len(codes), elapsed)
            figures_out["non_2xx"] = sum(1 for c in codes if not 200 <= c < 300)
            figures_out["rss_mb"] = rss_mb(proc.pid)
            if syscalls and codes:
                figures_out["syscalls_per_request"] = {
                    k: round(v / len(codes), 3) for k, v in sorted(syscalls.items()) if v
                }
            if p99 is not None:
                figures_out["p99_ms"] = p99
            result["phases"][name] = figures_out
            print(json.dumps({name: figures_out}), file=sys.stderr, flush=True)
    result["load_1m_at_end"] = round(os.getloadavg()[0], 2)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"webhook_paced_cpu-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
