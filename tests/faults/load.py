"""Steady load through the public interfaces, sent the way real providers send it.

Each input is distinct (one global sequence number) and carries the provider's
own id, so the invariant checker can find the events it became. Webhooks are
retried on 503 and connection errors until a 2xx (bounded), as Telegram,
Meta and Twilio do; IMAP APPENDs are retried on connection errors. An input
counts as *accepted* once a 2xx (or APPEND OK) came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import urlencode

import aioimaplib
import httpx

from libs.common.webhooks.signatures import hmac_sha256_hex, twilio_signature

CHAT_INTEGRATION = "dev"
CHAT_SECRET = "dev-only-insecure-secret"
TWILIO_INTEGRATION = "dev-twilio"
TWILIO_TOKEN = "dev-twilio-auth-token"

#: Share of each kind of input in the steady load (out of 20).
MIX = ("telegram",) * 7 + ("whatsapp",) * 4 + ("phone",) * 5 + ("email",) * 4


@dataclass
class Input:
    """One customer input and what happened to it at the public interface."""

    seq: int
    kind: str  # telegram | whatsapp | phone | email
    provider: str  # the Interaction.provider it should become
    provider_id: str  # the Interaction.provider_message_id it should carry
    scenario: str
    first_sent_at: float = 0.0
    accepted_at: float | None = None
    attempts: int = 0
    last_error: str = ""

    @property
    def accepted(self) -> bool:
        return self.accepted_at is not None


@dataclass(frozen=True)
class Endpoints:
    chat_url: str
    phone_url: str
    imap_host: str
    imap_port: int
    imap_user: str
    imap_password: str


@dataclass(frozen=True)
class Request:
    url: str
    content: bytes
    headers: dict[str, str]


_SEQ = itertools.count(1)


def next_seq() -> int:
    return next(_SEQ)


def _now_s() -> int:
    return int(time.time())


def telegram_request(ep: Endpoints, seq: int) -> tuple[Request, str]:
    user_id = 700_000_000 + seq
    update = {
        "update_id": 800_000_000 + seq,
        "message": {
            "message_id": seq,
            "from": {"id": user_id, "is_bot": False, "first_name": "Load", "language_code": "en"},
            "chat": {"id": user_id, "first_name": "Load", "type": "private"},
            "date": _now_s(),
            "text": f"fault-suite telegram message {seq}",
        },
    }
    body = json.dumps(update).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": CHAT_SECRET,
    }
    url = f"{ep.chat_url}/webhooks/telegram/{CHAT_INTEGRATION}"
    return Request(url, body, headers), f"{user_id}:{seq}"


def whatsapp_request(ep: Endpoints, seq: int) -> tuple[Request, str]:
    wa_id = f"8210{30_000_000 + seq:08d}"
    wamid = f"wamid.fault{seq:012d}"
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "8215880000", "phone_number_id": "fault"},
        "contacts": [{"profile": {"name": "Load Test"}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": wamid,
                "timestamp": str(_now_s()),
                "type": "text",
                "text": {"body": f"fault-suite whatsapp message {seq}"},
            }
        ],
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "fault", "changes": [{"field": "messages", "value": value}]}],
    }
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": "sha256=" + hmac_sha256_hex(CHAT_SECRET, body),
    }
    url = f"{ep.chat_url}/webhooks/whatsapp/{CHAT_INTEGRATION}"
    return Request(url, body, headers), wamid


def phone_request(ep: Endpoints, seq: int) -> tuple[Request, str]:
    call_sid = f"CA{seq:032x}"
    number = f"+8210{60_000_000 + seq:08d}"
    status = "no-answer" if seq % 2 else "completed"
    fields = {
        "AccountSid": "AC" + "f" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": status,
        "Direction": "inbound",
        "From": number,
        "To": "+8215880000",
        "Caller": number,
        "Called": "+8215880000",
        "CallDuration": "42" if status == "completed" else "0",
        "Timestamp": format_datetime(datetime.now(UTC)),
        "SequenceNumber": "2",
        "CallbackSource": "call-progress-events",
    }
    url = f"{ep.phone_url}/twilio/{TWILIO_INTEGRATION}/voice/status"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, fields),
    }
    return Request(url, urlencode(fields).encode(), headers), call_sid


def email_message(seq: int, run_id: str) -> tuple[bytes, str]:
    message_id = f"fault-{run_id}-{seq}@customers.example"
    message = EmailMessage()
    message["From"] = f"Customer {seq} <customer{seq}.{run_id}@customers.example>"
    message["To"] = "support@omnidesk.localhost"
    message["Subject"] = f"Order {seq} has not arrived"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = f"<{message_id}>"
    message.set_content(f"Hello,\n\nmy order {seq} has not arrived yet.\n\nThanks\n")
    return bytes(message), message_id


WEBHOOK_BUILDERS = {
    "telegram": ("telegram", telegram_request),
    "whatsapp": ("whatsapp", whatsapp_request),
    "phone": ("twilio", phone_request),
}


@dataclass
class LoadGenerator:
    """Sends ``rate`` inputs per second for ``duration_s``; keeps every input."""

    endpoints: Endpoints
    run_id: str
    scenario: str
    rate: float = 20.0
    duration_s: float = 120.0  # at most; :meth:`stop_after` usually ends it sooner
    give_up_s: float = 120.0  # a provider stops retrying eventually
    max_in_flight: int = 200
    inputs: list[Input] = field(default_factory=list)
    _tasks: set[asyncio.Task] = field(default_factory=set)
    _runner: asyncio.Task | None = None

    _stop_at: float = float("inf")

    def start(self) -> LoadGenerator:
        self._runner = asyncio.create_task(self._run())
        return self

    def stop_after(self, seconds: float) -> None:
        """Send for ``seconds`` more, then stop sending new inputs."""
        self._stop_at = time.monotonic() + seconds

    async def finish(self) -> list[Input]:
        """Wait until every input was accepted or given up."""
        assert self._runner is not None
        await self._runner
        return self.inputs

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.max_in_flight)
        slots = asyncio.Semaphore(self.max_in_flight)
        async with httpx.AsyncClient(timeout=10, limits=limits) as http:
            start = time.monotonic()
            kinds = itertools.cycle(MIX)
            for n in itertools.count():
                due = start + n / self.rate
                if due - start >= self.duration_s or due >= self._stop_at:
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await slots.acquire()
                task = asyncio.create_task(self._send(http, next(kinds)))
                task.add_done_callback(lambda _t: slots.release())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if self._tasks:
                await asyncio.gather(*self._tasks)

    async def _send(self, http: httpx.AsyncClient, kind: str) -> None:
        seq = next_seq()
        if kind == "email":
            raw, message_id = email_message(seq, self.run_id)
            item = Input(seq, kind, "imap", message_id, self.scenario, time.time())
            self.inputs.append(item)
            await self._until_accepted(item, lambda: self._append(raw))
            return
        provider, build = WEBHOOK_BUILDERS[kind]
        request, provider_id = build(self.endpoints, seq)
        item = Input(seq, kind, provider, provider_id, self.scenario, time.time())
        self.inputs.append(item)
        await self._until_accepted(item, lambda: self._post(http, request))

    async def _until_accepted(
        self, item: Input, attempt: Callable[[], Awaitable[str | None]]
    ) -> None:
        """Retry after 0.2 s doubling to 1 s (not the 5 s Retry-After: finer recovery times)."""
        deadline = time.monotonic() + self.give_up_s
        delay = 0.2
        while time.monotonic() < deadline:
            item.attempts += 1
            try:
                verdict = await attempt()
            except Exception as exc:  # connection refused/reset, timeouts, IMAP aborts
                verdict = f"{type(exc).__name__}: {exc}"[:200]
            if verdict is None:
                item.accepted_at = time.time()
                return
            item.last_error = verdict
            if verdict.startswith("HTTP 4"):
                return  # the provider would not retry a 4xx either: refused, not accepted
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 2)

    async def _post(self, http: httpx.AsyncClient, request: Request) -> str | None:
        response = await http.post(request.url, content=request.content, headers=request.headers)
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}: {response.text[:120]}"

    async def _append(self, raw: bytes) -> str | None:
        return await append_mail(self.endpoints, raw)


async def append_mail(ep: Endpoints, raw: bytes) -> str | None:
    """IMAP APPEND on a fresh session; None when the server said OK, else why not."""
    client = aioimaplib.IMAP4(host=ep.imap_host, port=ep.imap_port, timeout=10)
    try:
        await client.wait_hello_from_server()
        login = await client.login(ep.imap_user, ep.imap_password)
        if login.result != "OK":
            return f"IMAP login {login.result}"
        response = await client.append(raw, mailbox="INBOX")
        if response.result != "OK":
            return f"IMAP APPEND {response.result}: {response.lines}"
        return None
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.logout(), 3)
