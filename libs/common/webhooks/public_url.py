"""The URL a provider called, as seen from outside a reverse proxy.

Twilio signs the public URL, so behind a proxy or load balancer the URL the
app sees must be rebuilt from ``X-Forwarded-*`` — but only when the proxy is
trusted, otherwise any client could choose the URL that is checked.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from starlette.requests import Request

from libs.common.webhooks.errors import MalformedPayload


def _first(value: str | None) -> str | None:
    # Several proxies append: "client-proto, proxy-proto"; the first is the client's.
    if not value:
        return None
    return value.split(",", 1)[0].strip() or None


def public_url(
    request: Request, *, trust_forwarded: bool = False, base_url: str | None = None
) -> str:
    """Full URL including the query string.

    ``base_url`` (e.g. ``https://hooks.example.com``) wins when configured;
    else ``X-Forwarded-Proto/Host/Port`` when ``trust_forwarded``; else what
    the server saw.
    """
    try:
        url = _public_url(request, trust_forwarded=trust_forwarded, base_url=base_url)
        valid = _forms_a_url(url)
    except ValueError:
        valid = False
    if not valid:  # a Host header that is not a host
        raise MalformedPayload("Host / X-Forwarded-* headers do not form a URL")
    return url


@lru_cache(maxsize=256)
def _forms_a_url(url: str) -> bool:
    """A host and a port that is one. Cached: a route's callbacks come to the same few
    URLs (urlsplit, its port and hostname: ~2 µs each time)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        return False
    return bool(parts.hostname)


def _public_url(request: Request, *, trust_forwarded: bool, base_url: str | None) -> str:
    path = request.url.path
    query = request.url.query
    tail = path + (f"?{query}" if query else "")
    if base_url:
        return base_url.rstrip("/") + tail
    scheme = request.url.scheme
    netloc = request.url.netloc
    if trust_forwarded:
        scheme = _first(request.headers.get("x-forwarded-proto")) or scheme
        host = _first(request.headers.get("x-forwarded-host"))
        port = _first(request.headers.get("x-forwarded-port"))
        if host:
            netloc = host
        if port and port.isdigit():
            netloc = _with_port(netloc, scheme, int(port))
    return f"{scheme}://{netloc}{tail}"


def _with_port(netloc: str, scheme: str, port: int) -> str:
    hostname = urlsplit(f"//{netloc}").hostname or netloc
    if ":" in hostname:
        hostname = f"[{hostname}]"
    default = {"https": 443, "http": 80}.get(scheme)
    return hostname if port == default else f"{hostname}:{port}"
