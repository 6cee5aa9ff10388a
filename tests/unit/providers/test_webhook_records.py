"""``webhook_input`` and ``webhook_answer`` build the same frozen objects as their classes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from libs.providers.webhooks import (
    JSON,
    Answer,
    WebhookAck,
    WebhookInput,
    webhook_answer,
    webhook_input,
)


def _same(built: object, expected: object) -> None:
    assert type(built) is type(expected)
    assert built == expected
    assert repr(built) == repr(expected)
    assert list(vars(built).items()) == list(vars(expected).items())  # field order too
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.body = b""  # type: ignore[attr-defined]


def test_webhook_input_is_the_constructors_object() -> None:
    headers, query = {"x-omnidesk-signature": "sha256=00"}, {"token": "t"}
    received = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    built = webhook_input(b"{}", headers, query, "https://x/y", received)
    expected = WebhookInput(
        body=b"{}", headers=headers, query=query, url="https://x/y", received_at=received
    )
    _same(built, expected)
    assert built.headers is headers and built.query is query


@pytest.mark.parametrize(
    ("body", "media_type", "status_code", "exclude_none"),
    [
        (WebhookAck(accepted=1, duplicates=0, ignored=0, event_ids=["e"]), JSON, 202, False),
        ("<Response/>", "application/xml", 200, True),
    ],
)
def test_webhook_answer_is_the_constructors_object(
    body: object, media_type: str, status_code: int, exclude_none: bool
) -> None:
    built = webhook_answer(body, media_type, status_code, exclude_none)  # type: ignore[arg-type]
    expected = Answer(
        body,  # type: ignore[arg-type]
        media_type=media_type,
        status_code=status_code,
        exclude_none=exclude_none,
    )
    _same(built, expected)
    assert built.body is body
