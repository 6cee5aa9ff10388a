"""The pure parts of ``bench.webhook_paced_cpu``: what it reads from ``ss`` and ``perf stat``
and the figures it makes of two samples."""

from __future__ import annotations

from bench.webhook_paced_cpu import (
    Counts,
    broker_segments,
    percentile_ms,
    phase_figures,
    syscall_counts,
)

SS_LINE = (
    "\t cubic wscale:7,7 rto:201 rtt:0.05/0.025 mss:32768 cwnd:10 bytes_sent:1234 "
    "segs_out:40 segs_in:38 data_segs_out:37 data_segs_in:36 send 52Gbps"
)

PERF_STAT_CSV = """# started on Mon Nov 30 15:35:01 2026

1221,,syscalls:sys_enter_accept4,10001234,100.00,,
16834,,syscalls:sys_enter_getpid,10001234,100.00,,
<not counted>,,syscalls:sys_enter_writev,0,100.00,,
"""


def test_broker_segments_sums_data_segments_out() -> None:
    assert broker_segments(SS_LINE) == 37
    assert broker_segments(SS_LINE + "\n" + SS_LINE) == 74
    assert broker_segments("no figures") == 0


def test_syscall_counts_reads_perf_stat_csv() -> None:
    assert syscall_counts(PERF_STAT_CSV) == {"accept4": 1221, "getpid": 16834}


def test_phase_figures_per_request_and_per_second() -> None:
    before = Counts(10.0, voluntary=100, involuntary=50, broker_segments=1000, broker_cpu_s=3.0)
    after = Counts(14.0, voluntary=600, involuntary=2050, broker_segments=2000, broker_cpu_s=4.5)
    figures = phase_figures(before, after, answers=5000, seconds=10.0)
    assert figures == {
        "answers": 5000,
        "cpu_s_per_1000": 0.8,
        "cpu_ms_per_s": 400.0,
        "voluntary_switches_per_request": 0.1,
        "involuntary_switches_per_request": 0.4,
        "broker_segments_per_s": 100.0,
        "requests_per_broker_segment": 5.0,
        "broker_cpu_s_per_1000": 0.3,
    }


def test_phase_figures_without_answers_or_segments() -> None:
    same = Counts(cpu_s=1.0, voluntary=0, involuntary=0, broker_segments=0)
    figures = phase_figures(same, same, answers=0, seconds=1.0)
    assert figures["cpu_s_per_1000"] == 0.0
    assert figures["requests_per_broker_segment"] is None


def test_percentile_ms_nearest_rank() -> None:
    latencies = [n * 1_000_000 for n in range(1, 101)]  # 1..100 ms
    assert percentile_ms(latencies, 0.99) == 100.0
    assert percentile_ms(latencies, 0.5) == 51.0
    assert percentile_ms([], 0.99) is None
