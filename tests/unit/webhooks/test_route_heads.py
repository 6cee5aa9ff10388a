"""``WebhookFront.matching`` tries only the routes of a path's head (``RouteHeads``): the
same route and match as trying every route's pattern in order, for both webhook
services' routes and for paths made of their heads, segments and odd text."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from libs.common.webhooks import fast_routes
from libs.common.webhooks.fastpath import FastRoute, RouteHeads, WebhookFront
from services.chat_ingest.routes import provider_router
from services.phone_log.routes import webhook_router

CHAT = fast_routes([provider_router()])
PHONE = fast_routes([webhook_router()])


def _in_order(routes: list[FastRoute], path: str) -> tuple[FastRoute, dict[str, str]] | None:
    for route in routes:
        match = route.pattern.match(path)
        if match is not None:
            return route, match.groupdict()
    return None


def _matching(front: WebhookFront, path: str) -> tuple[FastRoute, dict[str, str]] | None:
    found = front.matching({"type": "http", "method": "POST", "path": path})
    return None if found is None else (found[0], found[1].groupdict())


def _heads(routes: list[FastRoute]) -> list[str]:
    return sorted({route.head for route in routes})


segment = st.sampled_from(["bench", "a%2Fb", "", "messages", "voice", "status", "x y", "é"])


def _paths(routes: list[FastRoute]) -> st.SearchStrategy[str]:
    heads = st.sampled_from([*_heads(routes), "/", "/webhooks/", "/webhooks", ""])
    tails = st.lists(segment, max_size=4).map("/".join)
    return st.builds(lambda head, tail: head + tail, heads, tails) | st.text(max_size=40)


def test_both_services_use_the_heads():
    for routes, segments in ((CHAT, 3), (PHONE, 2)):
        heads = RouteHeads(routes)
        assert heads.segments == segments
        assert sum(len(r) for r in heads.by_head.values()) == len(routes)


@given(_paths(CHAT))
def test_chat_routes_match_as_in_order(path):
    assert _matching(WebhookFront(None, CHAT, None), path) == _in_order(CHAT, path)  # type: ignore[arg-type]


@given(_paths(PHONE))
def test_phone_routes_match_as_in_order(path):
    assert _matching(WebhookFront(None, PHONE, None), path) == _in_order(PHONE, path)  # type: ignore[arg-type]


def test_every_route_found_by_its_head():
    for routes in (CHAT, PHONE):
        front = WebhookFront(None, routes, None)  # type: ignore[arg-type]
        for route in routes:
            path = route.pattern.pattern.removeprefix("^").removesuffix("$")
            path = re.sub(r"\(\?P<\w+>\[\^/\]\+\)", "v", path).replace("\\", "")
            assert _matching(front, path) == _in_order(routes, path) != None  # noqa: E711


def _route(pattern: str, head: str) -> FastRoute:
    params = tuple(re.compile(pattern).groupindex)
    return FastRoute(re.compile(pattern), None, "request", params, (), (), True, head)  # type: ignore[arg-type]


def test_heads_of_unlike_depths_fall_back_to_the_order():
    odd = [_route(r"^/a/(?P<x>[^/]+)$", "/a/"), _route(r"^/b/c/(?P<x>[^/]+)$", "/b/c/")]
    assert RouteHeads(odd).segments is None
    front = WebhookFront(None, odd, None)  # type: ignore[arg-type]
    for path in ("/a/1", "/b/c/2", "/b/c/", "/a"):
        assert _matching(front, path) == _in_order(odd, path)
    assert RouteHeads([_route(r"^/a$", "/a")]).segments is None
