"""docs/performance.md from a summary: release label, the issue's table, backlog, memory."""

from __future__ import annotations

import marshal
import subprocess
import sys
from pathlib import Path

from bench.performance_doc import ROOT, profile_excerpt, render
from bench.run_all import summarise
from tests.unit.bench.test_figures import accounted_results, run_results, step


def summary(load: float, *, partial: bool = False) -> dict:
    steps = {name: step(result) for name, result in run_results().items()}
    return summarise(steps, quick=True, wall_s=12.3, load_at_start=(load, 1, 1), partial=partial)


def test_a_busy_machine_is_labelled_not_release_figures_in_json_and_doc(tmp_path: Path) -> None:
    busy = summary(3.2)
    assert busy["release"] is False
    assert busy["load_average_at_start"] == (3.2, 1, 1)
    doc = render(busy, tmp_path)
    assert "> **NOT RELEASE FIGURES: load average 3.20 at the start (> 1)" in doc
    assert "load average at the start 3.20, 1.00, 1.00" in doc

    idle = summary(0.3)
    assert idle["release"] is True
    doc = render(idle, tmp_path)
    assert "NOT RELEASE" not in doc
    assert "**release figures (load average 0.30 at the start).**" in doc


def test_a_partial_run_is_never_release_figures() -> None:
    assert summary(0.2, partial=True)["release"] is False


def test_the_table_has_ceilings_ratios_and_verdicts(tmp_path: Path) -> None:
    doc = render(summary(0.3), tmp_path)
    assert "| path | target | figure | value | ceiling | ratio | verdict | note |" in doc
    assert (
        "| interactions → decisions (sqlite) | ≥ 5,000/s | backlog throughput | "
        "2,000 interactions/s | SQLite store (executemany) 8,000 interactions/s | 25.0 % | "
        "**missed** |"
    ) in doc
    assert "| routing event → notice sent | ≥ 1,000/s | whole notice path" in doc


def test_throughput_targets_are_read_as_shares_of_the_reference_ceilings(tmp_path: Path) -> None:
    doc = render(summary(0.3), tmp_path)
    assert "### The throughput targets as shares of their ceilings" in doc
    # 5,000/s was 36.1 % of the reference machine's SQLite store ceiling (13,867/s);
    # the fixture's router reached 25.0 % of its own run's ceiling
    assert (
        "| interactions → decisions (sqlite) | backlog throughput | 13,867 | 36.1 % | 25.0 % | "
        "**below the target's share** |"
    ) in doc


def test_backlog_and_memory_sections(tmp_path: Path) -> None:
    doc = render(summary(0.3), tmp_path)
    assert "**50.0 s** from the router's start until all 100,000 interactions" in doc
    assert "(target ≤ 60 s: met)" in doc
    assert "| router | 118.0 MB | 120.0 MB | 160.0 MB | **missed** |" in doc
    assert "| notifier | 70.0 MB | 90.0 MB | 100.0 MB | met |" in doc
    # a missed target gets its analysis section
    assert "### memory" in doc and "### interactions → decisions" in doc


def test_an_old_summary_with_flat_memory_still_renders(tmp_path: Path) -> None:
    old = {"mode": "full", "rows": [], "peak_rss_mb": {"router": 120.6}, "load_average": [9.9]}
    doc = render(old, tmp_path)
    assert "NOT RELEASE FIGURES" in doc
    assert "| router | — | 120.6 MB | — | met |" in doc
    assert "(the backlog recovery step did not run)" in doc


def test_profiled_service_runner_writes_pstats_the_doc_can_read(tmp_path: Path) -> None:
    report = tmp_path / "timeit.pstats"
    # `python -m timeit` times `pass` for ~0.2 s or more: a module run as a service is (-m)
    done = subprocess.run(
        [sys.executable, "-m", "bench.profiled", str(report), "timeit"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "loops, best of" in done.stdout
    excerpt = profile_excerpt(report)
    assert excerpt.startswith("event loop idle")
    assert "self s" in excerpt.splitlines()[1]
    assert "timeit" in excerpt


def test_a_profile_without_samples_is_said_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pstats"
    empty.write_bytes(marshal.dumps({}))
    assert profile_excerpt(empty) == "no samples in empty.pstats"


def test_cpu_table_and_backlog_phases(tmp_path: Path) -> None:
    steps = {name: step(result) for name, result in accounted_results().items()}
    doc = render(summarise(steps, quick=True, wall_s=1, load_at_start=(0.5, 1, 1)), tmp_path)
    section = doc[doc.index("## Where the two cores go") : doc.index("## Peak memory")]
    assert (
        "| process | pipeline idle | pipeline 100/s (vegeta) | backlog: start-up | "
        "backlog: until all routed |"
    ) in section
    assert "| notifier | — | 6.00 s · 27 % | 6.00 s · 27 % | 6.00 s · 27 % |" in section
    assert "| router | — · 5 % | 5.00 s · 23 % |" in section  # idle: no messages, a share
    assert "| load generator (vegeta) | — | 0.20 s · 1 % |" in section
    assert section.index("| router |") < section.index("| other |")  # other comes last
    assert "| **machine** | — · 10 % | 15.00 s · 68 % |" in section
    backlog = doc[doc.index("## Backlog recovery") : doc.index("## Where the two cores go")]
    assert "| all 100,000 routed | 20.0 s | 5,000 decisions/s |" in backlog
    assert "| all 140,000 notices sent | 50.0 s | 2,800 notices/s |" in backlog
    series_rows = [
        line for line in backlog.splitlines() if line.startswith("| ") and " MB |" in line
    ]
    assert len(series_rows) <= 13 and series_rows[-1].startswith("| 50 |")  # the last sample
    assert "| 0 | 0 | 0 | 120.0 MB | — |" in backlog  # no notifier RSS sampled: a dash


def test_the_pipeline_settings_are_named_under_the_cpu_table(tmp_path: Path) -> None:
    results = accounted_results()
    results["pipeline"]["system"] = {
        "services": {"router": {"consumer_max_batch": 500}, "chat_ingest": {"workers": 1}},
        "assistant": "not in this path",
    }
    steps = {name: step(result) for name, result in results.items()}
    doc = render(summarise(steps, quick=True, wall_s=1, load_at_start=(0.5, 1, 1)), tmp_path)
    assert (
        "The pipeline's services ran with router: consumer_max_batch=500; chat_ingest: "
        "workers=1. Assistant: not in this path."
    ) in doc


def test_a_run_without_accounting_says_so(tmp_path: Path) -> None:
    assert "(no CPU accounting in this run)" in render(summary(0.3), tmp_path)


def test_the_machines_speed_is_recorded_and_shown(tmp_path: Path) -> None:
    steps = {name: step(result) for name, result in run_results().items()}
    measured = summarise(
        steps, quick=True, wall_s=1, load_at_start=(0.2, 1, 1), python_workload_ms=(118.1, 121.0)
    )
    assert measured["machine"]["python_workload_ms"] == (118.1, 121.0)
    doc = render(measured, tmp_path)
    assert (
        "a fixed Python workload (`bench/machine_speed.py`) took 118.1 CPU-ms at the start" in doc
    )
    assert "machine_speed" not in render(summary(0.3), tmp_path)  # not recorded: not claimed


def test_the_machine_speed_workload_is_a_positive_cpu_time() -> None:
    from bench.machine_speed import python_workload_ms

    assert python_workload_ms(rounds=1) > 0
