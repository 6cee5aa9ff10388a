"""The demo scenario, played through the public interfaces only.

1. Agents log in (router API).
2. A Korean customer writes to the support mailbox (IMAP APPEND).
3. A Telegram user asks for help in English (signed webhook).
4. A WhatsApp message, then a missed Twilio call, from the same phone number.
5. The agent of the Telegram chat goes offline; the chat is re-queued.
6. Nobody answers the mail: its short demo SLA warns, breaches and escalates.

Then :mod:`tools.demo.timeline` prints interactions → routing decisions
→ notifications per conversation. Every run uses fresh provider ids and fresh
customers (:class:`DemoCustomers`), so a second run neither deduplicates against
the first nor joins its conversations: its timeline is its own.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aioimaplib
import httpx
from aiokafka import ConsumerRecord

from libs.common.cloudevents import CloudEvent, CloudEventError, decode
from libs.common.events import (
    ConversationAssigned,
    ConversationEscalated,
    ConversationQueued,
    Interaction,
    InteractionRouted,
    RoutingEvent,
)
from libs.common.kafka.reading import read_all
from libs.common.settings import KafkaSettings
from libs.common.webhooks.signatures import hmac_sha256_hex, twilio_signature
from tools.demo.assistant import assistant_step
from tools.demo.timeline import ConversationTimeline, build_timelines

WHATSAPP_TEXT = "안녕하세요, 입금이 반영되지 않았어요. 전화 주실 수 있나요?"


@dataclass(frozen=True)
class MailboxAccess:
    host: str
    port: int
    username: str
    password: str
    address: str = "support@omnidesk.localhost"
    folder: str = "INBOX"


@dataclass
class DemoTarget:
    chat_url: str
    phone_url: str
    router_url: str
    api_key: str
    kafka: KafkaSettings
    mailbox: MailboxAccess | None
    chat_integration: str = "dev"
    chat_secret: str = "dev-only-insecure-secret"  # noqa: S105 - the public dev secret
    twilio_integration: str = "dev-twilio"
    twilio_token: str = "dev-twilio-auth-token"  # noqa: S105 - the public dev secret
    agents: tuple[str, ...] = ("agent-park", "agent-lee", "agent-smith", "lead-kim")
    escalation_timeout_s: float = 240.0
    #: Answer the Telegram customer on Telegram, resolve, and let them rate (`omnidesk demo`).
    two_way: bool = False
    #: Where a local Telegram sink keeps what the customer received (`dev up`), if any.
    chat_sink_file: Path | None = None
    #: One question answered by the assistant, another handed to a person (`dev up` runs it).
    assistant: bool = False


@dataclass(frozen=True)
class DemoCustomers:
    """The customers of one run, derived from its id: each run meets new people."""

    email: str
    telegram_user: int
    whatsapp_number: str

    @classmethod
    def for_run(cls, run_id: str) -> DemoCustomers:
        n = int(run_id) % 10**8
        return cls(
            email=f"minjun.kim+{n}@example.kr",
            telegram_user=4_200_000_000 + n,
            whatsapp_number=f"+8210{n:08d}",  # a valid Korean mobile number
        )


@dataclass
class DemoRun:
    run_id: str
    started_at: datetime
    customers: DemoCustomers = field(init=False)
    customer_keys: set[str] = field(default_factory=set)
    offline_agent: str | None = None
    steps: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.customers = DemoCustomers.for_run(self.run_id)


Say = Callable[[str], None]


async def post_like_a_provider(
    http: httpx.AsyncClient, url: str, *, attempts: int = 10, **kwargs: object
) -> httpx.Response:
    """POST, retrying 503s after their Retry-After (capped) as the providers do."""
    for _ in range(attempts - 1):
        response = await http.post(url, **kwargs)  # type: ignore[arg-type]
        if response.status_code != 503:
            response.raise_for_status()
            return response
        await asyncio.sleep(min(2.0, float(response.headers.get("Retry-After", "1"))))
    response = await http.post(url, **kwargs)  # type: ignore[arg-type]
    response.raise_for_status()
    return response


async def post_telegram_update(
    http: httpx.AsyncClient, target: DemoTarget, integration: str, update: dict[str, Any]
) -> httpx.Response:
    """An Update to chat_ingest's Telegram webhook, with the secret token as Telegram sends it."""
    return await post_like_a_provider(
        http,
        f"{target.chat_url}/webhooks/telegram/{integration}",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": target.chat_secret},
    )


async def play(target: DemoTarget, say: Say = print) -> DemoRun:
    run = DemoRun(run_id=str(int(time.time() * 1000)), started_at=datetime.now(UTC))
    async with httpx.AsyncClient(timeout=15) as http:
        await _agents_online(http, target, say)
        if target.mailbox is not None:
            await _korean_email(target, run, say)
        else:
            say("  (no local mailbox: skipping the email; install dovecot-imapd to try it)")
        await _telegram(http, target, run, say)
        await _whatsapp_then_missed_call(http, target, run, say)
        telegram_key = f"telegram:{run.customers.telegram_user}"
        telegram_conv = await _wait_for_assignment(target, telegram_key, run, say)
        await _agent_goes_offline(http, target, run, telegram_conv, say)
        if target.two_way:
            await answer_on_telegram(http, target, run, telegram_conv, say)
        if target.assistant:
            await assistant_step(http, target, run, say)
    if target.mailbox is not None:
        await _wait_for_escalation(target, run, say)
    return run


async def _agents_online(http: httpx.AsyncClient, target: DemoTarget, say: Say) -> None:
    for agent in target.agents:
        response = await http.put(
            f"{target.router_url}/agents/{agent}/status",
            json={"status": "online"},
            headers={"X-API-Key": target.api_key},
        )
        response.raise_for_status()
    say(f"1. agents online: {', '.join(target.agents)}")


def korean_mail(run_id: str, sender: str, to: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"김민준 <{sender}>"
    message["To"] = to
    message["Subject"] = "출금 요청이 처리되지 않습니다"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = f"<demo-{run_id}@mail.example.kr>"
    message.set_content(
        "안녕하세요,\n\n어제 요청한 출금이 아직 처리되지 않았습니다. "
        "확인 부탁드립니다.\n\n김민준 드림\n"
    )
    return bytes(message)


async def _korean_email(target: DemoTarget, run: DemoRun, say: Say) -> None:
    mailbox = target.mailbox
    assert mailbox is not None
    client = aioimaplib.IMAP4(host=mailbox.host, port=mailbox.port, timeout=15)
    await client.wait_hello_from_server()
    await client.login(mailbox.username, mailbox.password)
    try:
        raw = korean_mail(run.run_id, run.customers.email, mailbox.address)
        response = await client.append(raw, mailbox=mailbox.folder)
        if response.result != "OK":
            raise RuntimeError(f"APPEND to {mailbox.username}/{mailbox.folder}: {response.lines}")
    finally:
        await client.logout()
    run.customer_keys.add(run.customers.email)
    say(
        f"2. mail from {run.customers.email} appended to {mailbox.username}/{mailbox.folder} (IMAP)"
    )


async def _telegram(http: httpx.AsyncClient, target: DemoTarget, run: DemoRun, say: Say) -> None:
    user = run.customers.telegram_user
    update = {
        "update_id": int(run.run_id) % 2_000_000_000,
        "message": {
            "message_id": int(run.run_id) % 1_000_000,
            "from": {
                "id": user,
                "is_bot": False,
                "first_name": "Emma",
                "last_name": "Wilson",
                "language_code": "en",
            },
            "chat": {"id": user, "first_name": "Emma", "type": "private"},
            "date": int(time.time()),
            "text": "Hi, I can't log in to my account since this morning. Can you help?",
        },
    }
    response = await post_telegram_update(http, target, target.chat_integration, update)
    response.raise_for_status()
    run.customer_keys.add(f"telegram:{user}")
    say(f"3. Telegram message from Emma (telegram:{user}) → HTTP {response.status_code}")


async def _whatsapp_then_missed_call(
    http: httpx.AsyncClient, target: DemoTarget, run: DemoRun, say: Say
) -> None:
    number = run.customers.whatsapp_number
    wa_id = number.lstrip("+")
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "demo",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "8215880000",
                                "phone_number_id": "demo",
                            },
                            "contacts": [{"profile": {"name": "박지우"}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": f"wamid.demo{run.run_id}",
                                    "timestamp": str(int(time.time())),
                                    "type": "text",
                                    "text": {"body": WHATSAPP_TEXT},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    body = json.dumps(payload, ensure_ascii=False).encode()
    response = await post_like_a_provider(
        http,
        f"{target.chat_url}/webhooks/whatsapp/{target.chat_integration}",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=" + hmac_sha256_hex(target.chat_secret, body),
        },
    )
    response.raise_for_status()
    run.customer_keys.add(number)
    say(f"4. WhatsApp message from 박지우 ({number}) → HTTP {response.status_code}")
    await _missed_call(http, target, run, say)


async def _missed_call(http: httpx.AsyncClient, target: DemoTarget, run: DemoRun, say: Say) -> None:
    number = run.customers.whatsapp_number
    path = f"/twilio/{target.twilio_integration}/voice/status"
    fields = {
        "AccountSid": "AC" + "d" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": f"CA{int(run.run_id):032x}",
        "CallStatus": "no-answer",
        "Direction": "inbound",
        "From": number,
        "To": "+8215880000",
        "Caller": number,
        "Called": "+8215880000",
        "CallDuration": "0",
        "Timestamp": format_datetime(datetime.now(UTC)),
        "SequenceNumber": "2",
        "CallbackSource": "call-progress-events",
    }
    url = target.phone_url.rstrip("/") + path
    response = await post_like_a_provider(
        http,
        url,
        content=urlencode(fields).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(target.twilio_token, url, fields),
        },
    )
    response.raise_for_status()
    say(f"   … and a missed Twilio call from the same number → HTTP {response.status_code}")


async def routing_events(settings: KafkaSettings) -> list[CloudEvent]:
    return decode_records(await read_all(settings, settings.topics.routing, idle_s=1.0))


async def interaction_events(settings: KafkaSettings) -> list[CloudEvent]:
    return decode_records(await read_all(settings, settings.topics.interactions, idle_s=1.0))


def decode_records(records: list[ConsumerRecord]) -> list[CloudEvent]:
    events = []
    for record in records:
        try:
            events.append(decode(record.headers, record.value))
        except CloudEventError:
            continue  # dead-lettered by the consumers; not part of a timeline
    return events


async def _conversation_of(target: DemoTarget, customer_key: str, run: DemoRun) -> str | None:
    ours = {
        e.id
        for e in await interaction_events(target.kafka)
        if isinstance(e.data, Interaction)
        and e.data.customer_key == customer_key
        and e.data.received_at >= run.started_at
    }
    for event in await routing_events(target.kafka):
        if isinstance(event.data, InteractionRouted) and event.data.interaction_id in ours:
            return event.data.conversation.conversation_id
    return None


async def _wait_for_assignment(target: DemoTarget, key: str, run: DemoRun, say: Say) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        conv = await _conversation_of(target, key, run)
        if conv:
            for event in await routing_events(target.kafka):
                data = event.data
                if (
                    isinstance(data, ConversationAssigned)
                    and data.conversation.conversation_id == conv
                    and data.occurred_at >= run.started_at
                ):
                    run.offline_agent = data.agent.agent_id
                    return conv
        await asyncio.sleep(0.5)
    raise TimeoutError(f"no assignment for {key} within 60 s: is the router running?")


async def _agent_goes_offline(
    http: httpx.AsyncClient, target: DemoTarget, run: DemoRun, conv: str, say: Say
) -> None:
    agent = run.offline_agent
    went_offline = datetime.now(UTC)
    response = await http.put(
        f"{target.router_url}/agents/{agent}/status",
        json={"status": "offline"},
        headers={"X-API-Key": target.api_key},
    )
    response.raise_for_status()
    say(f"5. {agent} (assigned the Telegram chat) went offline")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for event in await routing_events(target.kafka):
            data = event.data
            if (
                isinstance(data, ConversationAssigned | ConversationQueued)
                and data.conversation.conversation_id == conv
                and data.occurred_at >= went_offline
            ):
                whom = data.agent.agent_id if isinstance(data, ConversationAssigned) else "queue"
                say(f"   … the chat moved to {whom}")
                return
        await asyncio.sleep(0.5)
    say("   … (no re-queue seen within 30 s)")


async def _wait_for_escalation(target: DemoTarget, run: DemoRun, say: Say) -> None:
    say("6. nobody answers the mail; waiting for its demo SLA to warn and breach …")
    deadline = time.monotonic() + target.escalation_timeout_s
    conv = None
    while time.monotonic() < deadline:
        conv = conv or await _conversation_of(target, run.customers.email, run)
        if conv:
            for event in await routing_events(target.kafka):
                data = event.data
                if (
                    isinstance(data, ConversationEscalated)
                    and data.conversation.conversation_id == conv
                ):
                    say(f"   … escalated to {data.to_queue} ({data.reason or data.metric})")
                    await asyncio.sleep(3)  # let the notifier report its mails
                    return
        await asyncio.sleep(2)
    say("   … no escalation yet (is the mail in the demo queue with a short policy?)")


async def timelines_of(
    target: DemoTarget, run: DemoRun, tz: tzinfo = UTC
) -> list[ConversationTimeline]:
    interactions = [
        e
        for e in await interaction_events(target.kafka)
        if isinstance(e.data, Interaction)
        and e.data.customer_key in run.customer_keys
        and e.data.received_at >= run.started_at
    ]
    ours = {e.id for e in interactions}
    routing = await routing_events(target.kafka)
    conversations = {
        e.data.conversation.conversation_id
        for e in routing
        if isinstance(e.data, InteractionRouted) and e.data.interaction_id in ours
    }
    routing = [
        e
        for e in routing
        if isinstance(e.data, RoutingEvent)
        and e.data.conversation.conversation_id in conversations
        and e.data.occurred_at >= run.started_at
    ]
    records = await read_all(target.kafka, target.kafka.topics.notifications, idle_s=1.0)
    notifications = [
        e
        for e in decode_records(records)
        if getattr(e.data, "conversation_id", None) in conversations
        and e.data.occurred_at >= run.started_at  # type: ignore[union-attr]
    ]
    return build_timelines(interactions, routing, notifications, tz=tz)


# --- two-way chat (issue #12): the Telegram customer is answered on Telegram -------------


async def answer_on_telegram(
    http: httpx.AsyncClient, target: DemoTarget, run: DemoRun, conv: str, say: Say
) -> None:
    """An agent replies, the customer sees ack + reply on Telegram, then rates the help."""
    headers = {"X-API-Key": target.api_key}
    agent = next(a for a in target.agents if a != run.offline_agent)
    text = "Hi Emma, we reset your login — please try again and tell us if it works."
    response = await http.post(
        f"{target.router_url}/conversations/{conv}/replies",
        json={"text": text, "agent_id": agent},
        headers=headers,
    )
    response.raise_for_status()
    queued = response.json()
    say(f"7. {agent} replies to Emma → HTTP {response.status_code}, state {queued['state']}")
    reply = await _reply_settled(http, target, conv, queued["reply_id"])
    if reply is None:
        say("   … the reply is still queued after 30 s (is the notifier running?)")
        return
    if reply["state"] == "failed":
        say(f"   … the reply FAILED: {reply['error_code']} {reply['error_detail'] or ''}")
        return
    detail = (await http.get(f"{target.router_url}/conversations/{conv}", headers=headers)).json()
    say(
        f"   … Telegram {reply['state']} it at {reply['accepted_at']} "
        f"(message {reply['provider_message_id']}); first response at "
        f"{detail['first_response_at']} — the clock stopped when Telegram accepted it"
    )
    for line in _received_on_telegram(target, run):
        say(f"   Emma's Telegram: {line}")
    await _resolve_and_rate(http, target, run, conv, say)


async def _reply_settled(
    http: httpx.AsyncClient, target: DemoTarget, conv: str, reply_id: str
) -> dict[str, Any] | None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = await http.get(
            f"{target.router_url}/conversations/{conv}/replies",
            headers={"X-API-Key": target.api_key},
        )
        row = next((r for r in rows.json() if r["id"] == reply_id), None)
        if row and row["state"] not in ("queued", "retrying"):
            return row
        await asyncio.sleep(0.5)
    return None


def _received_on_telegram(target: DemoTarget, run: DemoRun) -> list[str]:
    """What the local Telegram sink recorded for Emma (acknowledgement, reply, survey)."""
    return [
        f"{text} {buttons}".strip()
        for text, buttons in sink_messages(target, run.customers.telegram_user)
    ][-3:]


def sink_messages(target: DemoTarget, user: int) -> list[tuple[str, str]]:
    """(text, "[button] [button]") of each message the local Telegram sink got for ``user``."""
    path = target.chat_sink_file
    if path is None or not path.exists():
        return []
    found = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        message = json.loads(raw)
        if str(message.get("chat_id")) == str(user):
            rows = message.get("reply_markup", {}).get("inline_keyboard", [])
            found.append((message["text"], " ".join(f"[{b['text']}]" for row in rows for b in row)))
    return found


async def _resolve_and_rate(
    http: httpx.AsyncClient, target: DemoTarget, run: DemoRun, conv: str, say: Say
) -> None:
    headers = {"X-API-Key": target.api_key}
    before = await _csat_responses(http, target)
    resolved = await http.post(f"{target.router_url}/conversations/{conv}/resolve", headers=headers)
    resolved.raise_for_status()
    say("8. the conversation is resolved; Emma gets the survey as buttons 1-5 on Telegram")
    await asyncio.sleep(3)  # the survey goes out through the notifier
    for line in _received_on_telegram(target, run)[-1:]:
        say(f"   Emma's Telegram: {line}")
    update = {
        "update_id": (int(run.run_id) + 1) % 2_000_000_000,
        "callback_query": {
            "id": f"demo-{run.run_id}",
            "from": {"id": run.customers.telegram_user, "is_bot": False, "first_name": "Emma"},
            "message": {
                "message_id": 1,
                "chat": {"id": run.customers.telegram_user, "type": "private"},
                "date": int(time.time()),
            },
            "chat_instance": "demo",
            "data": "csat:5",
        },
    }
    tapped = await post_telegram_update(http, target, target.chat_integration, update)
    say(f"9. Emma taps 5 → HTTP {tapped.status_code}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        responses, average = await _csat_responses(http, target)
        if responses > before[0]:
            say(f"   … CSAT recorded: {responses} answer(s), average {average}")
            return
        await asyncio.sleep(0.5)
    say("   … the rating was not recorded within 30 s")


async def _csat_responses(http: httpx.AsyncClient, target: DemoTarget) -> tuple[int, float | None]:
    metrics = await http.get(
        f"{target.router_url}/reports/metrics",
        params={"group_by": "all", "since": "2000-01-01T00:00:00Z"},
        headers={"X-API-Key": target.api_key},
    )
    rows = metrics.json().get("rows", []) if metrics.status_code == 200 else []
    if not rows:
        return 0, None
    return rows[0]["csat_responses"], rows[0]["csat_average"]
