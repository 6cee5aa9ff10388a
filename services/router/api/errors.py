"""The service's refusals and the HTTP status each means, in one table for the whole API.

Endpoints let these exceptions rise; the handlers installed by :func:`install_error_handlers`
answer ``{"detail": <the exception's message>}`` with the status of the table (the shape
FastAPI gives an ``HTTPException``). An endpoint that must act on the refusal itself (audit
a refused download) asks :func:`http_error` for the same answer. The CSAT pages answer in
HTML and keep their own refusals.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse

from libs.common.privacy.identifiers import InvalidIdentifier
from services.router.configuration import ConfigError
from services.router.domain.lifecycle import InvalidTransition
from services.router.service.agents import NotFound
from services.router.service.api_keys import UnknownKey
from services.router.service.attachments import Forbidden
from services.router.service.config_reload import ReloadNotAudited
from services.router.service.csat import InvalidToken, TokenExpired
from services.router.service.erasure import ErasureUnavailable

#: (exception, status), the first match wins: subclasses before their bases.
STATUS_OF: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, status.HTTP_404_NOT_FOUND),
    (UnknownKey, status.HTTP_404_NOT_FOUND),
    (Forbidden, status.HTTP_403_FORBIDDEN),
    (TokenExpired, status.HTTP_410_GONE),  # an InvalidToken: first
    (InvalidToken, status.HTTP_403_FORBIDDEN),
    (InvalidTransition, status.HTTP_409_CONFLICT),
    (ErasureUnavailable, status.HTTP_409_CONFLICT),
    (InvalidIdentifier, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (ConfigError, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (ReloadNotAudited, status.HTTP_503_SERVICE_UNAVAILABLE),  # the running config is kept
)


def status_of(exc: Exception) -> int:
    for kind, code in STATUS_OF:
        if isinstance(exc, kind):
            return code
    raise TypeError(f"{type(exc).__name__} has no HTTP status in STATUS_OF") from exc


def http_error(exc: Exception) -> HTTPException:
    return HTTPException(status_of(exc), str(exc))


async def _answer(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status_of(exc))


def install_error_handlers(app: FastAPI) -> None:
    for kind, _ in STATUS_OF:
        app.add_exception_handler(kind, _answer)
