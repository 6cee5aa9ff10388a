"""Settings refuse unsafe combinations at start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.notifier.settings import NotifierSettings, SmtpTls
from services.notifier.webhook_targets import WebhookKind


def test_defaults_point_at_the_local_sink(monkeypatch, tmp_path):
    monkeypatch.setenv("OMNIDESK_HOME", str(tmp_path))
    settings = NotifierSettings()
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == (
        "127.0.0.1",
        1025,
        SmtpTls.NONE,
    )
    assert (settings.sink_host, settings.sink_port) == ("127.0.0.1", 1025)
    assert settings.resolved_sentlog_url() == (
        f"sqlite+aiosqlite:///{tmp_path}/notifier/sentlog.db"
    )


def test_environment_with_prefix_and_json_targets(monkeypatch):
    monkeypatch.setenv("NOTIFIER_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("NOTIFIER_SMTP_TLS", "starttls")
    monkeypatch.setenv("NOTIFIER_SMTP_PASSWORD", "pw")
    monkeypatch.setenv("NOTIFIER_CSAT_SIGNING_SECRET", "prod-secret")
    monkeypatch.setenv(
        "NOTIFIER_WEBHOOK_TARGETS",
        '[{"name": "ops", "kind": "slack", "url": "https://hooks.slack.com/services/T/B/x"}]',
    )
    settings = NotifierSettings()
    assert settings.smtp_tls is SmtpTls.STARTTLS
    assert settings.webhook_targets[0].kind is WebhookKind.SLACK
    assert settings.webhook_targets[0].event_types == ["support.conversation.escalated"]
    assert "pw" not in repr(settings) and "services/T/B" not in repr(settings)


def test_plaintext_smtp_to_a_remote_host_is_refused():
    with pytest.raises(ValidationError, match="non-loopback"):
        NotifierSettings(smtp_host="smtp.example.com", csat_signing_secret="x")
    allowed = NotifierSettings(
        smtp_host="mailsink", smtp_allow_plaintext=True, csat_signing_secret="x"
    )
    assert allowed.smtp_host == "mailsink"


def test_dev_csat_secret_is_refused_for_a_real_relay():
    with pytest.raises(ValidationError, match="CSAT_SIGNING_SECRET"):
        NotifierSettings(smtp_host="smtp.example.com", smtp_tls="implicit")


def test_signed_webhook_needs_a_secret_and_names_are_unique():
    with pytest.raises(ValidationError, match="needs a secret"):
        NotifierSettings(webhook_targets=[{"name": "a", "url": "https://x.example"}])
    target = {"name": "a", "url": "https://x.example", "secret": "s"}
    with pytest.raises(ValidationError, match="unique"):
        NotifierSettings(webhook_targets=[target, target])


def test_unknown_time_zone_is_refused():
    with pytest.raises(ValidationError, match="time zone"):
        NotifierSettings(display_timezone="Mars/Olympus")


def test_log_format_follows_dev_up(monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "text")
    assert NotifierSettings().log_format == "text"
    monkeypatch.setenv("NOTIFIER_LOG_FORMAT", "json")
    assert NotifierSettings().log_format == "json"
    assert NotifierSettings(log_format="text").log_format == "text"
