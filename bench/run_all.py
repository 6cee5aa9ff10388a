"""Run every benchmark, each as its own bounded process, and summarise them.

Order: the ceilings first (Kafka producer, store bulk insert; the webhook step
measures its own HTTP ceiling, the notifier step its SMTP pool alone), then
email parse, IMAP latency, webhook load (chat, phone), router throughput per
store, notifier throughput, the full pipeline (500/s sustained for 60 s) and
the 100,000-interaction backlog recovery. Each step is a separate
``python -m bench.<name>`` process with a time limit; its JSON result in
``bench/results/`` is read back, every figure is put next to issue #16's target
and its ceiling (``bench.figures``), and everything goes to
``bench/results/summary.json``.

The load average is read at the start: above 1 the run is labelled "NOT
RELEASE FIGURES" in the output, the JSON (``release``, ``label``) and the doc.

    python -m bench.run_all [--quick] [--only a,b] [--profile] [--write-docs]
    python -m bench.run_all --docs-only      # docs/performance.md from summary.json

``--quick`` (≤ 5 minutes) shortens every step. The full run with ``--profile``
takes about 15-20 minutes on 2 idle cores at today's speeds (the pipeline's
drains and the backlog's 300 s budget dominate; less once the targets are met).
Every step has its own time limit; their sum (~50 minutes) is reached only if
every step hangs.
``--profile`` adds a pyinstrument pass to the pipeline and backlog steps
(profiles in ``bench/results/profiles/``), each after its measured pass has
stopped, never during it.

The pipeline's load generator is the pacer when it is built (``python -m
bench.pacer install``, needs ``go``; never committed), else vegeta when it is
(``python -m bench.vegeta install``), else the Python one; the start of the run
says which, and so does every pipeline row's note. The
SMTP sink is the compiled one when it is built (``python -m bench.smtp_sink
install``), else aiosmtpd; the start of the run and each result say which. The
pipeline and backlog steps report the CPU of every process per phase (the
doc's "Where the two cores go").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import RESULTS
from bench.figures import figures, fmt, release_label

ROOT = Path(__file__).resolve().parents[1]
SUMMARY = RESULTS / "summary.json"
LOGS = RESULTS / "logs"
PROFILES = RESULTS / "profiles"
DOCS = ROOT / "docs" / "performance.md"


@dataclass(frozen=True)
class Step:
    name: str
    module: str
    result: str  # file name in bench/results without .json
    full: tuple[str, ...]
    quick: tuple[str, ...]
    limit_s: float
    quick_limit_s: float


STEPS = (
    Step("kafka_ceiling", "bench.kafka_ceiling", "kafka_ceiling",
         ("--messages", "100000"), ("--messages", "20000"), 150, 60),
    Step("store_ceiling", "bench.store_ceiling", "store_ceiling",
         ("--count", "20000"), ("--count", "3000", "--paced-count", "60"), 240, 90),
    Step("email_parse", "bench.email_parse", "email_parse",
         ("--seconds", "5"), ("--seconds", "1.5"), 120, 40),
    Step("imap_latency", "bench.imap_latency", "imap_latency",
         ("--mails", "200", "--rate", "20"), ("--mails", "200", "--rate", "40"), 150, 60),
    # 1 and 2 worker processes, each with its bare-ASGI HTTP ceiling (webhook_load's runs)
    Step("webhook_chat", "bench.webhook_load", "webhook_load",
         ("--target", "chat", "--duration", "5", "--workers", "1,2"),
         ("--target", "chat", "--duration", "2"), 300, 90),
    Step("webhook_phone", "bench.webhook_load", "webhook_load_phone",
         ("--target", "phone", "--duration", "5", "--workers", "1,2"),
         ("--target", "phone", "--duration", "2"), 300, 90),
    Step("router_throughput", "bench.router_throughput", "router_throughput",
         ("--store", "all", "--count", "20000", "--seconds", "3", "--budget", "40"),
         ("--store", "sqlite", "--count", "1000", "--seconds", "2", "--budget", "8"), 420, 90),
    Step("notify_throughput", "bench.notify_throughput", "notify_throughput",
         ("--seconds", "4"), ("--seconds", "1.5"), 90, 40),
    Step("pipeline", "bench.pipeline", "pipeline",
         ("--rates", "25,100,500:60", "--seconds", "10", "--drain", "60"),
         ("--rates", "25,100", "--seconds", "5", "--drain", "20"), 600, 120),
    Step("backlog_recovery", "bench.backlog_recovery", "backlog_recovery",
         ("--count", "100000", "--budget", "300"), ("--count", "5000", "--budget", "120"),
         480, 180),
)  # fmt: skip


#: Steps that take ``--profile DIR`` (a separate pyinstrument pass): extra arguments
#: (full, quick) and the seconds that pass may add to the step's limit.
PROFILED_STEPS: dict[str, tuple[tuple[str, ...], tuple[str, ...], float]] = {
    "pipeline": ((), (), 120),
    "backlog_recovery": (("--profile-count", "10000"), ("--profile-count", "2000"), 180),
}


# --- running ---------------------------------------------------------------------


def run_step(step: Step, *, quick: bool, profile: bool) -> dict[str, Any]:
    args = list(step.quick if quick else step.full)
    limit = step.quick_limit_s if quick else step.limit_s
    if profile and step.name in PROFILED_STEPS:
        full, short, seconds = PROFILED_STEPS[step.name]
        args += ["--profile", str(PROFILES), *(short if quick else full)]
        limit += seconds
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"{step.name}.log"
    result_path = RESULTS / f"{step.result}.json"
    command = [sys.executable, "-m", step.module, *args]
    print(f"==> {step.name}: {' '.join(command[1:])} (limit {limit:.0f} s)", flush=True)
    started = time.time()
    status = "ok"
    with log_path.open("wb") as log:
        # Own session, so a timeout ends the step's children (services, brokers) too.
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = process.wait(limit)
            if code != 0:
                status = f"failed (exit {code})"
        except subprocess.TimeoutExpired:
            _end_group(process)
            status = f"timeout after {limit:.0f} s"
    elapsed = round(time.time() - started, 1)
    fresh = result_path.exists() and result_path.stat().st_mtime >= started
    if status == "ok" and not fresh:
        status = "no result written"
    print(f"    {status} in {elapsed} s", flush=True)
    return {
        "status": status,
        "seconds": elapsed,
        "command": " ".join(command[1:]),
        "log": str(log_path.relative_to(ROOT)),
        "result": json.loads(result_path.read_text()) if fresh else None,
        "log_tail": None if status == "ok" else _tail(log_path),
    }


def _end_group(process: subprocess.Popen) -> None:
    import signal

    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- output ------------------------------------------------------------------------------


LOUD = "\n" + "!" * 78 + "\n!!! {label}\n" + "!" * 78 + "\n"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: ""}[met]


def table(rows: list[dict[str, Any]]) -> str:
    """path | target | figure | ceiling | ratio | verdict, one line per figure."""
    lines = [
        f"{'path':36} {'target':26} {'figure':44} {'value':>22} {'ceiling':48} "
        f"{'ratio':>7} {'verdict':7}"
    ]
    for r in rows:
        share = f"{r['ceiling_pct']:.1f}%" if r["ceiling_pct"] is not None else ""
        value = f"{fmt(r['value'])} {r['unit']}"
        lines.append(
            f"{r['path'][:36]:36} {r['target'][:26]:26} {r['figure'][:44]:44} {value[:22]:>22} "
            f"{r['ceiling'][:48]:48} {share:>7} {_verdict(r['met']):7}"
        )
    return "\n".join(lines)


def summarise(
    steps: dict[str, dict[str, Any]],
    *,
    quick: bool,
    wall_s: float,
    load_at_start: tuple[float, float, float] | None,
    partial: bool = False,
    python_workload_ms: tuple[float, float] | None = None,
) -> dict[str, Any]:
    rows, extra = figures(steps)
    gate = release_label(load_at_start[0] if load_at_start else None)
    if partial:
        reason = (
            "" if gate["release"] else "; " + gate["label"].removeprefix("NOT RELEASE FIGURES: ")
        )
        label = "NOT RELEASE FIGURES: --only refreshed some steps" + reason
        gate |= {"release": False, "label": label}
    return {
        "measured_at": datetime.now(UTC).isoformat(),
        "mode": "quick" if quick else "full",
        "wall_seconds": round(wall_s, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            # bench/machine_speed.py at the start and the end: how fast this machine was
            "python_workload_ms": python_workload_ms,
        },
        **gate,
        "load_average_at_start": load_at_start,
        "load_average": os.getloadavg(),
        "steps": {name: {k: v for k, v in s.items() if k != "result"} for name, s in steps.items()},
        "rows": rows,
        **extra,
        "results": {name: s.get("result") for name, s in steps.items()},
    }


def previous_steps() -> dict[str, dict[str, Any]]:
    if not SUMMARY.exists():
        return {}
    previous = json.loads(SUMMARY.read_text())
    results = previous.get("results", {})
    return {
        name: {**step, "result": results.get(name)}
        for name, step in previous.get("steps", {}).items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="The ≤ 3-minute variant.")
    parser.add_argument("--only", default="", help="Comma-separated step names.")
    parser.add_argument(
        "--profile", action="store_true", help="pyinstrument pass (pipeline, backlog)."
    )
    parser.add_argument("--write-docs", action="store_true", help="Regenerate docs/performance.md.")
    parser.add_argument("--docs-only", action="store_true", help="Only regenerate the docs.")
    args = parser.parse_args()
    if args.docs_only:
        from bench.performance_doc import write_docs

        print(f"written to {write_docs(json.loads(SUMMARY.read_text()), PROFILES, DOCS)}")
        return
    chosen = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = chosen - {s.name for s in STEPS}
    if unknown:
        parser.error(f"unknown steps {sorted(unknown)}; choose from {[s.name for s in STEPS]}")
    from bench.pacer import find as find_pacer
    from bench.vegeta import find as find_vegeta

    pacer, vegeta = find_pacer(), find_vegeta()
    if pacer:
        generator = f"pacer ({pacer})"
    else:
        generator = f"vegeta ({vegeta})" if vegeta else "Python (neither pacer nor vegeta built)"
    print(f"pipeline load generator: {generator}", flush=True)
    from bench.smtp_sink import find as find_smtp_sink

    sink = find_smtp_sink()
    print(
        f"SMTP sink: {f'go ({sink})' if sink else 'aiosmtpd (the Go sink not built)'}", flush=True
    )
    load_at_start = os.getloadavg()
    gate = release_label(load_at_start[0])
    print(f"load average at the start: {load_at_start[0]:.2f} → {gate['label']}", flush=True)
    if not gate["release"]:
        print(LOUD.format(label=gate["label"]), flush=True)
    from bench.machine_speed import python_workload_ms

    workload_at_start = python_workload_ms()
    print(f"fixed Python workload: {workload_at_start} CPU-ms (bench/machine_speed.py)", flush=True)
    started = time.time()
    steps = {
        step.name: run_step(step, quick=args.quick, profile=args.profile)
        for step in STEPS
        if not chosen or step.name in chosen
    }
    if chosen:
        steps = {**previous_steps(), **steps}  # --only refreshes those steps in the summary
    summary = summarise(
        steps,
        quick=args.quick,
        wall_s=time.time() - started,
        load_at_start=load_at_start,
        partial=bool(chosen),
        python_workload_ms=(workload_at_start, python_workload_ms()),
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps(summary, indent=2) + "\n")
    print()
    print(table(summary["rows"]))
    if not summary["release"]:
        print(LOUD.format(label=summary["label"]))
    failed = {n: s["status"] for n, s in steps.items() if s["status"] != "ok"}
    if failed:
        print(f"\nsteps not ok: {failed} (logs in {LOGS})")
    print(f"\nsummary: {SUMMARY} ({summary['wall_seconds']} s)")
    if args.write_docs:
        from bench.performance_doc import write_docs

        print(f"written to {write_docs(summary, PROFILES, DOCS)}")


if __name__ == "__main__":
    main()
