"""CSAT that works (both stores): the signed link's form, forged/expired links, chat answers."""

from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ReplyPath,
    ThreadHints,
)
from services.notifier.csat import rating_links
from services.router.app import create_app
from services.router.bootstrap import build_context, open_store
from services.router.service.agents import seed_agents
from services.router.service.api_keys import Role, create_api_key
from services.router.service.conversations import resolve
from services.router.service.interactions import Incoming, route_batch
from services.router.store.models import CsatRating, InteractionRecord

pytestmark = pytest.mark.integration

LINK_SECRET = "shared-link-secret-for-tests"


@pytest.fixture
async def world(store_settings, clock):
    settings = store_settings.model_copy(update={"csat_link_secret": SecretStr(LINK_SECRET)})
    engine = await open_store(settings)
    ctx = build_context(settings, engine, clock=clock)
    await seed_agents(ctx)
    app = create_app(settings, clock=clock)
    app.state.runtime = SimpleNamespace(ctx=ctx)  # the API over the real store, no broker
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
        yield client, ctx
    await engine.dispose()


def message(clock, *, channel: Channel, text: str, language: str) -> Interaction:
    now = clock()
    chat = channel is Channel.CHAT
    return Interaction(
        channel=channel,
        provider="telegram" if chat else "imap",
        integration="tg-main" if chat else "support",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(
            handle="telegram:42" if chat else None,
            email=None if chat else "kim@example.kr",
            locale=language,
        ),
        subject=None if chat else "입금 문의",
        thread=ThreadHints(provider_thread_id="42") if chat else ThreadHints(message_id="k@x"),
        body=MessageBody(text=text, language=language),
        reply_path=ReplyPath(provider="telegram", integration="tg-main", address="42")
        if chat
        else None,
    )


async def resolved_conversation(ctx, clock, *, channel=Channel.EMAIL, language="ko"):
    await route_batch(
        ctx,
        [
            Incoming(
                "in-1", message(clock, channel=channel, text="입금이 안 돼요", language=language)
            )
        ],
    )
    async with ctx.uow.reader() as uow:
        conversation_id = (await uow.session.get(InteractionRecord, "in-1")).conversation_id
    await resolve(ctx, conversation_id, by="test")
    return conversation_id


def links_for(ctx, conversation_id: str, clock) -> dict[int, str]:
    token = ctx.csat.sign(conversation_id, clock())
    links = rating_links("http://router/csat", LINK_SECRET, conversation_id, token)
    return {link.score: link.url for link in links}


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def rating_of(ctx, conversation_id: str) -> int | None:
    async with ctx.uow.reader() as uow:
        row = await uow.session.get(CsatRating, conversation_id)
    return row.rating if row else None


async def test_the_link_shows_a_korean_form_records_the_answer_and_it_can_change(world, clock):
    client, ctx = world
    conversation_id = await resolved_conversation(ctx, clock)
    links = links_for(ctx, conversation_id, clock)
    page = await client.get(path_of(links[4]))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'lang="ko"' in page.text and "얼마나 만족하셨나요" in page.text
    assert 'value="4" checked' in page.text
    action = re.search(r'action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    answered = await client.post(action, data={"rating": "4", "comment": "빨라요"})
    assert answered.status_code == 201 and "4/5" in answered.text
    assert await rating_of(ctx, conversation_id) == 4
    clock.advance(hours=1)  # the customer changes their mind within the window
    again = await client.get(path_of(links[2]))
    assert "현재 응답: 4점" in again.text
    await client.post(action, data={"rating": "2"})
    assert await rating_of(ctx, conversation_id) == 2


async def test_forged_links_are_403_and_expired_links_410_with_a_friendly_page(world, clock):
    client, ctx = world
    conversation_id = await resolved_conversation(ctx, clock)
    links = links_for(ctx, conversation_id, clock)
    forged_score = path_of(links[5]).replace("s=5", "s=1")  # sig covers the score
    assert (await client.get(forged_score)).status_code == 403
    wrong_key = rating_links("http://router/csat", "another-secret-entirely", conversation_id, "t")
    assert (await client.get(path_of(wrong_key[0].url))).status_code == 403
    posted = await client.post(forged_score.replace("/csat?", "/csat/form?"), data={"rating": "1"})
    assert posted.status_code == 403 and await rating_of(ctx, conversation_id) is None
    clock.advance(days=15)  # ROUTER_CSAT_TOKEN_DAYS defaults to 14
    expired = await client.get(path_of(links[5]))
    assert expired.status_code == 410 and "expired" in expired.text


async def test_a_chat_answer_is_recorded_without_reopening_and_counted(world, clock):
    client, ctx = world
    conversation_id = await resolved_conversation(ctx, clock, channel=Channel.CHAT)
    before = REGISTRY.get_sample_value("omnidesk_csat_answers_total", {"score": "5"}) or 0.0
    clock.advance(minutes=3)
    answer = message(clock, channel=Channel.CHAT, text="csat:5", language="ko")  # quick reply
    await route_batch(ctx, [Incoming("in-2", answer)])
    assert await rating_of(ctx, conversation_id) == 5
    async with ctx.uow.reader() as uow:
        conversation = await uow.conversations.get(conversation_id)
    assert conversation.status == "resolved"  # an answer to the survey reopens nothing
    clock.advance(minutes=1)
    await route_batch(
        ctx, [Incoming("in-3", message(clock, channel=Channel.CHAT, text="4", language="ko"))]
    )
    assert await rating_of(ctx, conversation_id) == 4
    after = REGISTRY.get_sample_value("omnidesk_csat_answers_total", {"score": "5"})
    assert after == before + 1
    key = await create_api_key(ctx, role=Role.SUPERVISOR, name="sup")
    metrics = await client.get(
        "/reports/metrics", params={"group_by": "all"}, headers={"X-API-Key": key}
    )
    [row] = metrics.json()["rows"]
    assert (row["csat_average"], row["csat_responses"]) == (4.0, 1)
    prometheus = await client.get("/metrics")
    assert 'omnidesk_csat_answers_total{score="4"}' in prometheus.text
    clock.advance(minutes=1)  # a real message after the answer still reopens
    await route_batch(
        ctx,
        [
            Incoming(
                "in-4",
                message(clock, channel=Channel.CHAT, text="또 문제가 생겼어요", language="ko"),
            )
        ],
    )
    async with ctx.uow.reader() as uow:
        assert (await uow.conversations.get(conversation_id)).status == "open"
