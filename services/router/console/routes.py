"""/console pages. Every action calls the same service function as the REST API."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from services.router.api.attachments import attachment_file
from services.router.console import queries, reports
from services.router.console.attachments import AttachmentLine, line_of
from services.router.console.auditing import ConsoleAction
from services.router.console.i18n import LOCALES, choose_locale, translator
from services.router.console.live import LiveFeed
from services.router.console.sessions import (
    BadSession,
    Session,
    csrf_token,
    csrf_valid,
    decode_session,
    encode_session,
    new_session,
)
from services.router.console.settings import ConsoleSettings
from services.router.console.sla import countdown, format_left
from services.router.domain.assignment import AgentStatus
from services.router.domain.lifecycle import InvalidTransition
from services.router.service import conversations as ops
from services.router.service import replies
from services.router.service.agents import NotFound, set_agent_status
from services.router.service.api_keys import authenticate
from services.router.service.assistant_flow import ANSWER_KIND, HANDOFF_KIND, RESOLVED_KIND
from services.router.service.assistant_report import AssistantReport, assistant_report
from services.router.service.attachments import (
    Forbidden,
    attachment_for,
    blob_path,
    conversation_attachments,
    delivery,
)
from services.router.service.context import RouterContext, system_clock
from services.router.service.reporting import conversation_detail

HERE = Path(__file__).parent
SESSION_COOKIE = "omnidesk_console"
LOGIN_CSRF_COOKIE = "omnidesk_console_login"
LOCALE_COOKIE = "omnidesk_console_lang"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
CHANNEL_ICONS = {"email": "✉", "chat": "💬", "phone": "☎"}
#: Timeline rows the router writes for the assistant's events (by kind, which only the
#: router sets: a customer whose display name is "assistant" gets no badge).
ASSISTANT_KINDS = frozenset({ANSWER_KIND, HANDOFF_KIND, RESOLVED_KIND})

router = APIRouter(prefix="/console", include_in_schema=False)


class Redirect(Exception):
    def __init__(self, url: str) -> None:
        self.url = url


class Refused(Exception):
    def __init__(self, status: int, message_key: str, detail: str = "") -> None:
        self.status, self.message_key, self.detail = status, message_key, detail


@dataclass
class Page:
    """What every signed-in page has: the context, the viewer, their session and locale."""

    request: Request
    ctx: RouterContext
    viewer: queries.Viewer
    session: Session
    locale: str
    settings: ConsoleSettings

    @property
    def csrf(self) -> str:
        return csrf_token(self.session, _secret(self.settings))

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return render(self.request, template, status, page=self, locale=self.locale, **values)

    async def audit(
        self, action: str, *, conversation_id: str | None = None, agent_id: str | None = None
    ) -> ConsoleAction:
        """Begin this action's audit row (see ``auditing``)."""
        return await ConsoleAction.begin(
            self.ctx,
            self.request,
            self.viewer.key,
            action,
            conversation_id=conversation_id,
            agent_id=agent_id,
        )


def _settings(request: Request) -> ConsoleSettings:
    return request.app.state.console_settings


def _secret(settings: ConsoleSettings) -> bytes:
    return settings.session_secret.get_secret_value().encode()


def _context(request: Request) -> RouterContext:
    runtime = request.app.state.runtime
    if runtime is None or runtime.ctx is None:
        raise Refused(503, "not_found", "router is starting")
    return runtime.ctx


def templates(request: Request) -> Jinja2Templates:
    return request.app.state.console_templates


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    locale = values.get("locale") or choose_locale(request.cookies.get(LOCALE_COOKIE), None)
    values.setdefault("page", None)
    response = templates(request).TemplateResponse(
        request,
        template,
        {"t": translator(locale), "locale": locale, **values},
        status_code=status,
    )
    return _secure_headers(response)


def _secure_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def _secure_cookie(request: Request, settings: ConsoleSettings) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    return (
        settings.secure_cookies
        or request.url.scheme == "https"
        or (settings.trust_forwarded_proto and forwarded == "https")
    )


def _set_cookie(request: Request, response: Response, name: str, value: str, **kw: Any) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=_secure_cookie(request, _settings(request)),
        path="/console",
        **kw,
    )


async def page(request: Request) -> Page:
    ctx = _context(request)
    settings = _settings(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Redirect("/console/login")
    try:
        session = decode_session(
            cookie,
            _secret(settings),
            now=system_clock(),  # sessions live in wall time; ctx.clock is the desk's (SLA) time
            max_age=timedelta(hours=settings.session_hours),
        )
    except BadSession:
        raise Redirect("/console/login") from None
    viewer = await queries.viewer_for(ctx, session.key_id)
    if viewer is None:  # the key was revoked: the session ends with it
        raise Redirect("/console/login")
    locale = choose_locale(
        request.cookies.get(LOCALE_COOKIE), viewer.agent.locale if viewer.agent else None
    )
    current = Page(request, ctx, viewer, session, locale, settings)
    request.state.console_page = current  # error pages keep the header and language
    return current


async def form_of(request: Request, current: Page) -> dict[str, str]:
    """The posted form, refused (403) unless it carries this session's CSRF token."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if not csrf_valid(current.session, _secret(current.settings), values.get("csrf")):
        raise Refused(403, "csrf_refused")
    return values


def back(url: str, **params: str) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(f"{url}?{query}" if query else url, status_code=303)


# -- sign-in --------------------------------------------------------------------------


@router.get("/login")
async def login_form(request: Request, failed: bool = False) -> Response:
    token = secrets.token_urlsafe(24)  # double-submit: the form and a cookie must agree
    response = render(request, "login.html", login_csrf=token, failed=failed)
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    ctx = _context(request)
    form = await request.form()
    given, expected = form.get("csrf"), request.cookies.get(LOGIN_CSRF_COOKIE)
    if not (isinstance(given, str) and expected and secrets.compare_digest(given, expected)):
        raise Refused(403, "csrf_refused")
    api_key = form.get("api_key")
    found = await authenticate(ctx, api_key.strip()) if isinstance(api_key, str) else None
    if found is None or found.revoked_at is not None:
        if found is not None:  # a known but revoked key: worth a row; unknown keys are not
            await (await ConsoleAction.begin(ctx, request, found, "sign_in")).done("revoked")
        return back("/console/login", failed="1")
    await (await ConsoleAction.begin(ctx, request, found, "sign_in")).done()
    session = new_session(found.id, system_clock())
    response = back("/console/inbox")
    _set_cookie(
        request,
        response,
        SESSION_COOKIE,
        encode_session(session, _secret(_settings(request))),
        max_age=int(_settings(request).session_hours * 3600),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    current = await page(request)
    await form_of(request, current)
    await (await current.audit("sign_out")).done()
    response = back("/console/login")
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


@router.post("/locale")
async def switch_locale(request: Request) -> Response:
    current = await page(request)
    form = await form_of(request, current)
    locale = form.get("locale", "")
    response = back(form.get("next", "/console/inbox") if _local(form.get("next")) else "/console")
    if locale in LOCALES:
        _set_cookie(request, response, LOCALE_COOKIE, locale, max_age=365 * 86400)
    return response


def _local(url: str | None) -> bool:
    return bool(url) and url.startswith("/console") and "//" not in url  # type: ignore[union-attr]


@router.get("")
async def home() -> RedirectResponse:
    return RedirectResponse("/console/inbox", status_code=303)


# -- inbox ----------------------------------------------------------------------------


def _inbox_filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    breached = {"yes": True, "no": False}.get(q.get("breached", ""))
    return {
        "channel": q.get("channel") or None,
        "queue": q.get("queue") or None,
        "status": q.get("status") or None,
        "language": q.get("language") or None,
        "breached": breached,
    }


async def _inbox_rows(current: Page) -> dict[str, Any]:
    filters = _inbox_filters(current.request)
    rows, total = await queries.inbox(
        current.ctx, current.viewer, filters, limit=current.settings.page_size
    )
    times = await queries.clock_times(current.ctx, [c.id for c in rows])
    now = current.ctx.clock()
    items = []
    for c in rows:
        warning_at, breach_at = times.get(c.id, (None, None))
        due = countdown(now, warning_at=warning_at, breach_at=breach_at, breached=c.breached)
        items.append({"c": c, "sla": due, "left": format_left(due.seconds_left)})
    return {"items": items, "total": total, "now": now, "icons": CHANNEL_ICONS}


@router.get("/inbox")
async def inbox_page(request: Request) -> Response:
    current = await page(request)
    rows = await _inbox_rows(current)
    queues = [q.name for q in current.ctx.config.current.policies.queues]
    return current.render(
        "inbox.html",
        filters=request.query_params,
        queues=queues if current.viewer.supervisor else current.viewer.queues,
        **rows,
    )


@router.get("/inbox/rows")
async def inbox_rows(request: Request) -> Response:
    current = await page(request)
    return current.render("inbox_rows.html", **(await _inbox_rows(current)))


@router.get("/events")
async def events(request: Request) -> Response:
    """Server-Sent Events: routing events of the conversations this viewer may see."""
    current = await page(request)
    if request.app.state.console_live is None:  # one feed per process, made on first use
        request.app.state.console_live = LiveFeed(current.ctx, poll_s=current.settings.live_poll_s)
    feed: LiveFeed = request.app.state.console_live
    viewer = current.viewer

    def visible(event: Any) -> bool:
        if viewer.supervisor:
            return True
        mine = viewer.agent is not None and event.assignee_id == viewer.agent.id
        return mine or event.queue in viewer.queues

    async def stream() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        queue = feed.subscribe()
        ends = loop.time() + current.settings.live_stream_max_s
        try:
            yield "retry: 1000\n\n"
            while loop.time() < ends and not await request.is_disconnected():
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=5)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if visible(event):
                    yield event.sse()
        finally:
            feed.unsubscribe(queue)

    response = StreamingResponse(stream(), media_type="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"
    return _secure_headers(response)


# -- conversation ---------------------------------------------------------------------


async def _visible_conversation(current: Page, conversation_id: str) -> tuple[Any, list[Any]]:
    try:
        conversation, timeline = await conversation_detail(current.ctx, conversation_id)
    except NotFound:
        raise Refused(404, "not_found") from None
    if not current.viewer.may_see(conversation):
        raise Refused(403, "forbidden", "forbidden_detail")
    return conversation, timeline


async def _timeline_values(current: Page, conversation_id: str) -> dict[str, Any]:
    conversation, timeline = await _visible_conversation(current, conversation_id)
    times = await queries.clock_times(current.ctx, [conversation.id])
    warning_at, breach_at = times.get(conversation.id, (None, None))
    due = countdown(
        current.ctx.clock(),
        warning_at=warning_at,
        breach_at=breach_at,
        breached=conversation.breached,
    )
    pending = any(
        e.kind == "reply" and e.detail.get("state") in ("queued", "accepted", "sent")
        for e in timeline
    )
    return {
        "c": conversation,
        "timeline": timeline,
        "texts": await queries.message_texts(current.ctx, conversation.id),
        "sla": due,
        "left": format_left(due.seconds_left),
        "pending": pending,
        "icons": CHANNEL_ICONS,
        "assistant_kinds": ASSISTANT_KINDS,
    }


@router.get("/conversations/{conversation_id}")
async def conversation_page(request: Request, conversation_id: str) -> Response:
    current = await page(request)
    values = await _timeline_values(current, conversation_id)
    card = await queries.contact_card(current.ctx, values["c"])
    agents = [a for a, _ in await queries.agents_board(current.ctx)]
    queues = [q.name for q in current.ctx.config.current.policies.queues]
    return current.render(
        "conversation.html",
        card=card,
        attachments=await _attachment_lines(current, conversation_id),
        agents=agents,
        queues=queues,
        error=request.query_params.get("error", ""),
        **values,
    )


async def _attachment_lines(current: Page, conversation_id: str) -> list[AttachmentLine] | None:
    """None when the viewer may see the conversation but not its queue's attachments
    (an assignee outside the queue): the service's queue rule decides, not the page."""
    try:
        rows = await conversation_attachments(current.ctx, conversation_id, current.viewer.key)
    except Forbidden:
        return None
    return [line_of(row) for row in rows]


@router.get("/attachments/{attachment_id}")
async def download_attachment(request: Request, attachment_id: str) -> Response:
    """The bytes, as ``GET /attachments/{id}`` serves them, for a signed-in console user."""
    current = await page(request)
    action = await current.audit("attachment")
    try:
        row = await attachment_for(current.ctx, attachment_id, current.viewer.key)
    except NotFound:
        await action.done("404")
        raise Refused(404, "not_found") from None
    except Forbidden:
        await action.done("403")
        raise Refused(403, "forbidden", "forbidden_detail") from None
    serve = delivery(row)
    path = blob_path(current.ctx.blob_stores, serve.sha256)
    if path is None:
        raise Refused(410, "not_found", "bytes not kept (erased, or past retention)")
    # Reading personal data is recorded like a change, as in the API.
    action.touching(row.conversation_id)
    await action.done(attachment=row.id)
    return attachment_file(path, serve)


@router.get("/conversations/{conversation_id}/timeline")
async def conversation_timeline(request: Request, conversation_id: str) -> Response:
    current = await page(request)
    return current.render("timeline.html", **(await _timeline_values(current, conversation_id)))


async def _acting_on(request: Request, conversation_id: str) -> tuple[Page, dict[str, str], str]:
    current = await page(request)
    form = await form_of(request, current)
    await _visible_conversation(current, conversation_id)
    return current, form, f"/console/conversations/{conversation_id}"


@router.post("/conversations/{conversation_id}/reply")
async def reply(request: Request, conversation_id: str) -> Response:
    current, form, url = await _acting_on(request, conversation_id)
    action = await current.audit("reply", conversation_id=conversation_id)
    if current.viewer.agent is None:
        await action.done("refused: no agent")
        return back(url, error="replies are sent by an agent; sign in with an agent's key")
    try:
        await replies.request_reply(
            current.ctx,
            conversation_id,
            agent_id=current.viewer.agent.id,
            text=form.get("text", ""),
        )
    except replies.ReplyRefused as exc:
        await action.done(f"refused: {exc.refusal.code}")
        return back(url, error=f"{exc.refusal.code}: {exc.refusal.detail}")
    except (NotFound, InvalidTransition) as exc:
        await action.done(f"refused: {type(exc).__name__}")
        return back(url, error=str(exc))
    await action.done()
    return back(url)


async def _performed(
    action: ConsoleAction, url: str, operation: Awaitable[object], *refusals: type[Exception]
) -> Response:
    """A form's service call: refused → back to the page with the reason; audited either way."""
    try:
        await operation
    except refusals as exc:
        await action.done(f"refused: {type(exc).__name__}")
        return back(url, error=str(exc))
    await action.done()
    return back(url)


@router.post("/conversations/{conversation_id}/transfer")
async def transfer(request: Request, conversation_id: str) -> Response:
    current, form, url = await _acting_on(request, conversation_id)
    to_agent, to_queue = form.get("to_agent") or None, form.get("to_queue") or None
    if to_agent is None and to_queue is None:
        return back(url, error="name an agent or a queue")
    note = form.get("note", "").strip()
    by = current.viewer.name + (f" — {note[:200]}" if note else "")
    action = await current.audit("transfer", conversation_id=conversation_id)
    transferred = ops.transfer(
        current.ctx, conversation_id, to_agent=to_agent, to_queue=to_queue, by=by
    )
    return await _performed(action, url, transferred, NotFound, InvalidTransition, ValueError)


@router.post("/conversations/{conversation_id}/resolve")
async def resolve(request: Request, conversation_id: str) -> Response:
    current, _, url = await _acting_on(request, conversation_id)
    action = await current.audit("resolve", conversation_id=conversation_id)
    resolved = ops.resolve(current.ctx, conversation_id, by=current.viewer.name)
    return await _performed(action, url, resolved, NotFound, InvalidTransition)


@router.post("/conversations/{conversation_id}/reopen")
async def reopen(request: Request, conversation_id: str) -> Response:
    current, _, url = await _acting_on(request, conversation_id)
    action = await current.audit("reopen", conversation_id=conversation_id)
    if not current.viewer.supervisor:  # as the REST API: reopening needs a supervisor
        await action.done("403")
        raise Refused(403, "forbidden")
    reopened = ops.reopen(current.ctx, conversation_id, by=current.viewer.name)
    return await _performed(action, url, reopened, NotFound, InvalidTransition)


# -- agents board ---------------------------------------------------------------------


async def _supervisor(request: Request) -> Page:
    current = await page(request)
    if not current.viewer.supervisor:
        raise Refused(403, "forbidden")
    return current


@router.get("/agents")
async def agents_page(request: Request) -> Response:
    current = await _supervisor(request)
    board = await queries.agents_board(current.ctx)
    return current.render(
        "agents.html",
        board=board,
        statuses=[s.value for s in AgentStatus],
        error=request.query_params.get("error", ""),
    )


@router.post("/agents/{agent_id}/status")
async def agent_status(request: Request, agent_id: str) -> Response:
    current = await _supervisor(request)
    form = await form_of(request, current)
    action = await current.audit("agent_status", agent_id=agent_id)
    try:
        await set_agent_status(current.ctx, agent_id, AgentStatus(form.get("status", "")))
    except (NotFound, ValueError) as exc:
        await action.done(f"refused: {type(exc).__name__}")
        return back("/console/agents", error=str(exc))
    await action.done()
    return back("/console/agents")


@router.post("/agents/{agent_id}/requeue")
async def agent_requeue(request: Request, agent_id: str) -> Response:
    """Hand an agent's open work back to its queues (a transfer to the same queue each)."""
    current = await _supervisor(request)
    await form_of(request, current)
    action = await current.audit("requeue", agent_id=agent_id)
    moved: list[str] = []
    for conversation_id in await queries.open_work_of(current.ctx, agent_id):
        conversation, _ = await conversation_detail(current.ctx, conversation_id)
        try:
            await ops.transfer(
                current.ctx,
                conversation_id,
                to_agent=None,
                to_queue=conversation.queue,
                by=f"{current.viewer.name} (re-queued {agent_id}'s work)",
            )
        except (NotFound, InvalidTransition, ValueError) as exc:
            await action.done(f"refused: {type(exc).__name__}", requeued=moved)
            return back("/console/agents", error=str(exc))
        moved.append(conversation_id)
    await action.done(requeued=moved)
    return back("/console/agents")


# -- reports --------------------------------------------------------------------------


def _report_days(current: Page) -> int:
    return max(1, min(int(current.request.query_params.get("days", "28") or 28), 366))


async def _assistant_report(current: Page) -> AssistantReport:
    """What ``GET /reports/assistant`` serves, over the page's period (all queues:
    the assistant's report is not split by queue or channel)."""
    until = current.ctx.clock()
    return await assistant_report(
        current.ctx, since=until - timedelta(days=_report_days(current)), until=until
    )


async def _report_tables(current: Page) -> tuple[dict[str, reports.Table], float | None]:
    q = current.request.query_params
    days = _report_days(current)
    facts = await queries.report_facts(
        current.ctx,
        since=current.ctx.clock() - timedelta(days=days),
        queue=q.get("queue") or None,
        channel=q.get("channel") or None,
    )
    first, promise = reports.first_response_distribution(facts)
    tables = {
        "volume": reports.volume_heatmap(facts),
        "first_response": first,
        "trends": reports.daily_trends(facts),
    }
    return tables, promise


@router.get("/reports")
async def reports_page(request: Request) -> Response:
    current = await _supervisor(request)
    tables, promise = await _report_tables(current)
    t = translator(current.locale)
    trends = tables["trends"].rows
    first = tables["first_response"].rows
    charts = {
        "volume": reports.heatmap_svg(tables["volume"], t("volume")),
        "first_response": reports.bars_svg(
            [str(r[0]) for r in first],
            [float(r[1]) for r in first],
            t("first_response"),
            marker=reports.promise_bucket(promise),
        ),
        "sla": reports.bars_svg(
            [str(r[0])[5:] for r in trends],
            [round(float(r[2]) * 100, 1) if r[2] != "" else 0.0 for r in trends],
            t("sla_trend"),
        ),
        "csat": reports.bars_svg(
            [str(r[0])[5:] for r in trends],
            [float(r[3]) if r[3] != "" else 0.0 for r in trends],
            t("csat_trend"),
        ),
        "resolution": reports.bars_svg(
            [str(r[0])[5:] for r in trends],
            [round(float(r[5]) * 100, 1) for r in trends],
            t("resolution_rate"),
        ),
    }
    queues = [q.name for q in current.ctx.config.current.policies.queues]
    return current.render(
        "reports.html",
        charts=charts,
        promise=promise,
        filters=request.query_params,
        queues=queues,
        query=request.url.query,
        assistant=await _assistant_report(current),
    )


@router.get("/reports/{name}.csv")
async def report_csv(request: Request, name: str) -> Response:
    current = await _supervisor(request)
    tables, _ = await _report_tables(current)
    tables["assistant"] = reports.assistant_table(await _assistant_report(current))
    if name not in tables:
        raise Refused(404, "not_found")
    return _secure_headers(
        Response(
            tables[name].csv(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    )


# -- mounting -------------------------------------------------------------------------


def mount_console(app: FastAPI, settings: ConsoleSettings | None = None) -> None:
    """Add /console to the router's app (pages, static files, error pages, live feed)."""
    app.state.console_settings = settings or ConsoleSettings()
    app.state.console_templates = Jinja2Templates(directory=HERE / "templates")
    app.state.console_live = None
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.exception_handler(Redirect)
    async def _redirect(request: Request, exc: Redirect) -> Response:
        return RedirectResponse(exc.url, status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        current = getattr(request.state, "console_page", None)
        if current is not None:
            return current.render("refused.html", exc.status, refusal=exc)
        return render(request, "refused.html", exc.status, refusal=exc)
