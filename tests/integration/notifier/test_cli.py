"""Operator commands: preview, check, log, prune (real SMTP server, real SQLite)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from libs.common.events import utc_now
from services.notifier.cli import app
from services.notifier.sentlog import SendInfo, SendKey, SentLog
from tools.testing.system import free_port

pytestmark = pytest.mark.integration

runner = CliRunner()


@pytest.fixture
def env(tmp_path, smtp_server, monkeypatch):
    monkeypatch.setenv("NOTIFIER_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("NOTIFIER_STATE_DIR", str(tmp_path))
    return tmp_path


def test_render_previews_korean_acknowledgement():
    result = runner.invoke(app, ["render", "opened", "--locale", "ko"])
    assert result.exit_code == 0, result.output
    assert "Subject: [#C-1234] 문의가 접수되었습니다: 출금이 안 됩니다" in result.output
    assert "Auto-Submitted: auto-replied" in result.output
    assert "영업시간 기준 30분 이내" in result.output


def test_render_refuses_unknown_types():
    result = runner.invoke(app, ["render", "nonsense"])
    assert result.exit_code == 2
    assert "known: support.callback.requested" in result.output


def test_check_reports_relay_and_database(env):
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "smtp 127.0.0.1" in result.output and "sent-log sqlite+aiosqlite: ok" in result.output


def test_check_fails_when_the_relay_is_down(env, monkeypatch):
    monkeypatch.setenv("NOTIFIER_SMTP_PORT", str(free_port()))
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 1
    assert "FAILED" in result.output


def test_log_and_prune(env):
    key = SendKey("ev-cli-1", "kim@example.kr", "customer_ack")

    async def seed() -> None:
        sentlog = SentLog(f"sqlite+aiosqlite:///{env / 'sentlog.db'}")
        await sentlog.open()
        old = utc_now() - timedelta(days=40)
        await sentlog.claim(
            key, SendInfo("support.conversation.opened", "c", "smtp", "ko"), now=old
        )
        await sentlog.mark_sent(key, message_id="<m@desk.example>", now=old)
        await sentlog.close()

    asyncio.run(seed())
    shown = runner.invoke(app, ["log", "ev-cli-1"])
    assert shown.exit_code == 0, shown.output
    assert "sent" in shown.output and "<m@desk.example>" in shown.output
    kept = runner.invoke(app, ["prune", "--older-than-days", "60"])
    assert "deleted 0" in kept.output
    pruned = runner.invoke(app, ["prune", "--older-than-days", "30"])
    assert "deleted 1" in pruned.output
    assert runner.invoke(app, ["log", "ev-cli-1"]).exit_code == 3
