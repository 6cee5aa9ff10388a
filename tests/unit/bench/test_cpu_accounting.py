"""bench.cpu_accounting: /proc parsing, process trees, the split per process and phase."""

from __future__ import annotations

import mmap
import os
import subprocess
import sys
import time

import pytest

from bench.cpu_accounting import (
    CpuMeter,
    CpuSample,
    ProcStat,
    cpu_split,
    listening_inodes,
    parse_faults,
    parse_machine_busy,
    parse_stat,
    process_faults,
    rss_mb,
    thread_stats,
    tree_ticks,
)

# proc(5): pid (comm) state ppid ... field 14 utime, 15 stime, 16 cutime, 17 cstime
STAT = "4242 (python -m x) (y)) S 7 4242 4242 0 -1 4194560 100 0 0 0 150 25 3 2 20 0 5 0"


def test_stat_line_with_spaces_and_parentheses_in_the_command_name() -> None:
    stat = parse_stat(STAT)
    assert stat == ProcStat(pid=4242, ppid=7, own_ticks=175, children_ticks=5)


def test_page_faults_are_the_minor_and_major_ones_of_the_process() -> None:
    assert parse_faults(STAT) == 100  # field 10 minflt; cminflt (11) is the children's
    assert parse_faults(STAT.replace(" 100 0 0 0 ", " 100 7 3 9 ")) == 103  # + majflt (12)


def test_touching_a_fresh_mapping_faults_in_its_pages() -> None:
    before = process_faults(os.getpid())
    with mmap.mmap(-1, 256 * 4096) as block:
        for offset in range(0, len(block), 4096):
            block[offset] = 1
        assert process_faults(os.getpid()) - before >= 256
    assert process_faults(2**22 + 12345) == 0  # no such process


def test_machine_busy_time_leaves_out_idle_and_iowait() -> None:
    text = "cpu  100 5 50 1000 40 3 2 1 0 0\ncpu0 50 2 25 500 20 1 1 0 0 0\n"
    assert parse_machine_busy(text) == 100 + 5 + 50 + 3 + 2 + 1
    with pytest.raises(ValueError):
        parse_machine_busy("intr 1 2 3\n")


def test_a_tree_counts_descendants_and_waited_children_but_not_siblings() -> None:
    stats = {
        10: ProcStat(10, 1, 100, 7),  # the service (uvicorn parent), 7 from reaped children
        11: ProcStat(11, 10, 50, 0),  # a worker
        12: ProcStat(12, 11, 5, 0),  # the worker's child
        20: ProcStat(20, 1, 999, 0),  # a sibling: another service
    }
    assert tree_ticks(10, stats) == 100 + 7 + 50 + 5
    assert tree_ticks(20, stats) == 999
    assert tree_ticks(30, stats) == 0


def test_split_per_process_per_thousand_messages_share_of_cores_and_other() -> None:
    before = CpuSample(
        at=100.0, ticks={"router": 1000, "notifier": 500, "gone": 10}, machine_busy_ticks=0
    )
    after = CpuSample(
        at=110.0, ticks={"router": 1500, "notifier": 1500, "gone": None}, machine_busy_ticks=2000
    )
    split = cpu_split(
        before, after, messages=2000, cpus=2, extra={"load generator": 1.0}, ticks_per_s=100
    )
    processes = split["processes"]
    assert processes["notifier"] == {
        "cpu_s": 10.0,
        "cpu_s_per_1000": 5.0,
        "share_of_cores_pct": 50.0,  # 10 CPU-seconds of 2 cores x 10 s
    }
    assert processes["router"]["cpu_s"] == 5.0
    assert processes["load generator"]["cpu_s_per_1000"] == 0.5
    assert "gone" not in processes  # not running at the end: not guessed
    assert processes["other"]["cpu_s"] == 20.0 - 10.0 - 5.0 - 1.0
    assert split["machine"]["share_of_cores_pct"] == 100.0
    assert next(iter(processes)) == "notifier"  # largest first
    assert (
        cpu_split(before, after, messages=0, cpus=2)["processes"]["router"]["cpu_s_per_1000"]
        is None
    )


def test_listening_sockets_of_a_port_from_proc_net_tcp() -> None:
    table = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:2384 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0 0 "
        "51234 1 0000000000000000 100 0 0 10 0\n"
        "   1: 0100007F:2384 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  0 0 "
        "51299 1 0000000000000000 20 4 30 10 -1\n"
        "   2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0 0 "
        "60000 1 0000000000000000 100 0 0 10 0\n"
    )
    assert listening_inodes(table, 0x2384) == {"51234"}  # not the established one
    assert listening_inodes(table, 0x1F90) == {"60000"}


def test_a_real_process_burning_cpu_is_seen_with_its_child() -> None:
    """Reads the real /proc: a parent that starts a child burning ~0.3 s of CPU."""
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            f"subprocess.run([sys.executable, '-c', {burn!r}])\n"
            "print('done', flush=True)\n"
            "time.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        meter = CpuMeter({"parent": parent.pid, "missing": None}, alone={"me": os.getpid()})
        before = meter.sample()
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "done"
        time.sleep(0.05)
        after = meter.sample()
        split = cpu_split(before, after, messages=1000, cpus=os.cpu_count() or 1)
        assert split["processes"]["parent"]["cpu_s"] >= 0.25  # the waited-for child counted
        assert "missing" not in split["processes"]
        assert rss_mb(parent.pid) is not None and rss_mb(parent.pid) > 1
    finally:
        parent.kill()
        parent.wait()
    assert rss_mb(parent.pid) is None


def test_thread_stats_read_each_live_thread_and_nothing_of_a_gone_process():
    import threading

    started, release = threading.Event(), threading.Event()

    def wait() -> None:
        # A sleep blocks in the kernel: a voluntary switch counted before ``started``
        # (``release.wait`` alone may not have blocked yet when the stats are read).
        time.sleep(0.01)
        started.set()
        release.wait(5)

    worker = threading.Thread(target=wait)
    worker.start()
    started.wait(5)
    try:
        threads = thread_stats(os.getpid())
    finally:
        release.set()
        worker.join()
    assert os.getpid() in threads and worker.native_id in threads
    assert threads[worker.native_id].voluntary >= 1  # it waited
    assert all(t.ticks >= 0 and t.involuntary >= 0 and t.name for t in threads.values())
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert thread_stats(gone.pid) == {}
