"""Direct dispatch of webhook POSTs to their endpoint functions.

FastAPI's per-request routing, dependency solving and exception middleware
measured ~60% of the CPU of a webhook request here (about 0.3 ms of 0.55 ms,
app only). Webhook routes read their raw body themselves and return a
``Response``, so they need none of it: an ASGI layer in front of the app's
middleware stack (``install_fast_path``) matches the POST path against the
routes' own regexes and calls the same endpoint function with the path
parameters, optional query strings, the ``Request`` and request-only
dependencies. Everything else (GET, docs, probes, routes that need FastAPI's
validation) passes through to FastAPI unchanged, and the routes stay declared
there, so the OpenAPI document is the same.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from libs.common.webhooks.errors import PROVIDER_STATE, WebhookError, reject
from libs.common.webhooks.metrics import webhook_seconds
from libs.common.webhooks.whole_answer import answer_whole, whole_cycle

RequestDependency = Callable[[Request], Awaitable[Any]]

#: ``FastAPI(telemetry=…)`` for the webhook apps. FastAPI's native OpenTelemetry
#: asks, on every request, whether a tracer, meter or logger provider has been
#: configured (~3 µs per request, measured with timeit). omnidesk configures
#: none (Prometheus metrics, JSON logs), so the answer is always no: say so once.
TELEMETRY_OFF: dict[str, Any] = {"tracing": False, "metrics": False, "logs": False}


@dataclass(frozen=True)
class FastRoute:
    pattern: re.Pattern[str]
    endpoint: Callable[..., Awaitable[Response]]
    request_param: str
    path_params: tuple[str, ...]
    query_params: tuple[tuple[str, str], ...]  # (parameter name, query alias)
    dependencies: tuple[tuple[str, RequestDependency], ...]
    #: the path's named groups are exactly ``path_params``: ``match.groupdict()`` is the
    #: path arguments
    groups_are_params: bool = False
    #: the route's path up to its first parameter (``/webhooks/webchat/``): every path
    #: its pattern matches starts with it (``RouteHeads``)
    head: str = ""


def fast_routes(routers: Iterable[APIRouter]) -> list[FastRoute]:
    """The POST routes that can be dispatched directly; the others are left to FastAPI."""
    found = []
    for router in routers:
        for route in router.routes:
            fast = _fast_route(route)
            if fast is not None:
                found.append(fast)
    return found


def _fast_route(route: Any) -> FastRoute | None:
    if not isinstance(route, APIRoute) or route.methods != {"POST"}:
        return None
    dependant = route.dependant
    if dependant.header_params or dependant.cookie_params or dependant.body_params:
        return None
    if dependant.request_param_name is None:
        return None
    if any(field.field_info.is_required() for field in dependant.query_params):
        return None
    dependencies = []
    for sub in dependant.dependencies:
        if not _request_only(sub) or sub.name is None:
            return None
        dependencies.append((sub.name, sub.call))
    return FastRoute(
        pattern=route.path_regex,
        endpoint=route.endpoint,
        request_param=dependant.request_param_name,
        path_params=tuple(p.name for p in dependant.path_params),
        query_params=tuple((q.name, q.alias) for q in dependant.query_params),
        dependencies=tuple(dependencies),
        groups_are_params=set(route.path_regex.groupindex)
        == {p.name for p in dependant.path_params},
        head=route.path_format.partition("{")[0],
    )


class RouteHeads:
    """The fast routes by their path's head, so that a path is tried against the one
    route whose head it starts with, not against each route's pattern in turn.

    Trying the patterns in order cost a failed ``re.match`` (~1 K instructions) per route
    before the one that matches: chat_ingest's web-chat route is its eighth, 13.3 K
    instructions to find (callgrind); by its head ~5 K. A route's pattern is its path
    with each ``{parameter}`` made a group, the text before the first one literal, so
    only a path that starts with a route's head can match it. The index is used when
    every head is a whole number of segments (ends with ``/``) and has as many as the
    others: then a path's first that many segments name the only routes that can match
    it, in their order (``WebhookFront.matching``). Otherwise (``segments`` None) the
    routes are tried in order, as before."""

    def __init__(self, routes: list[FastRoute]) -> None:
        heads = {route.head for route in routes}
        depths = {head.count("/") for head in heads}
        self.segments: int | None = None
        self.by_head: dict[str, list[FastRoute]] = {}
        if len(depths) == 1 and all(head.endswith("/") for head in heads):
            self.segments = depths.pop()
            for route in routes:
                self.by_head.setdefault(route.head, []).append(route)


def _request_only(sub: Any) -> bool:
    """An async dependency that takes just the Request and needs nothing else."""
    others = (
        sub.path_params,
        sub.query_params,
        sub.header_params,
        sub.cookie_params,
        sub.body_params,
        sub.dependencies,
    )
    return (
        sub.request_param_name is not None
        and not any(others)
        and inspect.iscoroutinefunction(sub.call)
    )


ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


class WebhookFront:
    """The app's outermost ASGI layer (``install_fast_path``): matching POSTs go straight
    to their endpoint function, timed into ``omnidesk_webhook_seconds``; everything else
    goes through the app's own middleware stack.

    As a middleware inside that stack the fast path still ran through
    Starlette's server-error middleware (and its ``send`` wrapper), FastAPI's exception
    telemetry and body-limit layers and the timing middleware: four coroutines more per
    request, each crossed again whenever the request resumes (the Kafka ack). The fast
    path does their part itself: it times the request as ``WebhookTimingMiddleware``
    does, and a bug (any exception but a ``WebhookError``) gets the app's 500 handler's
    answer and is raised again for the server to log, as Starlette's server-error
    middleware does. Measured: see ``install_fast_path``.
    """

    def __init__(self, stack: ASGIApp, routes: list[FastRoute], on_error: ErrorHandler) -> None:
        self.stack = stack
        self.routes = routes
        self.on_error = on_error
        heads = RouteHeads(routes)
        self._segments = heads.segments
        self._by_head = heads.by_head

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.matching(scope)
        if found is None:
            await self.stack(scope, receive, send)
            return
        await self.dispatch(found[0], found[1], scope, receive, send)

    def matching(self, scope: Scope) -> tuple[FastRoute, re.Match[str]] | None:
        """The route a webhook POST goes to directly, with its path's match; None for
        anything else (not HTTP, not POST, no route's path)."""
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            segments = self._segments
            if segments is None:
                candidates = self.routes
            else:  # the routes of the path's first ``segments`` segments (RouteHeads)
                rest = path.split("/", segments)
                if len(rest) <= segments:
                    return None
                candidates = self._by_head.get(path[: len(path) - len(rest[-1])], ())
            for route in candidates:
                match = route.pattern.match(path)
                if match is not None:
                    return route, match
        return None

    async def dispatch(
        self, route: FastRoute, match: re.Match[str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        started = time.perf_counter()
        request = Request(scope, receive)
        answering = False
        try:
            try:
                # ``_arguments`` written out for the usual route (its path's groups, the
                # request, request-only dependencies, no query): no coroutine of its own
                if route.groups_are_params and not route.query_params:
                    arguments = match.groupdict()
                    arguments[route.request_param] = request
                    for name, dependency in route.dependencies:
                        arguments[name] = await dependency(request)
                else:
                    arguments = await _arguments(route, match, request)
                response = await route.endpoint(**arguments)
            except WebhookError as exc:
                response = reject(request, exc)
            answering = True
            cycle = whole_cycle(send, response)
            if cycle is not None:  # uvicorn's two sends' work in one call (whole_answer.py)
                answer_whole(cycle, response)  # type: ignore[arg-type]
            else:
                await response(scope, receive, send)
        except Exception as exc:
            if not answering:  # nothing sent yet: the app's 500 answer
                error_response = await self.on_error(request, exc)
                await error_response(scope, receive, send)
            raise
        finally:
            provider = scope.get("state", {}).get(PROVIDER_STATE)
            if provider is not None:
                webhook_seconds(provider)(time.perf_counter() - started)


def install_fast_path(app: FastAPI, routes: list[FastRoute]) -> None:
    """Put :class:`WebhookFront` in front of ``app``'s middleware stack, built now: call
    it last, once every middleware and exception handler is added (Starlette refuses
    middleware added afterwards). The app's handler of ``Exception`` answers bugs."""
    on_error = app.exception_handlers.get(Exception)
    if on_error is None:
        raise ValueError("install_fast_path needs the app's Exception handler (install it first)")
    app.middleware_stack = WebhookFront(app.build_middleware_stack(), routes, on_error)  # type: ignore[arg-type]


class WebhookDoor:
    """What the server calls (``served_app``): a webhook POST goes to the app's
    :class:`WebhookFront` dispatch directly, everything else to the app itself.

    Behind the server, a request crossed ``FastAPI.__call__`` (its root path, lifespan
    and telemetry checks, a ``super()``) and ``Starlette.__call__`` (``scope["app"]``,
    the stack) before ``WebhookFront``: three coroutine frames made for each request and
    resumed again when the Kafka ack comes, where the fast path needs one. The door
    sets ``scope["app"]`` as Starlette does (``request.app`` reads it); the app's root
    path is empty (``served_app`` keeps the app otherwise), so FastAPI sets nothing more.
    """

    def __init__(self, app: FastAPI, front: WebhookFront) -> None:
        self.app = app
        self.front = front

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.front.matching(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app
        await self.front.dispatch(found[0], found[1], scope, receive, send)


def served_app(app: FastAPI) -> ASGIApp:
    """What the server should call for ``app``: a :class:`WebhookDoor` when the app has the
    fast path installed (``install_fast_path``) and no root path; else the app itself."""
    front = app.middleware_stack
    if isinstance(front, WebhookFront) and not app.root_path:
        return WebhookDoor(app, front)
    return app


async def _arguments(route: FastRoute, match: re.Match[str], request: Request) -> dict[str, Any]:
    arguments: dict[str, Any] = {name: match.group(name) for name in route.path_params}
    arguments[route.request_param] = request
    if route.query_params:
        # Only then: parsing the query string into QueryParams cost ~2 % of a phone
        # callback's CPU in the app (cProfile), for routes that read none.
        query = request.query_params
        for name, alias in route.query_params:
            arguments[name] = query.get(alias)
    for name, dependency in route.dependencies:
        arguments[name] = await dependency(request)
    return arguments
