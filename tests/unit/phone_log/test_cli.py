from __future__ import annotations

import json

from typer.testing import CliRunner

from services.phone_log.cli import app


def test_routes_lists_every_configured_webhook(monkeypatch):
    monkeypatch.setenv(
        "PHONE_LOG_INTEGRATIONS",
        json.dumps(
            [
                {"provider": "twilio", "id": "kr-main", "auth_token": "x"},
                {"provider": "cti", "id": "sipgate", "token": "y"},
            ]
        ),
    )
    result = CliRunner().invoke(app, ["routes"])
    assert result.exit_code == 0, result.output
    assert "/twilio/kr-main/voice/status" in result.output
    assert "/twilio/kr-main/voice/recording" in result.output
    assert "/cti/sipgate/<token>" in result.output
    assert "y" not in result.output.split()  # the token itself is never printed


def test_routes_with_nothing_configured_shows_the_dev_samples(monkeypatch):
    monkeypatch.delenv("PHONE_LOG_INTEGRATIONS", raising=False)
    monkeypatch.setenv("PHONE_LOG_DEV_SAMPLES", "true")
    result = CliRunner().invoke(app, ["routes"])
    assert result.exit_code == 0
    assert "/freeswitch/dev-freeswitch/cdr" in result.output


def test_routes_with_nothing_configured_says_so(monkeypatch):
    monkeypatch.delenv("PHONE_LOG_INTEGRATIONS", raising=False)
    monkeypatch.delenv("PHONE_LOG_DEV_SAMPLES", raising=False)
    result = CliRunner().invoke(app, ["routes"])
    assert result.exit_code == 0
    assert "no integrations configured" in result.output
