"""``bench.router_poll_split``: a rate's figures come from the seconds routed at that rate."""

from __future__ import annotations

import json
from pathlib import Path

from bench.router_poll_split import SITECUSTOMIZE, report


def _line(t: float, routed: int, polls: int, cpu: float) -> str:
    return json.dumps(
        {
            "t": t,
            "process_cpu": cpu,
            "threads": {"main": cpu * 0.8, "python": cpu * 0.2},
            "counts": {"poll router records": routed, "poll router": polls},
        }
    )


def test_each_rate_is_read_from_its_own_seconds(tmp_path: Path):
    lines, routed, polls, cpu = [], 0, 0, 0.0
    for second in range(12):
        lines.append(_line(float(second), routed, polls, cpu))
        if second < 5:  # 25/s in polls of 1 (2.5 ms of CPU each)
            routed, polls, cpu = routed + 25, polls + 25, cpu + 0.0625
        elif second < 6:  # idle between the phases
            pass
        else:  # 100/s in polls of 10 (3 ms each)
            routed, polls, cpu = routed + 100, polls + 10, cpu + 0.03
    path = tmp_path / "split.jsonl"
    path.write_text("\n".join(lines) + "\n")
    figures = report(path, [25, 100])
    assert figures["25/s"]["seconds"] == 5.0
    assert figures["25/s"]["per_s"]["poll router"] == 25.0
    assert figures["25/s"]["process_cpu_s_per_1000"] == 2.5
    assert figures["100/s"]["per_s"]["poll router"] == 10.0
    assert figures["100/s"]["process_cpu_s_per_1000"] == 0.3
    assert figures["100/s"]["thread_cpu_s_per_1000"]["main"] == 0.24


def test_the_sitecustomize_installs_only_in_the_router():
    compile(SITECUSTOMIZE, "sitecustomize.py", "exec")  # valid Python
    assert "services.router" in SITECUSTOMIZE
    assert "ROUTER_POLL_SPLIT_FILE" in SITECUSTOMIZE


def test_a_backlog_is_read_from_its_busy_seconds_with_wall_and_schedstat_shares(
    tmp_path: Path,
):
    lines = []
    for second, routed, wall, ran, queued in ((0, 0, 0.0, 0.0, 0.0), (1, 0, 0.0, 0.1, 0.0)):
        line = json.loads(_line(float(second), routed, 0, 0.0))
        line["counts"]["wall hop consumer"] = wall
        line["schedstat"] = {"main": [ran, queued]}
        lines.append(json.dumps(line))
    for second in (2, 3):  # two busy seconds: 500 routed, 0.4 s in hops, main ran 0.6 s
        line = json.loads(lines[-1])
        line["t"] = float(second)
        line["counts"]["poll router records"] += 500
        line["counts"]["poll router"] += 1
        line["counts"]["wall hop consumer"] += 0.4
        ran, queued = line["schedstat"]["main"]
        line["schedstat"]["main"] = [ran + 0.6, queued + 0.1]
        lines.append(json.dumps(line))
    lines.append(lines[-1].replace('"t": 3.0', '"t": 4.0'))  # done: idle again
    path = tmp_path / "split.jsonl"
    path.write_text("\n".join(lines) + "\n")
    figures = report(path, [])["routing"]
    assert figures["seconds"] == 2.0
    assert figures["per_s"]["poll router records"] == 500.0
    assert figures["wall_share"]["hop consumer"] == 0.4
    assert figures["thread_ran_queued_slept"]["main"] == [0.6, 0.1, 0.3]
