"""Running ``omnidesk`` as operators do (a process, environment only) and
scanning email_ingest's state for a customer's personal data."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libs.common.settings import KafkaSettings
from tests.unit.email_ingest.privacy_helpers import scan as scan_state

__all__ = ["HASH_KEY", "Run", "cli_env", "omnidesk", "scan_state", "table", "write_artifact"]

HASH_KEY = "integration-test-privacy-hash-key-0123456789"


@dataclass(frozen=True)
class Run:
    code: int
    output: str


def cli_env(
    kafka: KafkaSettings, *, state_dir: Path, mailboxes: list[dict[str, Any]] | None = None,
    **extra: str,
) -> dict[str, str]:  # fmt: skip
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EMAIL_INGEST_", "KAFKA_", "PRIVACY_"))
    }
    topics = kafka.topics
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap_servers,
        KAFKA_TOPIC_INTERACTIONS=topics.interactions,
        KAFKA_TOPIC_DEADLETTER=topics.deadletter,
        KAFKA_TOPIC_PRIVACY=topics.privacy,
        PRIVACY_HASH_KEY=HASH_KEY,
        EMAIL_INGEST_STATE_DIR=str(state_dir),
        EMAIL_INGEST_MAILBOXES=json.dumps(mailboxes or []),
        LOG_FORMAT="text",
    )
    env.update(extra)
    return env


async def omnidesk(*args: str, env: dict[str, str]) -> Run:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tools.cli.main", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return Run(process.returncode, output.decode())


def table(scan: dict[str, tuple[int, int]], who: str) -> str:
    lines = [f"{'store':<40} {'rows/files checked':>18} {'personal data of ' + who:>26}"]
    lines += [f"{store:<40} {checked:>18} {hits:>26}" for store, (checked, hits) in scan.items()]
    return "\n".join(lines)


def artifact_dir() -> Path:
    """``OMNIDESK_TEST_ARTIFACTS``, else the checkout's ``build/test-artifacts`` (git-ignored)."""
    default = Path(__file__).resolve().parents[3] / "build" / "test-artifacts"
    return Path(os.environ.get("OMNIDESK_TEST_ARTIFACTS") or default)


def write_artifact(name: str, title: str, sections: list[tuple[str, str]]) -> Path:
    """Evidence a closing note quotes (issue #18 "Must show"): what a run printed,
    kept as a file; it is written, never asserted on."""
    path = artifact_dir() / "privacy" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", ""]
    for heading, text in sections:
        lines += [f"## {heading}", "", "```", text.rstrip("\n"), "```", ""]
    path.write_text("\n".join(lines))
    return path
