"""The compose stack's smoke test, through its published ports only (run by compose-smoke.sh).

1. every service answers /readyz with 200;
2. a signed web-chat message → chat_ingest → Kafka → router (routed, assigned to the one
   online agent) → notifier → the agent's "assigned" mail arrives in Mailpit (its HTTP API);
3. a mail sent into GreenMail's SMTP → email_ingest (IMAPS) → Kafka → router: the
   conversation with that subject exists in the router API.
Exits non-zero, saying which step, when anything fails.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import smtplib
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, TypeVar

import httpx

HOST = "127.0.0.1"  # the ports .ci/compose-smoke.override.yaml publishes
READY = {
    "router": 18080,
    "chat_ingest": 18081,
    "phone_log": 18082,
    "email_ingest": 19101,
    "notifier": 19102,
    "assistant": 19104,
}
MAILPIT, GREENMAIL_SMTP = 18025, 13025
ROUTER = f"http://{HOST}:{READY['router']}"
AGENT = "agent-smith"  # the only agent we bring online: every assignment goes to them
SUPPORT_ADDRESS = "support@omnidesk.local"  # GreenMail's user in deploy/compose.yaml

T = TypeVar("T")


class SmokeFailure(RuntimeError):
    pass


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 90.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(1.0)
    raise SmokeFailure(f"{what}: not seen within {timeout:.0f}s")


def check_ready(http: httpx.Client) -> None:
    for service, port in READY.items():
        response = http.get(f"http://{HOST}:{port}/readyz")
        print(f"  {service:<13} /readyz on :{port} → {response.status_code}")
        if response.status_code != 200:
            raise SmokeFailure(
                f"{service} /readyz answered {response.status_code}: {response.text}"
            )


def conversations(http: httpx.Client, key: str) -> list[dict[str, Any]]:
    response = http.get(
        f"{ROUTER}/conversations", params={"limit": 200}, headers={"X-API-Key": key}
    )
    response.raise_for_status()
    return response.json()["items"]


def webchat_flow(http: httpx.Client, key: str, chat_secret: str) -> None:
    response = http.put(
        f"{ROUTER}/agents/{AGENT}/status", json={"status": "online"}, headers={"X-API-Key": key}
    )
    response.raise_for_status()
    agent_email = response.json()["email"]
    visitor = f"smoke-{uuid.uuid4().hex[:8]}"
    body = json.dumps(
        {
            "message_id": f"msg-{uuid.uuid4().hex}",
            "visitor": {"id": visitor, "name": "Smoke Visitor", "locale": "en-US"},
            "text": "Hello, my withdrawal has been pending for an hour. Can you help?",
            "sent_at": datetime.now(UTC).isoformat(),
        }
    ).encode()
    signature = "sha256=" + hmac.new(chat_secret.encode(), body, hashlib.sha256).hexdigest()
    response = http.post(
        f"http://{HOST}:{READY['chat_ingest']}/webhooks/webchat/smoke/messages",
        content=body,
        headers={"Content-Type": "application/json", "X-Omnidesk-Signature": signature},
    )
    print(f"  signed web-chat message from {visitor} → HTTP {response.status_code}")
    if response.status_code != 202:
        raise SmokeFailure(f"webchat webhook answered {response.status_code}: {response.text}")

    def assigned() -> dict[str, Any] | None:
        for conv in conversations(http, key):
            if conv["provider"] == "webchat" and conv["assignee_id"] == AGENT:
                return conv
        return None

    conv = wait_for("web-chat conversation assigned to " + AGENT, assigned)
    print(f"  routed: {conv['reference']} queue={conv['queue']} assigned to {AGENT}")

    def agent_mail() -> dict[str, Any] | None:
        response = http.get(f"http://{HOST}:{MAILPIT}/api/v1/messages", params={"limit": 200})
        response.raise_for_status()
        for message in response.json().get("messages", []):
            to = {addr["Address"] for addr in message.get("To") or []}
            if agent_email in to and conv["reference"] in message.get("Subject", ""):
                return message
        return None

    mail = wait_for(f"the notifier's mail to {agent_email} in Mailpit", agent_mail)
    print(f"  Mailpit has the agent's mail: to {agent_email}, subject {mail['Subject']!r}")


def email_flow(http: httpx.Client, key: str) -> None:
    subject = f"Smoke test {uuid.uuid4().hex[:8]}: deposit not credited"
    message = EmailMessage()
    message["From"] = f"Smoke Customer <customer-{uuid.uuid4().hex[:6]}@example.com>"
    message["To"] = SUPPORT_ADDRESS
    message["Subject"] = subject
    message["Message-ID"] = f"<smoke-{uuid.uuid4().hex}@example.com>"
    message.set_content("Hello,\n\nmy deposit from this morning is not credited yet.\n")
    with smtplib.SMTP(HOST, GREENMAIL_SMTP, timeout=15) as smtp:
        smtp.send_message(message)
    print(f"  mail {subject!r} sent to {SUPPORT_ADDRESS} via GreenMail SMTP :{GREENMAIL_SMTP}")

    def routed() -> dict[str, Any] | None:
        return next((c for c in conversations(http, key) if c["subject"] == subject), None)

    conv = wait_for("the mail's conversation in the router", routed)
    print(
        f"  email_ingest → topic → router: {conv['reference']} channel={conv['channel']} "
        f"queue={conv['queue']} assignee={conv['assignee_id']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--admin-key", required=True)
    parser.add_argument("--chat-secret", required=True)
    args = parser.parse_args()
    steps = [
        ("every service /readyz", lambda http: check_ready(http)),
        (
            "web chat → routing → agent mail in Mailpit",
            lambda http: webchat_flow(http, args.admin_key, args.chat_secret),
        ),
        ("GreenMail SMTP → email_ingest → routed", lambda http: email_flow(http, args.admin_key)),
    ]
    with httpx.Client(timeout=10) as http:
        for name, step in steps:
            started = time.monotonic()
            print(f"-- {name}")
            try:
                step(http)
            except (SmokeFailure, httpx.HTTPError, OSError) as exc:
                print(f"FAILED: {name}: {exc}", file=sys.stderr)
                return 1
            print(f"   ok in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
