"""The process as operators run it, and `omnidesk email check` against a real server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import pytest

from tests.integration.email_ingest.helpers import mailbox_config
from tools.testing.ready import wait_ready
from tools.testing.system import free_port

pytestmark = pytest.mark.integration


async def test_without_mailboxes_the_service_idles_and_serves_probes(tmp_path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EMAIL_INGEST_")},
        "EMAIL_INGEST_PROBE_PORT": str(port),
        "EMAIL_INGEST_STATE_DIR": str(tmp_path),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.email_ingest", env=env,
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        first_line = json.loads(await asyncio.wait_for(process.stderr.readline(), 30))
        assert "no mailbox configured" in first_line["message"]
        await wait_ready(f"http://127.0.0.1:{port}", process=process, name="email_ingest")
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0


async def test_email_check_logs_in_and_selects(dovecot, imap_user, tmp_path):
    good = mailbox_config(dovecot, imap_user, mailbox_id="good", folders=["INBOX"])
    bad = mailbox_config(dovecot, imap_user, mailbox_id="bad", password="nope")
    env = {
        **os.environ,
        "EMAIL_INGEST_MAILBOXES": json.dumps([good, bad]),
        "EMAIL_INGEST_STATE_DIR": str(tmp_path),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tools.cli.main", "email", "check", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    text = output.decode()
    assert process.returncode == 1, text
    assert "ok   good" in text and "IDLE" in text
    assert "ok     INBOX: 0 messages" in text
    assert "FAIL bad" in text
