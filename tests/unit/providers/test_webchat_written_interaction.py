"""Web chat's usual message written out (``prevalidated.visitor_chat_interaction``, taken
by ``webchat.inbound.normalise``) gives the event the general way gives: the same id and
the same interaction instance (values, types, zones, fields set, JSON), for any payload
the model accepts; where it does not apply, ``normalise`` goes the general way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.events import RoutingHints
from libs.providers import prevalidated
from libs.providers.inbound import ingest_context
from libs.providers.webchat import inbound
from libs.providers.webchat.inbound import WebchatMessage, normalise
from tests.unit.providers.test_prevalidated import assert_same_instance

RECEIVED = datetime(2026, 11, 30, 9, 0, 0, 123456, tzinfo=UTC)

texts = st.text(max_size=30)
some = st.one_of(st.none(), texts)
moments = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1960, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.builds(
        lambda d, h: d.replace(tzinfo=timezone(timedelta(hours=h))),
        st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1)),
        st.integers(-12, 14),
    ),
)
payloads = st.fixed_dictionaries(
    {
        "message_id": st.text(min_size=1, max_size=30),
        "visitor": st.fixed_dictionaries(
            {"id": st.text(min_size=1, max_size=30)},
            optional={
                "name": some,
                "email": st.one_of(st.none(), st.emails(), st.just("V@Example.KR")),
                "phone": st.one_of(st.none(), st.just("+821012345678")),
                "locale": some,
            },
        ),
    },
    optional={
        "conversation_id": some,
        "author": st.sampled_from(["visitor", "agent", "bot"]),
        "text": st.text(max_size=60),
        "sent_at": moments,
        "attachments": st.lists(st.fixed_dictionaries({"url": st.just("https://x/y")}), max_size=1),
    },
)


def _general(message: WebchatMessage, context: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patched:
        patched.setattr(inbound, "visitor_chat_interaction", lambda **_: None)
        return normalise(message, context)


@settings(max_examples=300, deadline=None)
@given(
    payload=payloads,
    routing=st.builds(RoutingHints, queue=some, tags=st.lists(texts, max_size=2)),
)
def test_written_out_is_the_general_way(payload: dict, routing: RoutingHints) -> None:
    monkeypatch = pytest.MonkeyPatch()
    message = WebchatMessage.model_validate(payload)
    context = ingest_context("site", RECEIVED, "KR", routing, frozenset())
    written = normalise(message, context)
    general = _general(message, context, monkeypatch)
    assert written.id == general.id
    assert_same_instance(written.interaction, general.interaction)


def test_the_usual_message_is_written_out(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = prevalidated.visitor_chat_interaction

    def counted(**values: Any) -> Any:
        calls.append(values)
        return real(**values)

    monkeypatch.setattr(inbound, "visitor_chat_interaction", counted)
    message = WebchatMessage.model_validate(
        {
            "message_id": "m1",
            "conversation_id": "c1",
            "visitor": {"id": "v1", "name": "Alex Kim", "locale": "en-US"},
            "text": "hello",
            "sent_at": "2026-01-05T09:30:00+09:00",
        }
    )
    context = ingest_context("site", RECEIVED, "KR", RoutingHints(), frozenset())
    event = normalise(message, context)
    assert len(calls) == 1 and event.interaction.customer_key == "webchat:v1"


def test_odd_values_go_the_general_way() -> None:
    values: dict[str, Any] = {
        "provider": "webchat",
        "integration": "site",
        "occurred": RECEIVED,
        "received": RECEIVED,
        "visitor_id": "v1",
        "email": None,
        "display_name": None,
        "locale": None,
        "conversation_id": None,
        "text": "hi",
        "routing_hints": RoutingHints(),
        "provider_message_id": "m1",
    }
    assert prevalidated.visitor_chat_interaction(**values) is not None
    odd = [
        {"occurred": RECEIVED.astimezone(timezone(timedelta(hours=9)))},
        {"received": RECEIVED.replace(tzinfo=None)},
        {"email": " padded@example.kr"},
        {"text": "x" * 200_000},
        {"visitor_id": ""},
    ]
    for change in odd:
        assert prevalidated.visitor_chat_interaction(**{**values, **change}) is None, change
