"""The API's one error table: each refusal of the service answers one HTTP status."""

from __future__ import annotations

import pytest

from libs.common.privacy.identifiers import InvalidIdentifier
from services.router.api.errors import STATUS_OF, http_error, status_of
from services.router.configuration import ConfigError
from services.router.domain.lifecycle import InvalidTransition
from services.router.service.agents import NotFound
from services.router.service.api_keys import UnknownKey
from services.router.service.attachments import Forbidden
from services.router.service.csat import InvalidToken, TokenExpired
from services.router.service.erasure import ErasureUnavailable


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (NotFound("conversation c1 not found"), 404),
        (UnknownKey("key k1"), 404),
        (Forbidden("not your queue"), 403),
        (InvalidToken("forged"), 403),
        (TokenExpired("expired"), 410),
        (InvalidTransition("resolved -> resolved"), 409),
        (ErasureUnavailable("no hash key"), 409),
        (InvalidIdentifier("not an e-mail"), 422),
        (ConfigError("bad rules"), 422),
    ],
)
def test_each_refusal_has_its_status_and_keeps_its_message(exc, code):
    error = http_error(exc)
    assert (error.status_code, error.detail) == (code, str(exc))


def test_a_subclass_is_listed_before_its_base():
    kinds = [kind for kind, _ in STATUS_OF]
    for i, kind in enumerate(kinds):
        assert not any(issubclass(kind, earlier) for earlier in kinds[:i]), kind


def test_an_exception_outside_the_table_is_not_turned_into_a_refusal():
    with pytest.raises(TypeError, match="ValueError"):
        status_of(ValueError("a bug, not a refusal"))
