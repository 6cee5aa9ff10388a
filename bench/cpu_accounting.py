"""Where the cores go: CPU-seconds per process between two samples of ``/proc``.

A bench names the processes it cares about (each service, the Kafka broker's JVM,
the SMTP sink, the bench itself); ``CpuMeter.sample()`` reads ``utime + stime`` of
each one and of its live descendants (uvicorn workers, pyinstrument's child) from
``/proc/<pid>/stat``, plus ``cutime + cstime`` (children it already waited for),
and the machine's busy time from ``/proc/stat``. ``cpu_split`` turns two samples
into CPU-seconds per process, per 1,000 messages and as a share of all cores;
whatever the machine spent outside the named processes is ``other`` (the kernel,
other users' work on a shared machine).

A process that starts and ends inside a phase (the load generator) is not
sampled: its own CPU (``getrusage``) is passed to ``cpu_split`` as ``extra``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROC = Path("/proc")
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


# --- parsing (pure) ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    own_ticks: int  # utime + stime
    children_ticks: int  # cutime + cstime: children it has waited for


def parse_stat(text: str) -> ProcStat:
    """One ``/proc/<pid>/stat`` line; the command name may hold spaces and parentheses."""
    head, _, rest = text.rpartition(")")
    pid = int(head.split("(", 1)[0])
    fields = rest.split()  # fields[0] is field 3 (state) of proc(5)
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return ProcStat(pid, int(fields[1]), utime + stime, cutime + cstime)


def parse_faults(text: str) -> int:
    """Minor plus major page faults of one ``/proc/<pid>/stat`` line (fields 10 and 12)."""
    fields = text.rpartition(")")[2].split()  # fields[0] is field 3 (state) of proc(5)
    return int(fields[7]) + int(fields[9])


def parse_machine_busy(text: str) -> int:
    """Busy ticks of all CPUs from the ``cpu`` line of ``/proc/stat`` (not idle, iowait)."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            idle = values[3] + (values[4] if len(values) > 4 else 0)
            # guest time is already counted in user/nice
            return sum(values[:8]) - idle
    raise ValueError("no aggregate cpu line in /proc/stat")


def tree_ticks(root: int, stats: Mapping[int, ProcStat]) -> int:
    """CPU ticks of ``root``, its live descendants and the children they waited for."""
    children: dict[int, list[int]] = {}
    for stat in stats.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    total, todo, seen = 0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid].own_ticks + stats[pid].children_ticks
        todo += children.get(pid, [])
    return total


@dataclass(frozen=True)
class CpuSample:
    at: float  # time.monotonic()
    ticks: dict[str, int | None]  # name → ticks of its process tree (None: not running)
    machine_busy_ticks: int


def cpu_split(
    before: CpuSample,
    after: CpuSample,
    *,
    messages: int,
    cpus: int,
    extra: Mapping[str, float] | None = None,
    ticks_per_s: int = TICKS_PER_S,
) -> dict[str, Any]:
    """CPU-seconds of each process between two samples, per 1,000 messages and as a share
    of all ``cpus`` cores over the wall time between them; ``extra`` adds processes
    measured otherwise (name → CPU-seconds). ``other`` is the machine's busy time that
    none of the named processes account for (kernel, other users)."""
    wall = max(after.at - before.at, 1e-9)
    seconds: dict[str, float] = {}
    for name, end in after.ticks.items():
        start = before.ticks.get(name)
        if start is not None and end is not None:
            seconds[name] = max(0, end - start) / ticks_per_s
    seconds.update(extra or {})
    machine = max(0, after.machine_busy_ticks - before.machine_busy_ticks) / ticks_per_s
    seconds["other"] = max(0.0, machine - sum(seconds.values()))

    def entry(cpu_s: float) -> dict[str, float | None]:
        return {
            "cpu_s": round(cpu_s, 3),
            "cpu_s_per_1000": round(1000 * cpu_s / messages, 3) if messages else None,
            "share_of_cores_pct": round(100 * cpu_s / (wall * cpus), 1),
        }

    processes = {name: entry(cpu_s) for name, cpu_s in seconds.items()}
    return {
        "wall_s": round(wall, 3),
        "messages": messages,
        "cpus": cpus,
        "machine": entry(machine),
        "processes": dict(sorted(processes.items(), key=lambda kv: -kv[1]["cpu_s"])),
    }


# --- reading /proc (thin) ---------------------------------------------------------------


def read_all_stats() -> dict[int, ProcStat]:
    stats = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = parse_stat((entry / "stat").read_text())
            except (OSError, ValueError, IndexError):
                continue  # gone between listing and reading
    return stats


def machine_busy_ticks() -> int:
    return parse_machine_busy((PROC / "stat").read_text())


class CpuMeter:
    """Samples the named process trees (``pids``) and single processes (``alone``: the
    bench itself, whose children are the services counted on their own); ``pids`` may
    change between samples (a restarted service), a sample reads what runs then."""

    def __init__(
        self, pids: Mapping[str, int | None], alone: Mapping[str, int] | None = None
    ) -> None:
        self.pids = dict(pids)
        self.alone = dict(alone or {})

    def sample(self) -> CpuSample:
        stats = read_all_stats()
        ticks: dict[str, int | None] = {
            name: tree_ticks(pid, stats) if pid is not None and pid in stats else None
            for name, pid in self.pids.items()
        }
        for name, pid in self.alone.items():
            ticks[name] = stats[pid].own_ticks if pid in stats else None
        return CpuSample(time.monotonic(), ticks, machine_busy_ticks())


@dataclass(frozen=True)
class ThreadStat:
    name: str  # the thread's name (``comm``)
    ticks: int  # utime + stime
    voluntary: int  # context switches it asked for (waits)
    involuntary: int  # context switches it was preempted by


def thread_stats(pid: int) -> dict[int, ThreadStat]:
    """tid → ``ThreadStat`` of each live thread of ``pid`` (``/proc/<pid>/task``); a thread
    that ends while it is read is left out, and a process that is gone gives ``{}``."""
    out: dict[int, ThreadStat] = {}
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            stat = parse_stat((task / "stat").read_text())
            status = (task / "status").read_text()
            name = (task / "comm").read_text().strip()
        except OSError:
            continue
        switches = dict(re.findall(r"^(\w*ctxt_switches):\s+(\d+)$", status, re.M))
        out[int(task.name)] = ThreadStat(
            name,
            stat.own_ticks,
            int(switches.get("voluntary_ctxt_switches", 0)),
            int(switches.get("nonvoluntary_ctxt_switches", 0)),
        )
    return out


def process_faults(pid: int) -> int:
    """Page faults of a process so far, all its threads (``/proc/<pid>/stat``); 0 once it
    is gone."""
    try:
        return parse_faults((PROC / str(pid) / "stat").read_text())
    except OSError:
        return 0


def status_mb(pid: int, *keys: str) -> dict[str, float] | None:
    """Memory lines of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM`` …) in MB; None once
    the process is gone."""
    try:
        text = (PROC / str(pid) / "status").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in keys:
            values[key] = round(int(rest.split()[0]) / 1024, 1)
    return values


def rss_mb(pid: int) -> float | None:
    """Current RSS (``VmRSS``) of a process, MB; None once it is gone."""
    return (status_mb(pid, "VmRSS") or {}).get("VmRSS")


# --- finding the broker -------------------------------------------------------------------


def broker_pid(bootstrap_servers: str) -> int | None:
    """The pid of the process listening on the first bootstrap port (the broker's JVM),
    if it is ours to see; else the pid the project's local broker recorded."""
    port_text = bootstrap_servers.split(",")[0].rpartition(":")[2]
    if not port_text.isdigit():
        return None
    found = listening_pid(int(port_text))
    if found is None:
        from tools.local_broker import LocalKafka

        local = LocalKafka()
        if local.bootstrap_servers.endswith(f":{port_text}"):
            found = local.pid()
    return found


def listening_inodes(table: str, port: int) -> set[str]:
    """Socket inodes in LISTEN state (0A) on ``port`` in a ``/proc/net/tcp{,6}`` table."""
    inodes = set()
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
            inodes.add(fields[9])
    return inodes


def listening_pid(port: int) -> int | None:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            inodes |= listening_inodes((PROC / "net" / table).read_text(), port)
        except OSError:
            continue
    wanted = {f"socket:[{inode}]" for inode in inodes}
    if not wanted:
        return None
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    return int(entry.name)
        except OSError:
            continue  # not ours to read, or gone
    return None
