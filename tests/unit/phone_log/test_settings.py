from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from services.phone_log.bootstrap import load_settings
from services.phone_log.integrations import (
    AsteriskIntegration,
    CtiIntegration,
    FreeswitchIntegration,
    TwilioIntegration,
)
from services.phone_log.settings import PhoneLogSettings

TWILIO = {
    "provider": "twilio",
    "id": "kr-main",
    "auth_token": "tok",
    "queue": "support-ko",
    "language": "ko",
}


def test_defaults(monkeypatch):
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    settings = PhoneLogSettings()
    assert settings.http_port == 8082
    assert settings.default_region == "KR"
    assert settings.integrations == []
    assert settings.log_format == "json"


def test_integrations_from_the_environment(monkeypatch):
    integrations = [
        TWILIO,
        {"provider": "asterisk", "id": "pbx-seoul", "token": "t", "timezone": "Asia/Seoul"},
        {"provider": "freeswitch", "id": "fs", "username": "u", "password": "p"},
        {"provider": "cti", "id": "cti", "token": "t", "default_region": "de"},
        {"provider": "twilio", "id": "us-main", "auth_token": "tok2", "language": "en"},
    ]
    monkeypatch.setenv("PHONE_LOG_INTEGRATIONS", json.dumps(integrations))
    monkeypatch.setenv("PHONE_LOG_DEFAULT_REGION", "us")
    settings = PhoneLogSettings()
    kinds = [type(i) for i in settings.integrations]
    assert kinds == [
        TwilioIntegration,
        AsteriskIntegration,
        FreeswitchIntegration,
        CtiIntegration,
        TwilioIntegration,
    ]
    assert settings.default_region == "US"
    assert settings.integrations[3].default_region == "DE"
    assert settings.integrations[0].routing_hints().queue == "support-ko"
    assert "tw-s3cr3t-value" not in repr(settings)  # secrets never show


def test_integrations_file(tmp_path):
    path = tmp_path / "phone.yaml"
    path.write_text("- provider: cti\n  id: from-file\n  token: s3cret\n")
    settings = PhoneLogSettings(integrations=[TWILIO], integrations_file=path)
    assert [i.id for i in settings.integrations] == ["kr-main", "from-file"]


@pytest.mark.parametrize(
    "bad",
    [
        [TWILIO, TWILIO],
        [{**TWILIO, "auth_token": "  "}],
        [{**TWILIO, "provider": "skype"}],
        [{**TWILIO, "id": "has/slash"}],
        [{**TWILIO, "surprise": 1}],
        [{"provider": "asterisk", "id": "a", "token": "t", "timezone": "Mars/Olympus"}],
        [{"provider": "cti", "id": "c", "token": "t", "default_region": "XX"}],
    ],
)
def test_nonsense_is_refused_at_start(bad):
    with pytest.raises(ValidationError):
        PhoneLogSettings(integrations=bad)


def test_log_format_follows_dev_up(monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "text")
    assert PhoneLogSettings().log_format == "text"


def test_dev_samples_are_off_by_default(monkeypatch):
    monkeypatch.delenv("PHONE_LOG_INTEGRATIONS", raising=False)
    monkeypatch.delenv("PHONE_LOG_DEV_SAMPLES", raising=False)
    assert load_settings().integrations == []


def test_dev_samples_only_when_enabled_and_nothing_is_configured(monkeypatch):
    monkeypatch.delenv("PHONE_LOG_INTEGRATIONS", raising=False)
    monkeypatch.setenv("PHONE_LOG_DEV_SAMPLES", "true")  # what `omnidesk dev up` sets
    assert {i.id for i in load_settings().integrations} == {
        "dev-twilio",
        "dev-asterisk",
        "dev-freeswitch",
        "dev-cti",
    }
    monkeypatch.setenv("PHONE_LOG_DEV_SAMPLES", "false")
    assert load_settings().integrations == []
    monkeypatch.setenv("PHONE_LOG_INTEGRATIONS", json.dumps([TWILIO]))
    monkeypatch.setenv("PHONE_LOG_DEV_SAMPLES", "true")
    assert [i.id for i in load_settings().integrations] == ["kr-main"]


def test_own_numbers_are_normalised_per_line():
    from datetime import UTC, datetime

    from services.phone_log.intake import event_context_for

    settings = PhoneLogSettings(
        integrations=[{**TWILIO, "own_numbers": ["02-1234-5678", "not a number"]}]
    )
    context = event_context_for(settings.integrations[0], settings, datetime.now(UTC))
    assert context.own_numbers == frozenset({"+82212345678"})
    assert context.region == "KR"


def test_phone_log_lingers_20_ms_unless_told(monkeypatch):
    from services.phone_log.bootstrap import _producer

    settings = PhoneLogSettings()
    assert settings.publish_linger_ms == 20
    assert _producer(settings).linger_ms == 20
    monkeypatch.setenv("PHONE_LOG_PUBLISH_LINGER_MS", "0")
    assert _producer(PhoneLogSettings()).linger_ms == 0
    monkeypatch.setenv("PHONE_LOG_PUBLISH_LINGER_MS", "1000")
    with pytest.raises(ValidationError, match="publish_linger_ms"):
        PhoneLogSettings()
