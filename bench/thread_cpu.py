"""CPU-seconds of each thread of a running process, from ``/proc/<pid>/task/*/stat``.

Watches one process (``--pid``, or the newest ``python -m services.<name>`` whose
working directory is this checkout: ``--service router``) until it exits or this is
interrupted, sampling every ``--every`` seconds, and prints each thread's CPU-seconds
(utime + stime, by thread name: the main thread, aiosqlite's connection thread,
executor workers) over the whole watch, and per 1,000 items with ``--items``. A
thread that ended between two samples keeps the CPU of its last sample.

Run it beside a bench: ``python -m bench.thread_cpu --service router --items 20000
& python -m bench.backlog_recovery --count 20000``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from pathlib import Path

from bench.cpu_accounting import TICKS_PER_S

PROC = Path("/proc")


def thread_ticks(pid: int) -> dict[int, tuple[str, int]]:
    """tid → (thread name, utime + stime ticks) of every live thread of ``pid``."""
    out: dict[int, tuple[str, int]] = {}
    for task in (PROC / str(pid) / "task").iterdir():
        try:
            text = (task / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        head, _, rest = text.rpartition(")")
        name = head.split("(", 1)[1]
        fields = rest.split()
        out[int(task.name)] = (name, int(fields[11]) + int(fields[12]))
    return out


def find_service(name: str, root: Path, after: float) -> int | None:
    """The newest ``python -m services.<name>`` started from ``root`` after ``after``."""
    found: list[tuple[float, int]] = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
            started = entry.stat().st_mtime
        except OSError:
            continue
        if f"services.{name}".encode() in cmdline and Path(cwd) == root and started >= after:
            found.append((started, int(entry.name)))
    return max(found)[1] if found else None


def watch(pid: int, every: float) -> dict[int, tuple[str, int]]:
    seen: dict[int, tuple[str, int]] = {}
    stopped = False

    def stop(*_: object) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopped:
        try:
            seen.update(thread_ticks(pid))
        except FileNotFoundError:
            break
        time.sleep(every)
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, default=None)
    parser.add_argument("--service", default="router")
    parser.add_argument("--every", type=float, default=0.2)
    parser.add_argument("--items", type=int, default=None, help="for CPU-ms per 1,000")
    parser.add_argument("--wait", type=float, default=600.0, help="for the service to start")
    parser.add_argument("--skip", type=int, default=0, help="services started before to skip")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    pid = args.pid
    began = time.time()
    root = Path.cwd().resolve()
    skipped: set[int] = set()
    while pid is None and time.time() - began < args.wait:
        found = find_service(args.service, root, began)
        if found is not None and found not in skipped:
            if len(skipped) < args.skip:
                skipped.add(found)
            else:
                pid = found
                break
        time.sleep(0.05)
    if pid is None:
        raise SystemExit(f"no services.{args.service} started from {root}")
    seen = watch(pid, args.every)
    by_name: dict[str, float] = {}
    for tid, (name, ticks) in seen.items():
        # Python 3.11 does not name its threads for the OS: all but the main one are
        # told apart by id
        label = "main" if tid == pid else f"{name}-{tid}"
        by_name[label] = by_name.get(label, 0.0) + ticks / TICKS_PER_S
    total = sum(by_name.values())
    figures = {
        "pid": pid,
        "cpu_s": {k: round(v, 2) for k, v in sorted(by_name.items(), key=lambda kv: -kv[1])},
        "total_s": round(total, 2),
    }
    if args.items:
        figures["cpu_ms_per_1000"] = {
            k: round(v * 1e6 / args.items, 1) for k, v in figures["cpu_s"].items()
        }
    text = json.dumps(figures, indent=2)
    print(text, flush=True)
    if args.json is not None:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
