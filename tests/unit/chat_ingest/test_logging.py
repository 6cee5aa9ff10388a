"""Logs name the event, provider and reason, never secrets or message text."""

from __future__ import annotations

import dataclasses
import logging

from libs.providers.integrations import Provider
from tests.helpers.chat_ingest import SECRETS, send, signed


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
    with caplog.at_level(logging.INFO):
        response = await send(client, signed(Provider.WEBCHAT, seq=3))
    event_id = response.json()["event_ids"][0]
    records = [r for r in caplog.records if getattr(r, "event_id", None) == event_id]
    assert records, "no log line carries the event id"
    logged = _everything_logged(caplog.records)
    assert "cannot log in" not in logged
    assert SECRETS[Provider.WEBCHAT] not in logged
