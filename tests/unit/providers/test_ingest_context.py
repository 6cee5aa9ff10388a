"""``ingest_context`` builds the same frozen ``IngestContext`` its constructor does."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from libs.common.events import RoutingHints
from libs.providers.inbound import IngestContext, ingest_context


def test_the_same_object_as_the_constructor() -> None:
    received = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    routing = RoutingHints(queue="vip", tags=["a"])
    agents = frozenset({"agent-1"})
    built = ingest_context("wc-1", received, "US", routing, agents)
    expected = IngestContext(
        integration_id="wc-1", received_at=received, region="US", routing=routing, agent_ids=agents
    )
    assert type(built) is IngestContext
    assert built == expected
    assert repr(built) == repr(expected)
    assert dataclasses.astuple(built) == dataclasses.astuple(expected)
    assert built.routing is routing and built.agent_ids is agents
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.region = "KR"  # type: ignore[misc]
