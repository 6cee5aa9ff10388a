"""The console in a real browser against the real system on the real broker.

Headless Debian chromium (Playwright, ``executable_path``), the router's production app
served over a socket, chat_ingest receiving signed WhatsApp webhooks, the notifier sending
to the strict WhatsApp fixture, all over a real Kafka broker.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ThreadHints,
)
from services.router.service.replies import replies_of
from tests.browser.conftest import SCREENSHOTS
from tests.browser.system import ConsoleSystem, console_system
from tests.e2e.two_way import eventually
from tests.integration.router.helpers import publish, published

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

WA_ID = "821055507777"
HOSTILE = (
    '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    "\u202eexe.gnp 배송 문의드립니다 "
)


async def sign_in(page, system: ConsoleSystem, who: str) -> None:
    await page.goto(f"{system.console_url}/login")
    await page.fill("#api-key", system.keys[who])
    await page.click("#sign-in")
    await page.wait_for_url("**/console/inbox")


async def breached(system: ConsoleSystem, conversation_id: str) -> bool:
    assert system.runtime.ctx is not None
    async with system.runtime.ctx.uow.reader() as uow:
        conversation = await uow.conversations.get(conversation_id)
    return conversation is not None and bool(conversation.breached)


async def test_agent_works_a_whatsapp_conversation_end_to_end(
    kafka_topics, tmp_path, smtp_port, browser_session
):
    async with console_system(kafka_topics, tmp_path, smtp_port) as system:
        await system.online("agent-lee")
        lee = await browser_session("lee")
        await sign_in(lee, system, "agent-lee")
        await lee.wait_for_selector("#live-state.connected")

        # A signed webhook arrives; the inbox shows it without a reload, within 2 s.
        started = time.monotonic()
        await system.whatsapp_message(WA_ID, "Kim Min-jun", "주문한 상품 배송 문의드립니다")
        row = await lee.wait_for_selector("tr.conversation", timeout=2000)
        print(f"webhook -> inbox row: {time.monotonic() - started:.2f}s")
        conversation_id = await row.get_attribute("data-id")
        assert await lee.evaluate("performance.getEntriesByType('navigation').length") == 1

        # Open it and reply; the WhatsApp fixture receives it; a status webhook says delivered.
        await lee.click(f"tr.conversation[data-id='{conversation_id}'] a")
        await lee.wait_for_selector("#reply-text")
        await lee.fill("#reply-text", "배송은 내일 도착 예정입니다.")
        await lee.click("#reply-send")
        await lee.wait_for_selector(".entry-reply")
        ctx = system.runtime.ctx

        async def accepted():
            rows = await replies_of(ctx, conversation_id)
            return next((r for r in rows if r.provider_message_id), None)

        reply = await eventually(accepted, "the reply accepted by WhatsApp")
        sent = [r.body for r in system.fakes.whatsapp.accepted]
        assert any(b.get("text", {}).get("body") == "배송은 내일 도착 예정입니다." for b in sent)
        await lee.wait_for_selector(".entry-reply[data-reply-state='accepted']")
        await system.whatsapp_delivered(reply.provider_message_id, WA_ID)
        await lee.wait_for_selector(".entry-reply[data-reply-state='delivered']", timeout=10_000)

        # Transfer to a colleague with a note; the colleague's own session sees it arrive.
        await system.online("agent-park")
        park = await browser_session("park")
        await sign_in(park, system, "agent-park")
        await park.wait_for_selector("#live-state.connected")
        await lee.select_option("#transfer-agent", "agent-park")
        await lee.fill("#transfer-form input[name=note]", "배송팀 확인 필요")
        await lee.click("#transfer-send")
        await lee.wait_for_selector("#conversation-assignee:has-text('agent-park')")
        await park.wait_for_selector(
            f"tr.conversation[data-id='{conversation_id}'] td:has-text('agent-park')",
            timeout=5000,
        )
        await park.click(f"tr.conversation[data-id='{conversation_id}'] a")
        await park.wait_for_selector(".entry-event:has-text('배송팀 확인 필요')")

        # Resolve.
        await park.click("#resolve")
        await park.wait_for_selector("#conversation-status:has-text('resolved')")

        # Screenshots for the README: the supervisor's view in Korean, then English.
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        lead = await browser_session("lead")
        await system.whatsapp_message("821055508888", "Choi", "비밀번호 재설정이 안 됩니다")
        await sign_in(lead, system, "supervisor")
        for locale in ("ko", "en"):
            if locale == "en":
                await lead.click("#switch-locale")
                await lead.wait_for_selector("html[lang=en]")
            await lead.goto(f"{system.console_url}/inbox?status=")
            await lead.wait_for_selector("tr.conversation")
            await lead.screenshot(path=SCREENSHOTS / f"inbox-{locale}.png", full_page=True)
            await lead.goto(f"{system.console_url}/conversations/{conversation_id}")
            await lead.screenshot(path=SCREENSHOTS / f"conversation-{locale}.png", full_page=True)
            await lead.goto(f"{system.console_url}/agents")
            await lead.screenshot(path=SCREENSHOTS / f"agents-{locale}.png", full_page=True)
            await lead.goto(f"{system.console_url}/reports")
            await lead.wait_for_selector(".chart svg")
            await lead.screenshot(path=SCREENSHOTS / f"reports-{locale}.png", full_page=True)
        csv = await lead.request.get(f"{system.console_url}/reports/volume.csv")
        assert csv.ok and (await csv.text()).startswith("channel,weekday,hour,opened")


def hostile_mail(text: str) -> Interaction:
    now = datetime.now(UTC)
    return Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(email="mallory@example.com", display_name="\u202emallory"),
        subject="<b>bold?</b> 문의",
        body=MessageBody(text=text),
        thread=ThreadHints(message_id="hostile-1@mail"),
    )


async def test_hostile_text_access_csrf_and_the_sla_countdown(
    kafka_topics, tmp_path, smtp_port, browser_session
):
    async with console_system(kafka_topics, tmp_path, smtp_port) as system:
        await system.online("agent-lee")
        long_line = "가" * 100_000  # one unbroken line; the contract keeps 32,000 chars
        await publish(kafka_topics, [published(hostile_mail(HOSTILE + long_line))])
        lee = await browser_session("lee")
        await sign_in(lee, system, "agent-lee")
        row = await lee.wait_for_selector("tr.conversation", timeout=30_000)
        conversation_id = await row.get_attribute("data-id")

        # Hostile customer text renders as text: no script ran, no image element, wrapped.
        await lee.goto(f"{system.console_url}/conversations/{conversation_id}")
        message = lee.locator(".entry-interaction .message").first
        assert "<script>" in await message.inner_text()
        assert await lee.evaluate("window.__pwned") is None
        assert await lee.locator(".message img").count() == 0
        assert await message.get_attribute("dir") == "auto"
        assert await message.evaluate("e => getComputedStyle(e).unicodeBidi") == "isolate"
        fits = await message.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        assert fits, "the 100 kB line must wrap, not widen the page"
        csp = (await lee.request.get(lee.url)).headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp

        # A form posted without its CSRF token is refused and changes nothing.
        refused = await lee.request.post(
            f"{system.console_url}/conversations/{conversation_id}/resolve", form={}
        )
        assert refused.status == 403
        await lee.reload()
        assert await lee.inner_text("#conversation-status") != "resolved"

        # An agent of other queues gets the 403 page (ko-support is not Alex Smith's).
        smith = await browser_session("smith")
        await sign_in(smith, system, "agent-smith")
        assert await smith.locator(f"tr.conversation[data-id='{conversation_id}']").count() == 0
        answer = await smith.goto(f"{system.console_url}/conversations/{conversation_id}")
        assert answer is not None and answer.status == 403
        assert await smith.inner_text("h1.refused") == "403 — You cannot open this page."

        # Signing out ends the session.
        await smith.click("#sign-out")
        await smith.wait_for_url("**/console/login")
        await smith.goto(f"{system.console_url}/inbox")
        assert smith.url.endswith("/console/login")

        # The SLA countdown: green now, amber after the warning time, red after the breach.
        sla = f"tr.conversation[data-id='{conversation_id}'] .sla"
        await lee.goto(f"{system.console_url}/inbox")
        await lee.wait_for_selector(f"{sla}.sla-ok")
        warning = datetime.fromisoformat(await lee.get_attribute(sla, "data-warning"))
        breach = datetime.fromisoformat(await lee.get_attribute(sla, "data-breach"))
        system.clock.advance(seconds=(warning - system.clock()).total_seconds() + 5)
        await lee.reload()
        await lee.wait_for_selector(f"{sla}.sla-warning")
        # Past the breach the scheduler escalates it (the policy moves it to the escalations
        # queue and may reassign it, so it can leave Lee's inbox): whether a reload came
        # before or after that was a race the scheduler sometimes won. Wait until the breach
        # is recorded, then look where the conversation is now: the supervisor's inbox.
        system.clock.advance(seconds=(breach - system.clock()).total_seconds() + 5)
        await eventually(lambda: breached(system, conversation_id), "the breach recorded")
        lead = await browser_session("kim")
        await sign_in(lead, system, "supervisor")
        await lead.wait_for_selector(f"{sla}.sla-breach")
        await lead.goto(f"{system.console_url}/conversations/{conversation_id}")
        await lead.wait_for_selector("#sla.sla-breach")
