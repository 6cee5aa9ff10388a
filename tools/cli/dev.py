"""``omnidesk dev up|down``: the whole system on one machine, embedded defaults.

Starts the local broker (unless ``KAFKA_BOOTSTRAP_SERVERS`` names one), creates
the topics, then runs every service (:mod:`tools.services`) as its own process with one
combined, prefixed log. Ctrl-C (or ``omnidesk dev down``) stops the services;
the broker keeps running (and its data) until ``dev down --broker`` or
``omnidesk kafka stop``. Only ``dev up`` switches on the development
integrations with public secrets; the services' own defaults keep them off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import typer

from libs.common.privacy.dev_key import use_dev_hash_key
from libs.common.settings import default_home
from tools.local_broker import LocalKafka, is_alive
from tools.services import SERVICES

app = typer.Typer(help="Run the whole system locally.")


@dataclass(frozen=True)
class DevProcess:
    name: str
    module: str  # run as `python -m <module>`
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()


ROUTER_PORT, CHAT_PORT, PHONE_PORT, EMAIL_PROBE_PORT, NOTIFIER_PROBE_PORT = (
    8080,
    8081,
    8082,
    9101,
    9102,
)
ASSISTANT_PROBE_PORT = 9104
#: The development admin key of the router API; `omnidesk demo` uses it. Never for production.
DEV_ADMIN_KEY = "dev-admin-key-not-for-production"
#: The local mailbox `dev up` serves (with Dovecot, when installed) for trying email.
DEV_MAILBOX_USER, DEV_MAILBOX_PASSWORD = "support", "dev-mailbox-password"
#: The built-in development integrations (PUBLIC secrets: `omnidesk demo` signs with them).
#: Off by default in the services; on only in the processes `dev up` starts.
DEV_INTEGRATIONS_ON = {"CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY": "true"}
DEV_SAMPLES_ON = {"PHONE_LOG_DEV_SAMPLES": "true"}
#: How long `dev down` waits for `dev up` to stop its services before giving up.
DOWN_TIMEOUT_S = 40.0


def dev_chat_integrations(port: int | None = None) -> str:
    """The notifier answers the dev Telegram integration through the local Telegram sink."""
    from libs.providers.integrations import DEV_SECRET
    from services.notifier.chat_sink import DEFAULT_PORT, DEV_TELEGRAM_TOKEN

    telegram = {
        "id": "dev",
        "provider": "telegram",
        "secret": DEV_SECRET,
        "dev": True,
        "outbound": {
            "api_base_url": f"http://127.0.0.1:{port or DEFAULT_PORT}",
            "token": DEV_TELEGRAM_TOKEN,
        },
    }
    # the assistant's demo integration (sample rules: chat on `faq` → the assistant first)
    faq = {**telegram, "id": "faq"}
    return json.dumps([telegram, faq])


#: Each service's development environment (ports, the public dev integrations).
DEV_ENV: dict[str, dict[str, str]] = {
    "router": {"ROUTER_HTTP_PORT": str(ROUTER_PORT), "ROUTER_BOOTSTRAP_ADMIN_KEY": DEV_ADMIN_KEY},
    "notifier": {
        "NOTIFIER_PROBE_PORT": str(NOTIFIER_PROBE_PORT),
        "NOTIFIER_INTEGRATIONS": dev_chat_integrations(),
    },
    "assistant": {"ASSISTANT_PROBE_PORT": str(ASSISTANT_PROBE_PORT)},
    "email_ingest": {"EMAIL_INGEST_PROBE_PORT": str(EMAIL_PROBE_PORT)},
    "chat_ingest": {"CHAT_INGEST_HTTP_PORT": str(CHAT_PORT), **DEV_INTEGRATIONS_ON},
    "phone_log": {"PHONE_LOG_HTTP_PORT": str(PHONE_PORT), **DEV_SAMPLES_ON},
}

#: What `dev up` runs, in start order: the local SMTP and chat sinks the notifier
#: answers through, then every service of the registry.
DEV_PROCESSES: tuple[DevProcess, ...] = (
    DevProcess("smtp-sink", "services.notifier.smtp_sink"),
    DevProcess("chat-sink", "services.notifier.chat_sink"),
    *(DevProcess(s.name, s.module, DEV_ENV.get(s.name, {})) for s in SERVICES),
)

_COLOURS = ("36", "35", "33", "32", "34", "31", "96", "95")


def _pid_file() -> Path:
    return default_home() / "dev-up.pid"


def system_file() -> Path:
    """Where `dev up` says how to reach the running system (read by `omnidesk demo`)."""
    return default_home() / "dev-system.json"


def _start_local_mailbox() -> tuple[object | None, dict[str, object] | None]:
    """A local Dovecot with one mailbox, id ``demo``, when Dovecot is installed."""
    if os.environ.get("EMAIL_INGEST_MAILBOXES") or os.environ.get("EMAIL_INGEST_MAILBOXES_FILE"):
        return None, None  # the developer configured real mailboxes
    from tools.testing.dovecot import DovecotNotInstalled, DovecotServer

    try:
        server = DovecotServer().start()
    except DovecotNotInstalled:
        typer.echo("[dev] no Dovecot (apt-get install dovecot-imapd): email ingest stays idle")
        return None, None
    server.add_user(DEV_MAILBOX_USER, DEV_MAILBOX_PASSWORD)
    mailbox = {
        "host": server.host,
        "port": server.imap_port,
        "username": DEV_MAILBOX_USER,
        "password": DEV_MAILBOX_PASSWORD,
    }
    os.environ["EMAIL_INGEST_MAILBOXES"] = json.dumps(
        [{"id": "demo", "tls": "plain", "folders": ["INBOX"], **mailbox}]
    )
    typer.echo(f"[dev] local mailbox {DEV_MAILBOX_USER}@{server.host}:{server.imap_port} (IMAP)")
    return server, mailbox


def _write_system_file(mailbox: dict[str, object] | None) -> None:
    system = {
        "router_url": f"http://127.0.0.1:{ROUTER_PORT}",
        "chat_url": f"http://127.0.0.1:{CHAT_PORT}",
        "phone_url": f"http://127.0.0.1:{PHONE_PORT}",
        "api_key": os.environ.get("ROUTER_BOOTSTRAP_ADMIN_KEY", DEV_ADMIN_KEY),
        "kafka_bootstrap_servers": os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
        "mailbox": mailbox,
    }
    system_file().write_text(json.dumps(system, indent=2))


@app.command("up")
def dev_up(
    kafka: bool = typer.Option(
        True, help="Start the local Kafka unless KAFKA_BOOTSTRAP_SERVERS is set."
    ),
) -> None:
    """Bring the whole system up in the foreground; Ctrl-C stops it."""
    if kafka and not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        broker = LocalKafka()
        typer.echo("[dev] starting the local Kafka broker (first run fetches it with Maven) …")
        broker.start()
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
        typer.echo(f"[dev] Kafka ready on {broker.bootstrap_servers}")
    from libs.common.kafka.admin import create_topics
    from libs.common.settings import KafkaSettings

    created = asyncio.run(create_topics(KafkaSettings()))
    typer.echo(f"[dev] topics ready ({len(created)} created)")
    processes = list(DEV_PROCESSES)
    pid_file = _pid_file()
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(str(os.getpid()))
    key_file = use_dev_hash_key(default_home(), os.environ)  # the services inherit it
    if key_file is not None:
        typer.echo(f"[dev] PRIVACY_HASH_KEY (development only) kept in {key_file}")
    imap, mailbox = _start_local_mailbox()
    _write_system_file(mailbox)
    typer.echo(
        f"[dev] agent API http://127.0.0.1:{ROUTER_PORT}/docs (X-API-Key: dev key in "
        f"{system_file()}); try `omnidesk demo` in another shell"
    )
    typer.echo(
        f"[dev] console http://127.0.0.1:{ROUTER_PORT}/console (sign in with an API key; "
        "`omnidesk demo` prints one for its supervisor)"
    )
    try:
        code = asyncio.run(_supervise(processes))
    finally:
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()
        if imap is not None:
            imap.stop()  # type: ignore[attr-defined]
    raise typer.Exit(code)


@app.command("down")
def dev_down(
    broker: bool = typer.Option(
        False, "--broker", help="Then also stop the local Kafka broker (its data is kept)."
    ),
) -> None:
    """Stop a running `dev up`: its services first; the broker only with --broker."""
    pid = _dev_up_pid()
    if pid is None:
        typer.echo("[dev] no `dev up` is running")
    else:
        os.kill(pid, signal.SIGTERM)
        typer.echo(f"[dev] asked `dev up` (pid {pid}) to stop its services …")
        if wait_for_exit(pid, DOWN_TIMEOUT_S):
            typer.echo("[dev] services stopped")
        else:
            typer.echo(f"[dev] `dev up` (pid {pid}) still runs after {DOWN_TIMEOUT_S:.0f}s")
            if broker:
                typer.echo("[dev] leaving the broker up while services still use it", err=True)
                raise typer.Exit(1)
    if broker:
        typer.echo("[dev] kafka stopped" if LocalKafka().stop() else "[dev] kafka was not running")
    else:
        typer.echo(
            "[dev] the Kafka broker keeps running with its data "
            "(`omnidesk dev down --broker` or `omnidesk kafka stop` stops it)"
        )


def _dev_up_pid() -> int | None:
    try:
        pid = int(_pid_file().read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if is_alive(pid) else None


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Poll until the process is gone (or a zombie); False if it outlives ``timeout``."""
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


async def _supervise(processes: list[DevProcess]) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    children: list[tuple[DevProcess, asyncio.subprocess.Process]] = []
    width = max(len(p.name) for p in processes)
    pumps = []
    for index, spec in enumerate(processes):
        # The developer's own environment wins over the dev defaults.
        env = {"PYTHONUNBUFFERED": "1", **spec.env, **os.environ}
        prefix = spec.name.upper() + "_"
        env.setdefault(f"{prefix}LOG_FORMAT", "text")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            spec.module,
            *spec.args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
        )
        children.append((spec, proc))
        prefix = f"\x1b[{_COLOURS[index % len(_COLOURS)]}m{spec.name:<{width}}\x1b[0m | "
        pumps.append(asyncio.create_task(_pump(proc, prefix)))
        typer.echo(f"[dev] started {spec.name} (pid {proc.pid})")
    exits = [asyncio.create_task(proc.wait()) for _, proc in children]
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([stopper, *exits], return_when=asyncio.FIRST_COMPLETED)
    code = 0
    for spec, proc in children:
        if proc.returncode is not None and not stop.is_set():
            typer.echo(f"[dev] {spec.name} exited with {proc.returncode}; stopping the rest")
            code = 1
    typer.echo("[dev] stopping services …")
    for _, proc in reversed(children):
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(20):
            await asyncio.gather(*exits)
    for _, proc in children:
        if proc.returncode is None:
            proc.kill()
    await asyncio.gather(*pumps, return_exceptions=True)
    stopper.cancel()
    typer.echo(
        "[dev] all services stopped (the Kafka broker keeps running: "
        "`omnidesk dev down --broker` or `omnidesk kafka stop`)"
    )
    return code


async def _pump(proc: asyncio.subprocess.Process, prefix: str) -> None:
    assert proc.stdout is not None
    async for line in proc.stdout:
        sys.stdout.write(prefix + line.decode("utf-8", "replace"))
        sys.stdout.flush()
