"""The demo's assistant step (issue #13): one routine question answered, another handed over.

Two new Telegram customers write to the dev integration ``faq`` (the sample rules put
it in the ``faq`` queue, whose policy lets the assistant answer first):

- "OTP 재설정 어떻게 해요?" → the assistant's answer arrives on Telegram (the local
  sink) with its buttons; the conversation stays with the assistant, no agent.
- "계속 출금이 안 되는데 사기 아닌가요? 금감원에 신고할게요" → a complaint: the
  assistant hands it to a person at once; the router assigns an agent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tools.demo.scenario import DemoRun, DemoTarget

Say = Callable[[str], None]
INTEGRATION = "faq"
ROUTINE = "OTP 재설정 어떻게 해요?"
COMPLAINT = "계속 출금이 안 되는데 사기 아닌가요? 금감원에 신고할게요"
WAIT_S = 60.0


async def assistant_step(
    http: httpx.AsyncClient, target: DemoTarget, run: DemoRun, say: Say
) -> None:
    from tools.demo.scenario import post_telegram_update

    routine_user = run.customers.telegram_user + 1
    complaint_user = run.customers.telegram_user + 2
    for offset, (user, text) in enumerate(((routine_user, ROUTINE), (complaint_user, COMPLAINT))):
        update = _message(int(run.run_id) % 1_000_000_000 + 10 + offset, user, text)
        response = await post_telegram_update(http, target, INTEGRATION, update)
        run.customer_keys.add(f"telegram:{user}")
        say(f"A. Telegram ({INTEGRATION}) from telegram:{user}: {text!r} → {response.status_code}")
    answer = await _wait(lambda: _sink_messages(target, routine_user))
    if answer:
        say(f"   the assistant answered telegram:{routine_user} on Telegram: {answer[-1]}")
    else:
        say("   … no answer on Telegram after 60 s (is the assistant running? `dev up` starts it)")
    assigned = await _wait(lambda: _assigned(http, target, run, complaint_user))
    if assigned:
        say(
            f"   telegram:{complaint_user} handed to a person: {assigned['reference']} "
            f"assigned to {assigned['assignee_id']} ({assigned['queue']} queue); "
            f"first response due {assigned['first_response_due_at']} (clock from the message)"
        )
    else:
        say("   … the complaint was not assigned after 60 s (is an agent online?)")
    report = await http.get(
        f"{target.router_url}/reports/assistant", headers={"X-API-Key": target.api_key}
    )
    if report.status_code == 200:
        body = report.json()
        say(
            f"   GET /reports/assistant: offered {body['offered']}, resolved {body['resolved']}, "
            f"handed off {body['handed_off']} {body['handoff_reasons']}"
        )


def _message(update_id: int, user: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id % 1_000_000,
            "from": {"id": user, "is_bot": False, "first_name": "고객", "language_code": "ko"},
            "chat": {"id": user, "type": "private"},
            "date": int(time.time()),
            "text": text,
        },
    }


async def _wait(probe: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = probe()
        if asyncio.iscoroutine(found):
            found = await found
        if found:
            return found
        await asyncio.sleep(0.5)
    return None


def _sink_messages(target: DemoTarget, user: int) -> list[str]:
    from tools.demo.scenario import sink_messages

    return [
        f"{text.splitlines()[0]} … {buttons}".strip()
        for text, buttons in sink_messages(target, user)
    ]


async def _assigned(
    http: httpx.AsyncClient, target: DemoTarget, run: DemoRun, user: int
) -> dict[str, Any] | None:
    from tools.demo.scenario import _conversation_of as conversation_of

    conversation = await conversation_of(target, f"telegram:{user}", run)
    if conversation is None:
        return None
    response = await http.get(
        f"{target.router_url}/conversations/{conversation}", headers={"X-API-Key": target.api_key}
    )
    detail = response.json()
    return detail if detail.get("assignee_id") else None
