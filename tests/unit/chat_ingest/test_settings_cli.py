"""Settings, integrations configuration and the `omnidesk chat` commands."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from libs.common.webhooks import UnknownIntegration
from libs.providers.integrations import (
    DEV_SECRET,
    Integration,
    IntegrationRegistry,
    Provider,
    dev_integrations,
)
from services.chat_ingest.bootstrap import create_app
from services.chat_ingest.cli import app as chat_cli
from services.chat_ingest.settings import ChatIngestSettings
from tests.helpers.chat_ingest import FakeProducer

INTEGRATIONS = [
    {"id": "kr-main", "provider": "kakao", "secret": "tok-1", "routing": {"queue": "kr"}},
    {
        "id": "line-jp",
        "provider": "line",
        "secret": "line-secret-value",
        "routing": {"queue": "jp", "language": "ja", "brand": "acme"},
    },
]


def test_settings_read_integrations_from_env(monkeypatch):
    monkeypatch.setenv("CHAT_INGEST_INTEGRATIONS", json.dumps(INTEGRATIONS))
    monkeypatch.setenv("CHAT_INGEST_HTTP_PORT", "9999")
    settings = ChatIngestSettings()
    assert settings.http_port == 9999
    assert [i.id for i in settings.all_integrations()] == ["kr-main", "line-jp"]
    assert settings.integrations[1].routing.language == "ja"
    assert settings.integrations[0].secret.get_secret_value() == "tok-1"


def test_defaults():
    settings = ChatIngestSettings()
    assert settings.http_port == 8081
    assert settings.default_region == "KR"
    assert settings.integrations == []


def test_settings_read_integrations_file(tmp_path, monkeypatch):
    path = tmp_path / "integrations.yaml"
    path.write_text(
        "- id: wa-kr\n  provider: whatsapp\n  secret: app-secret\n  verify_token: vt\n"
        "  routing: {queue: kr-wa, language: ko}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CHAT_INGEST_INTEGRATIONS_FILE", str(path))
    [integration] = ChatIngestSettings().all_integrations()
    assert integration.provider is Provider.WHATSAPP
    assert integration.routing.queue == "kr-wa"


@pytest.mark.parametrize(
    "bad",
    [
        {"id": "x", "provider": "line"},  # no secret
        {"id": "x", "provider": "webchat"},  # neither secret nor api key
        {"id": "bad id!", "provider": "line", "secret": "s"},
        {"id": "x", "provider": "icq", "secret": "s"},
        {"id": "x", "provider": "line", "secret": "s", "unknown_field": 1},
        {"id": "x", "provider": "line", "secret": "s", "default_region": "XX"},
    ],
)
def test_invalid_integrations_fail_at_start(bad, monkeypatch):
    monkeypatch.setenv("CHAT_INGEST_INTEGRATIONS", json.dumps([bad]))
    with pytest.raises(ValidationError):
        ChatIngestSettings()


def test_unknown_default_region_is_refused(monkeypatch):
    monkeypatch.setenv("CHAT_INGEST_DEFAULT_REGION", "Korea")
    with pytest.raises(ValidationError):
        ChatIngestSettings()
    monkeypatch.setenv("CHAT_INGEST_DEFAULT_REGION", "jp")
    assert ChatIngestSettings().default_region == "JP"


def test_duplicate_integration_is_refused():
    one = Integration(id="a", provider=Provider.LINE, secret="s")
    with pytest.raises(ValueError, match="duplicate"):
        IntegrationRegistry([one, one])


def test_registry_lookup_is_per_provider():
    registry = IntegrationRegistry([Integration(id="a", provider=Provider.LINE, secret="s")])
    assert registry.get(Provider.LINE, "a").id == "a"
    with pytest.raises(UnknownIntegration):
        registry.get(Provider.SLACK, "a")


def test_secrets_never_in_repr_or_description():
    integration = Integration(id="a", provider=Provider.SLACK, secret="very-secret-value")
    assert "very-secret-value" not in repr(integration)
    assert "very-secret-value" not in json.dumps(integration.describe())
    assert integration.describe()["path"] == "/webhooks/slack/a"


def test_dev_integrations_are_off_by_default(monkeypatch):
    monkeypatch.delenv("CHAT_INGEST_INTEGRATIONS", raising=False)
    monkeypatch.delenv("CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY", raising=False)
    assert ChatIngestSettings().served_integrations() == []


def test_dev_integrations_only_when_enabled_and_none_configured(monkeypatch):
    monkeypatch.delenv("CHAT_INGEST_INTEGRATIONS", raising=False)
    monkeypatch.setenv("CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY", "true")
    served = ChatIngestSettings().served_integrations()
    assert {i.provider for i in served} == set(Provider)
    assert all(i.dev and i.secret.get_secret_value() == DEV_SECRET for i in served)

    monkeypatch.setenv("CHAT_INGEST_INTEGRATIONS", json.dumps(INTEGRATIONS))
    assert not any(i.dev for i in ChatIngestSettings().served_integrations())


async def test_start_and_readyz_say_when_nothing_is_configured(caplog):
    app = create_app(ChatIngestSettings(integrations=[]), publisher=FakeProducer())
    with caplog.at_level(logging.WARNING):
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/readyz")
    assert "NO integrations configured" in caplog.text
    assert response.status_code == 503
    assert response.json()["checks"]["integrations"] == "failing: NoIntegrationsConfigured"


async def test_dev_integrations_are_announced_as_public(caplog):
    settings = ChatIngestSettings(integrations=[], dev_integrations_when_empty=True)
    app = create_app(settings, publisher=FakeProducer())
    with caplog.at_level(logging.WARNING):
        async with app.router.lifespan_context(app):
            pass
    assert "DEVELOPMENT integrations" in caplog.text and DEV_SECRET in caplog.text


def test_cli_lists_what_is_served_including_dev_ones(monkeypatch):
    monkeypatch.delenv("CHAT_INGEST_INTEGRATIONS", raising=False)
    monkeypatch.delenv("CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY", raising=False)
    assert "no integrations configured" in CliRunner().invoke(chat_cli, ["integrations"]).output
    monkeypatch.setenv("CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY", "true")
    output = CliRunner().invoke(chat_cli, ["integrations"]).output
    assert output.count("DEVELOPMENT") == len(Provider) + 1  # + Telegram "faq" (assistant)
    assert "/webhooks/telegram/dev" in output and DEV_SECRET not in output


def test_dev_integrations_are_marked():
    for integration in dev_integrations():
        assert "DEVELOPMENT ONLY" in integration.description


def test_cli_lists_integrations_without_secrets(monkeypatch):
    monkeypatch.setenv("CHAT_INGEST_INTEGRATIONS", json.dumps(INTEGRATIONS))
    result = CliRunner().invoke(chat_cli, ["integrations"])
    assert result.exit_code == 0, result.output
    assert "kakao" in result.output and "/webhooks/line/line-jp" in result.output
    assert "line-secret-value" not in result.output and "tok-1" not in result.output
    as_json = CliRunner().invoke(chat_cli, ["integrations", "--json"])
    rows = [json.loads(line) for line in as_json.output.splitlines()]
    assert rows[1]["routing"] == {"queue": "jp", "language": "ja", "brand": "acme"}
    assert rows[1]["secret"] == "set"


def test_cli_prints_openapi(monkeypatch):
    monkeypatch.setenv("CHAT_INGEST_INTEGRATIONS", "[]")
    result = CliRunner().invoke(chat_cli, ["openapi"])
    assert result.exit_code == 0
    assert "/webhooks/kakao/{integration_id}" in json.loads(result.output)["paths"]
