"""The whole system as separate processes, for end-to-end and fault tests.

Each service runs as ``python -m services.<name>`` with its own environment
(ports, state folders, topic names unique to the run), exactly as an operator
runs it; tests talk to it only over sockets and may kill -9 and restart any
service.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from libs.common.settings import KafkaSettings, TopicSettings
from tools.services import SERVICES
from tools.testing.ports import free_port
from tools.testing.ready import wait_ready_blocking

#: What the local system runs, in start order.
SERVICE_ORDER = tuple(s.name for s in SERVICES if s.in_local_system)


def run_topics(prefix: str, *, partitions: int = 3, **settings: Any) -> TopicSettings:
    """The four pipeline topics named ``<prefix>-<8 random hex>.<topic>``: a run sharing the
    broker (other tests, a bench, a developer's ``make up``) reads only its own records.
    The assistant and privacy topics keep their names unless ``settings`` give others."""
    run = f"{prefix}-{uuid.uuid4().hex[:8]}"
    return TopicSettings(
        interactions=f"{run}.interactions",
        routing=f"{run}.routing",
        notifications=f"{run}.notifications",
        deadletter=f"{run}.deadletter",
        partitions=partitions,
        **settings,
    )


def kafka_env(settings: KafkaSettings) -> dict[str, str]:
    topics = settings.topics
    return {
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "KAFKA_TOPIC_INTERACTIONS": topics.interactions,
        "KAFKA_TOPIC_ROUTING": topics.routing,
        "KAFKA_TOPIC_NOTIFICATIONS": topics.notifications,
        "KAFKA_TOPIC_DEADLETTER": topics.deadletter,
        "KAFKA_TOPIC_ASSISTANT": topics.assistant,
        "KAFKA_TOPIC_PARTITIONS": str(topics.partitions),
        "KAFKA_SEND_TIMEOUT_S": str(settings.send_timeout_s),
    }


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    port: int
    log_path: Path
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class LocalSystem:
    """Builds each service's environment and runs it; nothing starts until asked."""

    home: Path
    kafka: KafkaSettings
    smtp_port: int
    mailboxes_json: str = "[]"
    router_database_url: str = ""
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    admin_key: str = "e2e-admin-key-0123456789abcdef"

    def __post_init__(self) -> None:
        for name in SERVICE_ORDER:
            port = free_port()
            env = {
                **kafka_env(self.kafka),
                "OMNIDESK_HOME": str(self.home),
                **self._service_env(name, port),
                **self.extra_env.get(name, {}),
            }
            self.services[name] = ServiceProcess(name, env, port, self.home / f"{name}.log")

    def _service_env(self, name: str, port: int) -> dict[str, str]:
        state = str(self.home / name)
        prefix = name.upper() + "_"
        common = {f"{prefix}LOG_FORMAT": "json", f"{prefix}STATE_DIR": state}
        if name == "router":
            return {
                **common,
                "ROUTER_HTTP_PORT": str(port),
                "ROUTER_DATABASE_URL": self.router_database_url,
                "ROUTER_BOOTSTRAP_ADMIN_KEY": self.admin_key,
                "ROUTER_DEV_MODE": "false",
                "ROUTER_SCHEDULER_INTERVAL_S": "0.2",
                "ROUTER_RELAY_INTERVAL_S": "0.05",
            }
        if name == "notifier":
            return {
                **common,
                "NOTIFIER_PROBE_PORT": str(port),
                "NOTIFIER_SMTP_HOST": "127.0.0.1",
                "NOTIFIER_SMTP_PORT": str(self.smtp_port),
                "NOTIFIER_SEND_BACKOFF_INITIAL_S": "0.2",
                "NOTIFIER_SEND_BACKOFF_MAX_S": "2",
            }
        if name == "email_ingest":
            return {
                **common,
                "EMAIL_INGEST_PROBE_PORT": str(port),
                "EMAIL_INGEST_MAILBOXES": self.mailboxes_json,
                "EMAIL_INGEST_POLL_INTERVAL_S": "5",
            }
        if name == "chat_ingest":
            return {
                **common,
                "CHAT_INGEST_HTTP_HOST": "127.0.0.1",
                "CHAT_INGEST_HTTP_PORT": str(port),
                # the public development integrations (off by default since the provider table)
                "CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY": "true",
            }
        return {**common, "PHONE_LOG_HTTP_PORT": str(port), "PHONE_LOG_DEV_SAMPLES": "true"}

    # -- lifecycle -----------------------------------------------------------

    def start(self, name: str, *, wait: bool = True, timeout: float = 60.0) -> ServiceProcess:
        service = self.services[name]
        if service.running():
            return service
        self.home.mkdir(parents=True, exist_ok=True)
        log = open(service.log_path, "ab")  # noqa: SIM115 - owned by the child's lifetime
        service.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **service.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        service.starts += 1
        if wait:
            self.wait_ready(name, timeout=timeout)
        return service

    def start_all(self, timeout: float = 90.0) -> None:
        for name in SERVICE_ORDER:
            self.start(name, wait=False)
        for name in SERVICE_ORDER:
            self.wait_ready(name, timeout=timeout)

    def wait_ready(self, name: str, *, timeout: float = 60.0) -> None:
        service = self.services[name]
        wait_ready_blocking(
            service.base_url,
            process=service.proc,
            name=name,
            timeout_s=timeout,
            describe=lambda: ":\n" + self.tail(name),
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        service = self.services[name]
        if service.proc is not None and service.proc.poll() is None:
            service.proc.send_signal(sig)
            service.proc.wait(timeout=30)

    def stop_all(self) -> None:
        for name in reversed(SERVICE_ORDER):
            service = self.services[name]
            if service.running():
                self.kill(name, signal.SIGTERM)

    def tail(self, name: str, lines: int = 40) -> str:
        with contextlib.suppress(FileNotFoundError):
            text = self.services[name].log_path.read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no log)"

    def url(self, name: str) -> str:
        return self.services[name].base_url
