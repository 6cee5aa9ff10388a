"""Full pipeline: chat webhook → routing decision → agent notification mail received.

The system runs as processes (``tools.testing.system.LocalSystem``):
chat_ingest, router (SQLite), notifier, plus phone_log and email_ingest idle;
an aiosmtpd server in this process receives the mails. A load-generator
process POSTs signed web-chat messages at a fixed rate (open loop); every
message is a new visitor whose name carries a run-unique id, so each one opens
a conversation, is assigned to an online agent and produces exactly one
``agent_assigned`` mail naming that visitor. Latency = mail received by the
SMTP server minus scheduled send time of the POST (same clock, same machine).

Peak memory: VmHWM (and the last VmRSS) of every service process from
``/proc/<pid>/status`` at the end of the run.

``--profile DIR`` runs a second, short pass with chat_ingest, router and
notifier under pyinstrument and writes one pstats profile per service to DIR.

    python -m bench.pipeline [--rates 25,100,500:60] [--seconds 10] [--drain 60] [--profile DIR]

``--rates`` takes events/s, each optionally with its own sending time
(``500:60`` = 500/s sustained for 60 s, the issue's target run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from bench.common import RESULTS, bootstrap_servers, latency_summary_ms, write_result
from libs.common.kafka.admin import create_topics
from libs.common.settings import KafkaSettings
from tools.testing.system import SERVICE_ORDER, LocalSystem, free_port, run_topics

TARGET_P99_MS = 500
TARGET_RATE = 500
PROFILE_RATE = 100  # events/s of the profiled pass
SECRET = "pipeline-bench-secret-0123456789"  # noqa: S105 - a bench-only signing key
INTEGRATION = "pbench"
AGENTS = 6
LOADED = ("chat_ingest", "router", "notifier")
PROFILER = [sys.executable, "-m", "bench.profiled"]  # + report path, service module


# --- SMTP side -----------------------------------------------------------------


@dataclass
class Inbox:
    """aiosmtpd handler: stores arrival time and bytes; parsing waits for the end."""

    arrivals: list[tuple[float, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        received = time.time()
        with self.lock:
            self.arrivals.append((received, envelope.original_content or envelope.content))
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def take(self) -> list[tuple[float, bytes]]:
        with self.lock:
            taken, self.arrivals = self.arrivals, []
        return taken


def received_ids(arrivals: list[tuple[float, bytes]], run: str) -> dict[int, float]:
    """seq → first arrival time of the mail naming visitor ``run``-seq."""
    pattern = re.compile(rf"pb{run}x(\d+)")
    seen: dict[int, float] = {}
    for at, raw in arrivals:
        message = message_from_bytes(raw, policy=policy.default)
        text = message.get_body(("plain",))
        found = pattern.search(text.get_content() if text is not None else "")
        if found:
            seq = int(found.group(1))
            seen[seq] = min(at, seen.get(seq, at))
    return seen


# --- load generator (its own process) --------------------------------------------


def webchat_request(run: str, seq: int) -> tuple[bytes, dict[str, str]]:
    from libs.common.webhooks.signatures import hmac_sha256_hex

    body = json.dumps(
        {
            "message_id": f"pb-{run}-{seq}",
            "conversation_id": f"pb-{run}-{seq}",
            "visitor": {"id": f"v-{run}-{seq}", "name": f"pb{run}x{seq}", "locale": "en-US"},
            "text": f"Hello, I cannot log in to my account (ticket {seq})",
            "sent_at": "2026-11-23T09:30:00+09:00",
        },
        separators=(",", ":"),
    ).encode()
    return body, {
        "Content-Type": "application/json",
        "X-Omnidesk-Signature": "sha256=" + hmac_sha256_hex(SECRET, body),
    }


def load_generator(base_url: str, run: str, first: int, rate: float, seconds: float, out: str):  # type: ignore[no-untyped-def]
    """Open loop: request n is due at start + n/rate; its send time is that due time.

    Stops by itself: 30 s after the last due time whatever is unanswered is
    abandoned, and the figures so far are written in any case.
    """
    sent: dict[int, float] = {}
    statuses: dict[str, int] = {}
    lags: list[float] = []

    async def one(client: httpx.AsyncClient, seq: int, due: float) -> None:
        lags.append(time.time() - due)  # the generator's own delay, counted against the system
        body, headers = webchat_request(run, seq)
        try:
            response = await client.post(
                f"/webhooks/webchat/{INTEGRATION}/messages", content=body, headers=headers
            )
            key = str(response.status_code)
        except httpx.HTTPError as exc:
            key = type(exc).__name__
        statuses[key] = statuses.get(key, 0) + 1
        if key.startswith("2"):
            sent[seq] = due

    async def drive() -> None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
            start = time.time() + 0.2
            tasks = []
            for n in range(int(rate * seconds)):
                due = start + n / rate
                delay = due - time.time()
                await asyncio.sleep(max(0.0, delay))
                tasks.append(asyncio.create_task(one(client, first + n, due)))
            _, late = await asyncio.wait(tasks, timeout=30) if tasks else (set(), set())
            for task in late:
                task.cancel()
            statuses["unanswered"] = len(late)

    async def bounded() -> None:
        try:
            async with asyncio.timeout(seconds + 60):
                await drive()
        except TimeoutError:
            statuses["generator_timeout"] = 1

    try:
        asyncio.run(bounded())
    finally:
        Path(out).write_text(
            json.dumps(
                {
                    "sent": {str(k): v for k, v in sent.items()},
                    "statuses": statuses,
                    "generator_lag": latency_summary_ms(lags) if lags else None,
                }
            )
        )


def run_load(base_url: str, run: str, first: int, rate: float, seconds: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    process = mp.get_context("spawn").Process(
        target=load_generator, args=(base_url, run, first, rate, seconds, out)
    )
    process.start()
    process.join(seconds + 120)
    if process.is_alive():
        process.kill()
        raise RuntimeError("load generator did not finish")
    result = json.loads(Path(out).read_text())
    os.unlink(out)
    return result


# --- the system --------------------------------------------------------------------


def agents_file(folder: Path) -> Path:
    lines = ["agents:"]
    for n in range(AGENTS):
        lines += [
            f"  - id: bench-{n}",
            f"    name: Bench Agent {n}",
            f"    email: bench-{n}@desk.example",
            "    locale: en-US",
            "    queues: [general, en-support, ko-support]",
            "    skills: [en, ko]",
            "    capacity: {chat: 1000000, email: 1000000, phone: 1000000}",
            "    status: online",  # also online after a restart (bench.backlog_recovery)
        ]
    path = folder / "agents.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def build_system(home: Path, smtp_port: int, bootstrap: str) -> LocalSystem:
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topics=run_topics("pb"))
    asyncio.run(create_topics(kafka))
    integration = {"id": INTEGRATION, "provider": "webchat", "secret": SECRET}
    integration["routing"] = {"queue": "general"}  # type: ignore[assignment]
    return LocalSystem(
        home=home,
        kafka=kafka,
        smtp_port=smtp_port,
        extra_env={
            "router": {
                "ROUTER_AGENTS_PATH": str(agents_file(home)),
                "ROUTER_LOG_LEVEL": "WARNING",
                "ROUTER_SCHEDULER_INTERVAL_S": "1.0",
            },
            "notifier": {"NOTIFIER_LOG_LEVEL": "WARNING"},
            "chat_ingest": {
                "CHAT_INGEST_INTEGRATIONS": json.dumps([integration]),
                "CHAT_INGEST_LOG_LEVEL": "WARNING",
            },
            "phone_log": {"PHONE_LOG_LOG_LEVEL": "WARNING"},
            "email_ingest": {"EMAIL_INGEST_LOG_LEVEL": "WARNING"},
        },
    )


def start(system: LocalSystem, profile_dir: Path | None) -> None:
    """Start every service; with ``profile_dir`` the loaded ones run under pyinstrument."""
    for name in SERVICE_ORDER:
        if profile_dir is None or name not in LOADED:
            system.start(name, wait=False)
        else:
            start_profiled(system, name, profile_dir / f"{name}.pstats")
    for name in SERVICE_ORDER:
        system.wait_ready(name, timeout=120)


def start_profiled(system: LocalSystem, name: str, report: Path) -> None:
    """Start one service under pyinstrument (pstats to ``report`` when it stops, see stop)."""
    service = system.services[name]
    system.home.mkdir(parents=True, exist_ok=True)
    with open(service.log_path, "ab") as log:
        service.proc = subprocess.Popen(
            [*PROFILER, str(report), f"services.{name}"],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **service.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def agents_online(system: LocalSystem) -> None:
    headers = {"X-API-Key": system.admin_key}
    base = system.url("router")
    for n in range(AGENTS):
        response = httpx.put(
            f"{base}/agents/bench-{n}/status", json={"status": "online"}, headers=headers
        )
        response.raise_for_status()


def memory(pid: int) -> dict[str, float]:
    """VmHWM (peak RSS) and VmRSS of a process, in MB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[key] = round(int(rest.split()[0]) / 1024, 1)
    return {"peak_rss_mb": values.get("VmHWM", 0.0), "rss_mb": values.get("VmRSS", 0.0)}


def service_pids(system: LocalSystem) -> dict[str, int]:
    """The Python process of each service (under pyinstrument it is the same process)."""
    return {name: s.proc.pid for name, s in system.services.items() if s.proc and s.running()}


def keep_logs(system: LocalSystem, label: str) -> None:
    """Copy each service's log next to the results (the system's home is temporary)."""
    folder = RESULTS / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    for name, service in system.services.items():
        if service.log_path.exists():
            shutil.copyfile(service.log_path, folder / f"{label}-{name}.log")


def stop(system: LocalSystem) -> None:
    for name in reversed(SERVICE_ORDER):
        service = system.services[name]
        if service.running():
            assert service.proc is not None
            # uvicorn re-raises SIGTERM after its shutdown, which would end pyinstrument
            # before it writes; SIGINT ends in KeyboardInterrupt, which it handles.
            profiled = service.proc.args[: len(PROFILER)] == PROFILER
            service.proc.send_signal(signal.SIGINT if profiled else signal.SIGTERM)
    for service in system.services.values():
        if service.proc is not None:
            try:
                service.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                service.proc.kill()
                service.proc.wait()


# --- one measured rate ---------------------------------------------------------------


def measure(
    system: LocalSystem,
    inbox: Inbox,
    run: str,
    first: int,
    rate: float,
    seconds: float,
    drain: float,
) -> dict[str, Any]:
    inbox.take()
    load = run_load(system.url("chat_ingest"), run, first, rate, seconds)
    sent = {int(k): v for k, v in load["sent"].items()}
    deadline = time.monotonic() + drain
    while inbox.count() < len(sent) and time.monotonic() < deadline:
        time.sleep(0.25)
    arrivals = inbox.take()
    received = received_ids(arrivals, run)
    latencies = [received[seq] - due for seq, due in sent.items() if seq in received]
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "acked_2xx": len(sent),
        "statuses": load["statuses"],
        "generator_lag": load.get("generator_lag"),
        "mails_received": len(arrivals),
        "delivered": len(latencies),
        "not_delivered_within_drain": len(sent) - len(latencies),
        "drain_s": drain,
        "latency": latency_summary_ms(latencies),
    }


def run(rates: list[tuple[float, float]], drain: float, profile: Path | None) -> dict[str, Any]:
    bootstrap = bootstrap_servers()
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        result = _run_measured(inbox, smtp_port, bootstrap, rates, drain)
        if profile is not None:
            result["profile"] = _run_profiled(inbox, smtp_port, bootstrap, PROFILE_RATE, profile)
        return result
    finally:
        controller.stop()


def _run_measured(
    inbox: Inbox, smtp_port: int, bootstrap: str, rates: list[tuple[float, float]], drain: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="omnidesk-pipeline-") as home:
        system = build_system(Path(home), smtp_port, bootstrap)
        run_id = uuid.uuid4().hex[:8]
        try:
            start(system, None)
            agents_online(system)
            pids = service_pids(system)
            measure(system, inbox, run_id, 0, 10, 2, 60)  # warm-up: imports, first connections
            runs = []
            for index, (rate, seconds) in enumerate(rates):
                try:
                    runs.append(
                        measure(
                            system, inbox, run_id, (index + 1) * 1_000_000, rate, seconds, drain
                        )
                    )
                except RuntimeError as exc:
                    runs.append({"rate_per_s": rate, "seconds": seconds, "error": str(exc)})
                print(json.dumps(runs[-1]), flush=True)
            return {
                "target": f"p99 < {TARGET_P99_MS} ms at {TARGET_RATE} events/s",
                "path": "webchat POST → chat_ingest → Kafka → router (SQLite) → Kafka → "
                "notifier → SMTP (aiosmtpd, this process)",
                "runs": runs,
                "memory": {name: memory(pid) for name, pid in pids.items()},
                "memory_note": "phone_log and email_ingest (no mailboxes) run idle",
            }
        finally:
            stop(system)
            keep_logs(system, "pipeline")


def _run_profiled(
    inbox: Inbox, smtp_port: int, bootstrap: str, rate: float, folder: Path
) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="omnidesk-pipeline-prof-") as home:
        system = build_system(Path(home), smtp_port, bootstrap)
        try:
            start(system, folder)
            agents_online(system)
            measured = measure(system, inbox, uuid.uuid4().hex[:8], 0, rate, 8, 30)
        finally:
            stop(system)
            keep_logs(system, "pipeline-profiled")
    return {
        "rate_per_s": rate,
        "seconds": 8,
        "delivered": measured["delivered"],
        "reports": sorted(str(p) for p in folder.glob("*.pstats")),
    }


def parse_rates(spec: str, seconds: float) -> list[tuple[float, float]]:
    """``"25,100,500:60"`` → [(25, seconds), (100, seconds), (500, 60)]: events/s[:seconds]."""
    rates = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        rate, _, length = item.partition(":")
        rates.append((float(rate), float(length) if length else seconds))
    if not rates or any(rate <= 0 or length <= 0 for rate, length in rates):
        raise ValueError(f"bad --rates {spec!r}: expected e.g. 25,100,500:60")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--rates",
        default="25,100,500:60",
        help="Comma-separated events/s, each optionally :seconds (default --seconds).",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="Sending time per rate.")
    parser.add_argument("--drain", type=float, default=60.0, help="Max wait for the last mails.")
    parser.add_argument("--profile", type=Path, default=None, help="Folder for pyinstrument.")
    args = parser.parse_args()
    try:
        rates = parse_rates(args.rates, args.seconds)
    except ValueError as exc:
        parser.error(str(exc))
    write_result("pipeline", run(rates, args.drain, args.profile))


if __name__ == "__main__":
    main()
