"""Run every benchmark, each as its own bounded process, and summarise them.

Order: the Kafka ceiling first (every throughput is compared to it), then email
parse, IMAP latency, webhook load (chat, phone), router throughput per store,
notifier throughput and the full pipeline. Each step is a separate
``python -m bench.<name>`` process with a time limit; its JSON result in
``bench/results/`` is read back, the figures are put next to the architecture §8
targets and the ceiling, and everything goes to ``bench/results/summary.json``.

    python -m bench.run_all [--quick] [--only a,b] [--profile] [--write-docs]
    python -m bench.run_all --docs-only      # docs/performance.md from summary.json

``--quick`` (≤ 3 minutes) shortens every step; the full run takes ≤ ~10
minutes on 2 cores. ``--profile`` adds a pyinstrument pass to the pipeline
step (text profiles in ``bench/results/profiles/``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import RESULTS

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
    Step("email_parse", "bench.email_parse", "email_parse",
         ("--seconds", "5"), ("--seconds", "1.5"), 120, 40),
    Step("imap_latency", "bench.imap_latency", "imap_latency",
         ("--mails", "200", "--rate", "20"), ("--mails", "200", "--rate", "40"), 150, 60),
    Step("webhook_chat", "bench.webhook_load", "webhook_load",
         ("--target", "chat", "--duration", "5"), ("--target", "chat", "--duration", "2"), 120, 45),
    Step("webhook_phone", "bench.webhook_load", "webhook_load_phone",
         ("--target", "phone", "--duration", "5"), ("--target", "phone", "--duration", "2"),
         120, 45),
    Step("router_throughput", "bench.router_throughput", "router_throughput",
         ("--store", "all", "--count", "3000", "--seconds", "3", "--budget", "20"),
         ("--store", "sqlite", "--count", "1000", "--seconds", "2", "--budget", "8"), 330, 90),
    Step("notify_throughput", "bench.notify_throughput", "notify_throughput",
         ("--seconds", "4"), ("--seconds", "1.5"), 90, 40),
    Step("pipeline", "bench.pipeline", "pipeline",
         ("--rates", "25,100,500", "--seconds", "10", "--drain", "40"),
         ("--rates", "25,100", "--seconds", "5", "--drain", "20"), 420, 120),
)  # fmt: skip


# --- running ---------------------------------------------------------------------


def run_step(step: Step, *, quick: bool, profile: bool) -> dict[str, Any]:
    args = list(step.quick if quick else step.full)
    if profile and step.name == "pipeline":
        args += ["--profile", str(PROFILES)]
    limit = step.quick_limit_s if quick else step.limit_s
    if profile and step.name == "pipeline":
        limit += 120
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


# --- figures ---------------------------------------------------------------------------


def _get(data: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def _num(value: Any) -> float | None:
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        return float(value)
    return None


def row(
    path: str,
    figure: str,
    value: Any,
    unit: str,
    *,
    target: float | None = None,
    target_text: str = "",
    higher_is_better: bool = True,
    ceiling: float | None = None,
    note: str = "",
) -> dict[str, Any]:
    value = _num(value)
    met = None
    if value is not None and target is not None:
        met = value >= target if higher_is_better else value < target
    share = round(100 * value / ceiling, 1) if value is not None and ceiling else None
    return {
        "path": path,
        "figure": figure,
        "value": value,
        "unit": unit,
        "target": target_text or (f"{target:g}" if target is not None else ""),
        "met": met,
        "ceiling_pct": share,
        "note": note,
    }


def figures(steps: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    result = {name: (s.get("result") or {}) for name, s in steps.items()}
    ceiling = result.get("kafka_ceiling", {})
    produce = _num(_get(ceiling, "results", "200B", "produce_msgs_per_s"))
    rows = [
        row("Kafka ceiling", "raw aiokafka produce, 200 B, acks=all", produce, "msg/s"),
        row(
            "Kafka ceiling",
            "raw aiokafka produce, 2 KB",
            _get(ceiling, "results", "2KB", "produce_msgs_per_s"),
            "msg/s",
        ),
        row(
            "Kafka ceiling",
            "raw aiokafka consume, 200 B",
            _get(ceiling, "results", "200B", "consume_msgs_per_s"),
            "msg/s",
        ),
    ]
    email = result.get("email_parse", {})
    rows.append(
        row(
            "raw email → event",
            "corpus, per CPU-second",
            _get(email, "corpus", "messages_per_s_per_core"),
            "msg/s/core",
            target=1000,
            target_text="≥ 1,000/s/core",
        )
    )
    rows.append(
        row(
            "raw email → event",
            "support mix (cold), per CPU-second",
            _get(email, "support_text_mix_cold", "messages_per_s_per_core"),
            "msg/s/core",
            target=1000,
            target_text="≥ 1,000/s/core",
        )
    )
    imap = result.get("imap_latency", {})
    rows.append(
        row(
            "IMAP arrival → Kafka (IDLE)",
            f"p99 over {_get(imap, 'latency', 'count') or '?'} mails",
            _get(imap, "latency", "p99_ms"),
            "ms",
            target=1000,
            target_text="p99 < 1,000 ms",
            higher_is_better=False,
        )
    )
    for name, label in (("webhook_chat", "chat"), ("webhook_phone", "phone")):
        rows += _webhook_rows(result.get(name, {}), label, produce)
    rows += _router_rows(result.get("router_throughput", {}), produce)
    notify = result.get("notify_throughput", {})
    for key, text in (("pooled", "SMTP pool, pre-built mails"), ("handler", "whole notice path")):
        rows.append(
            row(
                "routing event → mail sent",
                text,
                _get(notify, key, "mails_per_s"),
                "mail/s",
                target=500,
                target_text="(≥ 500/s implied)",
                ceiling=produce,
            )
        )
    pipeline = result.get("pipeline", {})
    for run in pipeline.get("runs", []):
        rate = run.get("rate_per_s")
        offered = round((rate or 0) * (run.get("seconds") or 0))
        delivered = run.get("error") or (
            f"{run.get('delivered')}/{run.get('acked_2xx')} acked delivered "
            f"({offered} offered; {run.get('statuses')})"
        )
        target = 500.0 if rate and rate >= 500 else None
        rows.append(
            row(
                "webhook → agent mail (pipeline)",
                f"p50 at {rate:g}/s",
                _get(run, "latency", "p50_ms"),
                "ms",
                note=delivered,
            )
        )
        rows.append(
            row(
                "webhook → agent mail (pipeline)",
                f"p99 at {rate:g}/s",
                _get(run, "latency", "p99_ms")
                if not run.get("not_delivered_within_drain")
                else None,
                "ms",
                target=target,
                target_text="p99 < 500 ms at 500/s",
                higher_is_better=False,
                note=delivered
                + (
                    "" if not run.get("not_delivered_within_drain") else " — backlog: p99 unbounded"
                ),
            )
        )
        if target and run.get("not_delivered_within_drain"):
            rows[-1]["met"] = False
    memory = {
        name: figures_.get("peak_rss_mb") for name, figures_ in pipeline.get("memory", {}).items()
    }
    return rows, {"peak_rss_mb": memory, "memory_note": pipeline.get("memory_note")}


def _webhook_rows(data: dict[str, Any], label: str, produce: float | None) -> list[dict[str, Any]]:
    fixed = data.get("fixed_rate", {})
    rate = fixed.get("target_rate")
    return [
        row(
            f"{label} webhook → Kafka-acked 2xx",
            f"throughput ({data.get('provider', '?')}, {data.get('concurrency', '?')} in flight)",
            _get(data, "throughput", "acked_per_s"),
            "req/s",
            target=5000,
            target_text="≥ 5,000/s",
            ceiling=produce,
        ),
        row(
            f"{label} webhook → Kafka-acked 2xx",
            f"p99 at {rate or '?'}/s offered ({_get(fixed, 'acked_per_s')}/s acked)",
            _get(fixed, "latency_2xx", "p99_ms"),
            "ms",
            target=50 if rate and rate >= 2000 else None,
            target_text="p99 < 50 ms at 2,000/s",
            higher_is_better=False,
        ),
    ]


def _router_rows(data: dict[str, Any], produce: float | None) -> list[dict[str, Any]]:
    rows = []
    for run in data.get("runs", []):
        store = run.get("store", "?")
        rows.append(
            row(
                f"interactions → decisions ({store})",
                "throughput",
                _get(run, "throughput", "interactions_per_s"),
                "events/s",
                target=5000,
                target_text="≥ 5,000/s",
                ceiling=produce,
                note=f"{_get(run, 'throughput', 'decided')}/"
                f"{_get(run, 'throughput', 'interactions')} decided within the budget",
            )
        )
        phases = run.get("latency")
        phases = phases if isinstance(phases, list) else [phases] if phases else []
        for phase in phases:
            rate = phase.get("rate_per_s")
            rows.append(
                row(
                    f"interactions → decisions ({store})",
                    f"p99 at {rate}/s",
                    phase.get("p99_ms"),
                    "ms",
                    target=100 if rate == 1000 else None,
                    target_text="p99 < 100 ms at 1,000/s",
                    higher_is_better=False,
                    note=f"{phase.get('decided')}/{phase.get('published')} decided",
                )
            )
    return rows


# --- output ------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: ""}[met]


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'path':38} {'figure':44} {'value':>12} {'unit':10} {'target':24} {'':6} {'% ceiling':>9}"
    ]
    for r in rows:
        share = f"{r['ceiling_pct']:.1f}%" if r["ceiling_pct"] is not None else ""
        lines.append(
            f"{r['path'][:38]:38} {r['figure'][:44]:44} {_fmt(r['value']):>12} {r['unit']:10} "
            f"{r['target'][:24]:24} {_verdict(r['met']):6} {share:>9}"
        )
    return "\n".join(lines)


def summarise(steps: dict[str, dict[str, Any]], *, quick: bool, wall_s: float) -> dict[str, Any]:
    rows, extra = figures(steps)
    return {
        "measured_at": datetime.now(UTC).isoformat(),
        "mode": "quick" if quick else "full",
        "wall_seconds": round(wall_s, 1),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
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
    parser.add_argument("--profile", action="store_true", help="pyinstrument pass (pipeline).")
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
    started = time.time()
    steps = {
        step.name: run_step(step, quick=args.quick, profile=args.profile)
        for step in STEPS
        if not chosen or step.name in chosen
    }
    if chosen:
        steps = {**previous_steps(), **steps}  # --only refreshes those steps in the summary
    summary = summarise(steps, quick=args.quick, wall_s=time.time() - started)
    RESULTS.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps(summary, indent=2) + "\n")
    print()
    print(table(summary["rows"]))
    memory = summary.get("peak_rss_mb") or {}
    if memory:
        print("\npeak RSS under the pipeline load (MB): " + ", ".join(
            f"{name} {mb}" for name, mb in memory.items()
        ))  # fmt: skip
    failed = {n: s["status"] for n, s in steps.items() if s["status"] != "ok"}
    if failed:
        print(f"\nsteps not ok: {failed} (logs in {LOGS})")
    print(f"\nsummary: {SUMMARY} ({summary['wall_seconds']} s)")
    if args.write_docs:
        from bench.performance_doc import write_docs

        print(f"written to {write_docs(summary, PROFILES, DOCS)}")


if __name__ == "__main__":
    main()
