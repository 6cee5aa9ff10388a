"""Logs name the event, provider and reason, never secrets or message text."""

from __future__ import annotations

import dataclasses
import logging

import httpx

from libs.providers.integrations import Provider
from services.chat_ingest.bootstrap import create_app
from tests.helpers.chat_ingest import BASE_URL, SECRETS, send, signed


def _everything_logged(records: list[logging.LogRecord]) -> str:
    """What the service logged (the test's own HTTP client logs the URL it calls)."""
    ours = [r for r in records if not r.name.startswith("httpx")]
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in ours)


async def test_rejections_log_reason_but_no_secret_or_text(client, caplog):
    request = signed(Provider.CHANNELTALK)  # the token travels in the query string
    wrong = dataclasses.replace(request, path=request.path.replace("token=", "token=WRONG"))
    with caplog.at_level(logging.INFO):
        assert (await send(client, wrong)).status_code == 401
    logged = _everything_logged(caplog.records)
    assert "bad_signature" in logged
    assert "channeltalk" in logged
    assert SECRETS[Provider.CHANNELTALK] not in logged
    assert "WRONG" not in logged
    assert "결제가" not in logged  # the customer's text


async def test_accepted_event_logged_with_event_id_but_no_text(client, caplog):
    with caplog.at_level(logging.DEBUG):  # per-event lines are DEBUG (INFO: a summary)
        response = await send(client, signed(Provider.WEBCHAT, seq=3))
    event_id = response.json()["event_ids"][0]
    records = [r for r in caplog.records if getattr(r, "event_id", None) == event_id]
    assert records, "no log line carries the event id"
    logged = _everything_logged(caplog.records)
    assert "cannot log in" not in logged
    assert SECRETS[Provider.WEBCHAT] not in logged


async def test_at_info_accepted_events_are_summarised_when_the_service_stops(
    settings, producer, caplog
):
    app = create_app(settings, publisher=producer)
    with caplog.at_level(logging.INFO, logger="services.chat_ingest"):
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
                for seq in (1, 2, 1):  # the third is a repeat
                    assert (await send(client, signed(Provider.WEBCHAT, seq=seq))).is_success
            assert not [r for r in caplog.records if getattr(r, "event_id", None)]
    [summary] = [r for r in caplog.records if r.getMessage().startswith("chat events in")]
    assert "webchat/" in summary.getMessage()
    assert "1 duplicate, 2 published" in summary.getMessage()


async def test_log_each_event_puts_every_accepted_event_at_info(settings, producer, caplog):
    app = create_app(settings.model_copy(update={"log_each_event": True}), publisher=producer)
    with caplog.at_level(logging.INFO, logger="services.chat_ingest"):
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
                response = await send(client, signed(Provider.WEBCHAT, seq=4))
    event_id = response.json()["event_ids"][0]
    [line] = [r for r in caplog.records if getattr(r, "event_id", None) == event_id]
    assert line.levelno == logging.INFO and line.getMessage() == "chat event published"
