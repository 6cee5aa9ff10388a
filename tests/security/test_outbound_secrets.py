"""Outbound credentials never reach logs or outcomes (a Telegram bot token is in its URL)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from libs.common.logging import configure_logging
from libs.providers.integrations import Provider
from libs.providers.registry import make_sender
from tests.provider_fakes import ProviderFakes
from tests.provider_fakes.messages import reply

pytestmark = pytest.mark.integration


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + repr(record.args))


@pytest.fixture
def collected() -> Iterator[Collect]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("notifier", level="DEBUG", fmt="json")
    collect = Collect()
    root.addHandler(collect)
    try:
        yield collect
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.NOTSET)


async def test_bot_token_is_not_logged_even_at_debug(collected: Collect) -> None:
    async with ProviderFakes() as fakes, httpx.AsyncClient() as client:
        sender = make_sender(fakes.integration(Provider.TELEGRAM), client)
        ok = await sender.send(reply(Provider.TELEGRAM))
        fakes.telegram.fail_next(1, "permanent")
        refused = await sender.send(reply(Provider.TELEGRAM, key="reply-2"))
        token = fakes.telegram.token
    assert ok.verdict.value == "accepted" and refused.verdict.value == "permanent"
    assert not any(token in line for line in collected.lines)
    for outcome in (ok, refused):
        assert token not in outcome.model_dump_json()


def test_a_built_request_does_not_show_its_credentials_or_text() -> None:
    from libs.providers.integrations import Integration, OutboundCredentials
    from libs.providers.telegram import build_request

    integration = Integration(
        id="tg",
        provider=Provider.TELEGRAM,
        secret="s",
        outbound=OutboundCredentials(token="123:very-secret-bot-token"),
    )
    request = build_request(reply(Provider.TELEGRAM, text="my account number"), integration)
    assert "very-secret-bot-token" not in repr(request) and "account" not in repr(request)
