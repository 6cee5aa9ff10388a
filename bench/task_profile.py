"""Where a service's CPU goes, by asyncio task and by library, from py-spy samples.

    python -m bench.task_profile router.txt [--cpu-s-per-1000 0.55] [--json OUT.json]

Input: py-spy's raw (collapsed) output — one line per distinct stack, frames from
the outermost to the innermost separated by ``;``, then the sample count — as
``bench.backlog_recovery --py-spy DIR`` writes it (``--threads --native``: the
first frame names the thread; native frames show the garbage collector, SQLite
and the kernel calls).

Each sample is put in three piles:

- **waiting** (not CPU): the event loop in ``epoll_wait``, a thread blocked on a
  queue or lock, a thread waiting to take the GIL back (``pthread_cond_timedwait``,
  ``take_gil``). py-spy's "idle" test is unreliable with ``--native``, so these are
  recognised by their innermost frames and left out of the shares.
- **task**: on the main thread, the first frame of our code (or a library's) under
  the event loop's run — uvloop's ``task_step`` or asyncio's ``Handle._run`` —
  is the task (or protocol callback) the sample belongs to. For the Kafka consumer
  runner (one class, several consumers) the first frame under the runner outside
  ``libs/common/kafka/consumer.py`` is added (``BatchHandler.__call__``,
  ``decode``, ``AIOKafkaConsumer.getmany``…). Samples of the loop itself (no
  frame above it) are "event loop"; samples in the garbage collector are also
  counted apart ("GC", a category). Other threads are named after their first
  frame (the aiosqlite connection thread, the executor's workers).
- **category**: the library of the innermost Python frame (our code,
  SQLAlchemy, aiokafka, pydantic, asyncio/uvloop, jinja2, email, SQLite, …); GC
  when the collector is anywhere on the stack; SQLite's C code and its file
  I/O count as SQLite; a socket call counts as "socket I/O".

Shares are of the CPU samples (waiting excluded). With ``--cpu-s-per-1000`` (the
process's CPU-seconds per 1,000 interactions after start-up, from ``/proc``, as the
backlog bench prints it) each item is also given as µs per interaction (the
start-up's samples left out of that conversion).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Innermost native frames of a thread that is waiting, not running.
WAITING = (
    "epoll_wait",
    "epoll_pwait",
    "PyThread_acquire_lock_timed",
    "pthread_cond_timedwait",
    "pthread_cond_wait",
    "take_gil",
    "sem_wait",
    "sem_timedwait",
    "select_epoll_poll_impl",
    "uv__io_poll",
)
#: The garbage collector's frames (libpython).
GC = ("gc_collect_main", "gc_collect", "collect", "gc_collect_with_callback")
#: Frames of the event loop running a ready handle: what follows is a task's step.
LOOP_HANDLE = ("task_step_impl", "Handle._run", "Handle__run")
#: A frame: ``name (file:line)`` or ``name (file)`` (native).
FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
RUNNER_FILE = "libs/common/kafka/consumer.py"
#: Samples outside the event loop: the process starting (imports, configuration).
START_UP = "outside the loop (start-up, imports)"

#: The library a Python frame's file belongs to: the first matching prefix wins.
LIBRARIES = (
    ("services/", "our code"),
    ("libs/", "our code"),
    ("bench/", "our code"),
    ("sqlalchemy/", "SQLAlchemy"),
    ("aiokafka/", "aiokafka"),
    ("kafka/", "aiokafka"),
    ("pydantic_core/", "pydantic"),
    ("pydantic/", "pydantic"),
    ("asyncio/", "asyncio/uvloop"),
    ("selectors.py", "asyncio/uvloop"),
    ("uvloop/", "asyncio/uvloop"),
    ("jinja2/", "jinja2"),
    ("markupsafe/", "jinja2"),
    ("email/", "email"),
    ("aiosmtplib/", "aiosmtplib"),
    ("aiosqlite/", "SQLite"),
    ("sqlite3/", "SQLite"),
    ("logging/", "logging"),
    ("prometheus_client/", "prometheus_client"),
    ("json/", "json"),
    ("datetime.py", "datetime"),
    ("<frozen", "imports"),
)


@dataclass(frozen=True, slots=True)
class Frame:
    name: str
    file: str
    native: bool  # no line number, or a C source/shared object


def parse_frame(text: str) -> Frame:
    match = FRAME.match(text)
    if match is None:
        return Frame(text, "", True)
    file = match["file"]
    native = not file.endswith(".py") and not file.startswith("<frozen")
    return Frame(match["name"], file, native)


def read_samples(lines: Iterable[str]) -> Iterator[tuple[list[Frame], int]]:
    """(frames outermost first, count) per line of py-spy's raw output."""
    for line in lines:
        line = line.rstrip("\n")
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        yield [parse_frame(part) for part in stack.split(";")], int(count)


def is_waiting(frames: list[Frame]) -> bool:
    """The innermost named native frames say the thread waits (see ``WAITING``)."""
    for frame in reversed(frames):
        if not frame.native:
            return False
        if frame.name.startswith("0x"):
            continue  # an unnamed libc/kernel frame: look further out
        if frame.name in WAITING:
            return True
    return False


def in_gc(frames: list[Frame]) -> bool:
    return any(frame.native and frame.name in GC for frame in frames)


def library(frame: Frame) -> str:
    for prefix, name in LIBRARIES:
        if frame.file.startswith(prefix):
            return name
    top = frame.file.split("/", 1)[0]
    return f"other: {top}" if "/" in frame.file else "stdlib/other"


def category(frames: list[Frame]) -> str:
    if in_gc(frames):
        return "GC"
    innermost_python = next((f for f in reversed(frames) if not f.native), None)
    for frame in reversed(frames):
        if frame is innermost_python:
            break
        if frame.name.startswith(("sqlite3", "_pysqlite", "pysqlite")):
            return "SQLite"
        if frame.name in ("send", "recv", "sendmsg", "recvmsg", "write", "read", "writev"):
            return "socket/file I/O"
    if innermost_python is None:
        return "asyncio/uvloop"
    return library(innermost_python)


def thread_of(frames: list[Frame]) -> str:
    """``thread (tid): name`` → ``MainThread``, else the thread's first Python frame."""
    head = frames[0].name if frames else ""
    if head.endswith("MainThread") or "runpy" in " ".join(f.file for f in frames[:4]):
        return "MainThread"
    body = [f for f in frames[1:] if not f.native and not f.file.startswith("threading.py")]
    return f"thread: {body[0].name} ({body[0].file})" if body else f"thread: {head}"


def task_of(frames: list[Frame]) -> str:
    """The asyncio task or callback a main-thread sample belongs to (see the module doc)."""
    start = None
    for index, frame in enumerate(frames):
        if frame.name in LOOP_HANDLE:
            start = index  # the innermost handle run (a nested loop would be deeper)
            break
    if start is None:
        return START_UP
    inner = [f for f in frames[start + 1 :] if not f.native]
    ours = [f for f in inner if not f.file.startswith(("asyncio/", "contextvars"))]
    if not ours:
        return "event loop" if not inner else f"event loop: {inner[-1].name}"
    first = ours[0]
    label = f"{first.name} ({first.file})"
    if first.file == RUNNER_FILE:
        beyond = next((f for f in ours if f.file != RUNNER_FILE), None)
        if beyond is not None:
            label += f" → {beyond.name} ({beyond.file})"
    return label


@dataclass
class Profile:
    samples: int = 0
    waiting: int = 0
    by_task: Counter[str] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)
    by_task_category: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def cpu(self) -> int:
        return self.samples - self.waiting

    def add(self, frames: list[Frame], count: int) -> None:
        self.samples += count
        if is_waiting(frames):
            self.waiting += count
            return
        thread = thread_of(frames)
        task = task_of(frames) if thread == "MainThread" else thread
        kind = category(frames)
        self.by_task[task] += count
        self.by_category[kind] += count
        self.by_task_category[task, kind] += count


def profile_of(lines: Iterable[str]) -> Profile:
    profile = Profile()
    for frames, count in read_samples(lines):
        profile.add(frames, count)
    return profile


def shares(
    counts: Counter[str], total: int, us_per_sample: float | None, top: int
) -> list[dict[str, Any]]:
    rows = []
    for name, count in counts.most_common(top):
        row: dict[str, Any] = {
            "name": name,
            "samples": count,
            "share_pct": round(100 * count / total, 1),
        }
        if us_per_sample is not None:
            row["us_per_interaction"] = round(count * us_per_sample, 1)
        rows.append(row)
    return rows


def summary(profile: Profile, cpu_s_per_1000: float | None, top: int = 25) -> dict[str, Any]:
    total = max(profile.cpu, 1)
    # CPU-s per 1,000 interactions = ms per interaction, spread over the CPU samples of
    # the running service: the backlog bench's /proc figure leaves the start-up out
    running = max(total - profile.by_task[START_UP], 1)
    us_per_sample = None if cpu_s_per_1000 is None else cpu_s_per_1000 * 1000 / running
    tasks = {}
    for task, _ in profile.by_task.most_common(top):
        inner = Counter({k: n for (t, k), n in profile.by_task_category.items() if t == task})
        tasks[task] = shares(inner, total, us_per_sample, 6)
    return {
        "samples": profile.samples,
        "waiting_samples": profile.waiting,
        "cpu_samples": profile.cpu,
        "cpu_s_per_1000": cpu_s_per_1000,
        "by_task": shares(profile.by_task, total, us_per_sample, top),
        "by_category": shares(profile.by_category, total, us_per_sample, top),
        "task_by_category": tasks,
    }


def render(name: str, figures: dict[str, Any]) -> str:
    unit = figures["cpu_s_per_1000"] is not None
    lines = [
        f"== {name}: {figures['cpu_samples']} CPU samples "
        f"({figures['waiting_samples']} waiting, left out)"
    ]
    for title, key in (("by task", "by_task"), ("by category", "by_category")):
        lines.append(f"-- {title}: share of CPU" + (" · µs per interaction" if unit else ""))
        for row in figures[key]:
            us = f" {row['us_per_interaction']:8.1f}" if unit else ""
            lines.append(f"{row['share_pct']:6.1f} %{us}  {row['name']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", type=Path, nargs="+", help="py-spy raw output file(s)")
    parser.add_argument(
        "--cpu-s-per-1000",
        type=float,
        nargs="*",
        default=None,
        help="the process's CPU-s per 1,000 interactions (one per file)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the tables here")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if args.json is not None and "bench/results" in str(args.json.resolve()):
        raise SystemExit("bench/results is regenerated by the lead's idle run: write elsewhere")
    out = {}
    for index, path in enumerate(args.samples):
        cpu = args.cpu_s_per_1000[index] if args.cpu_s_per_1000 else None
        with path.open(encoding="utf-8", errors="replace") as lines:
            out[path.stem] = summary(profile_of(lines), cpu, args.top)
        print(render(path.stem, out[path.stem]))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
