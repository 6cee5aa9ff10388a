"""``WebhookFront.dispatch`` builds the usual route's arguments inline (its path's named
groups, the request, its request-only dependencies): the same arguments ``_arguments``
gives, for every fast route of both webhook services."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from libs.common.webhooks import fast_routes
from libs.common.webhooks.fastpath import _arguments
from services.chat_ingest.routes import provider_router
from services.phone_log.routes import webhook_router


async def _dependency(request: Request) -> object:
    return ("dependency of", id(request))


def _routes() -> list:
    return fast_routes([provider_router(), webhook_router()])


@pytest.mark.parametrize("route", _routes(), ids=lambda r: r.pattern.pattern)
async def test_inline_arguments_are_arguments(route):
    # a path the route matches: each group given a value of its own
    path = route.pattern.pattern.removeprefix("^").removesuffix("$")
    for n, name in enumerate(route.pattern.groupindex):
        path = path.replace(f"(?P<{name}>[^/]+)", f"value-{n}")
    match = route.pattern.match(path)
    assert match is not None, path
    scope = {"type": "http", "method": "POST", "path": path, "query_string": b"", "headers": []}
    request = Request(scope)
    route = route.__class__(
        **{**route.__dict__, "dependencies": tuple((n, _dependency) for n, _ in route.dependencies)}
    )
    if not (route.groups_are_params and not route.query_params):
        pytest.skip("goes through _arguments")
    inline = match.groupdict()
    inline[route.request_param] = request
    for name, dependency in route.dependencies:
        inline[name] = await dependency(request)
    assert inline == await _arguments(route, match, request)


def test_the_usual_routes_take_the_inline_way():
    routes = _routes()
    assert routes and all(r.groups_are_params for r in routes)
