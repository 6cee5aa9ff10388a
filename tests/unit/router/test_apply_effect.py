"""``interactions._apply_effect`` applies an interaction's effect as a plain call and
returns a coroutine only for what needs the store: the same effects, in the same order,
with the same instants, as the coroutine it was (``_apply_effect_by_steps``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.common.events.interaction import Interaction
from services.router.domain.lifecycle import ConversationStatus
from services.router.service import interactions as flow
from services.router.service.columns import columns
from services.router.store.models import Conversation
from services.router.store.unit_of_work import new_row
from tests.unit.router.factories import T0
from tests.unit.router.test_field_reads import interactions


def _recorded(calls: list[tuple[object, ...]], own: bool) -> dict[str, Callable[..., Any]]:
    async def apply_receipt(uow: object, ctx: object, cause: str, i: Interaction) -> str:
        calls.append(("receipt", cause, i))
        return "noted"

    async def our_own_message(uow: object, i: Interaction) -> bool:
        calls.append(("own?", i))
        return own

    def on_agent_response(uow: object, ctx: object, c: Conversation, at: datetime) -> None:
        calls.append(("agent", c.__dict__["id"], at))

    def on_customer_message(uow: object, ctx: object, c: Conversation, at: datetime) -> None:
        calls.append(("customer", c.__dict__["id"], at))

    return {
        "apply_receipt": apply_receipt,
        "_our_own_message": our_own_message,
        "on_agent_response": on_agent_response,
        "on_customer_message": on_customer_message,
    }


def _effects(
    monkeypatch: pytest.MonkeyPatch,
    apply: Callable[..., Any],
    interaction: Interaction,
    status: str,
    own: bool,
    clock_ahead: int,
    polled_ahead: int = -1,
) -> list[tuple[object, ...]]:
    calls: list[tuple[object, ...]] = []
    with monkeypatch.context() as patch:
        for name, fake in _recorded(calls, own).items():
            patch.setattr(flow, name, fake)
        conversation = new_row(Conversation, {"id": "conv-1", "status": status})
        clock = T0 + timedelta(seconds=clock_ahead)
        ctx = SimpleNamespace(clock=lambda: clock)
        emitter = SimpleNamespace(now=T0 + timedelta(seconds=polled_ahead), cause="event-1")
        result = (
            apply(None, ctx, emitter, conversation, interaction, columns(conversation))
            if apply is flow._apply_effect  # the caller's live view of the columns
            else apply(None, ctx, emitter, conversation, interaction)
        )
        if asyncio.iscoroutine(result):
            asyncio.run(result)
        else:
            assert result is None
    return calls


@given(
    interaction=interactions(),
    status=st.sampled_from([s.value for s in ConversationStatus]),
    own=st.booleans(),
    clock_ahead=st.integers(min_value=-5, max_value=5),
    polled_ahead=st.integers(min_value=-5, max_value=5),
)
def test_the_plain_call_has_the_coroutines_effects(
    interaction: Interaction, status: str, own: bool, clock_ahead: int, polled_ahead: int
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        by_steps = _effects(
            monkeypatch,
            flow._apply_effect_by_steps,
            interaction,
            status,
            own,
            clock_ahead,
            polled_ahead,
        )
        plain = _effects(
            monkeypatch, flow._apply_effect, interaction, status, own, clock_ahead, polled_ahead
        )
    assert plain == by_steps


def test_a_customers_message_needs_nothing_awaited(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.router.factories import interaction

    calls = _effects(monkeypatch, flow._apply_effect, interaction(), "open", False, 0)
    assert [call[0] for call in calls] == ["customer"]
