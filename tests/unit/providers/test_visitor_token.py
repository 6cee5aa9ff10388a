"""Web-chat visitor tokens: issued per visitor, verified in constant time with expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from libs.providers.integrations import Integration, Provider
from libs.providers.webchat.visitor import (
    InvalidVisitorToken,
    issue_visitor_token,
    verify_visitor_token,
)

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
SITE = Integration(id="site", provider=Provider.WEBCHAT, secret=SecretStr("k" * 32))


def test_round_trip_names_the_visitor() -> None:
    token = issue_visitor_token(SITE, "visitor-42", now=NOW)
    claims = verify_visitor_token(SITE, token, now=NOW + timedelta(hours=1))
    assert (claims.integration, claims.visitor) == ("site", "visitor-42")


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), "bad_signature"),
        (lambda t: "v2" + t[2:], "malformed"),
        (lambda t: "garbage", "malformed"),
    ],
)
def test_forged_or_malformed_tokens_are_refused(mutate, reason) -> None:  # type: ignore[no-untyped-def]
    token = issue_visitor_token(SITE, "visitor-42", now=NOW)
    with pytest.raises(InvalidVisitorToken) as caught:
        verify_visitor_token(SITE, mutate(token), now=NOW)
    assert caught.value.reason == reason


def test_expired_and_other_integration_tokens_are_refused() -> None:
    token = issue_visitor_token(SITE, "visitor-42", now=NOW, ttl=timedelta(minutes=5))
    with pytest.raises(InvalidVisitorToken, match="expired"):
        verify_visitor_token(SITE, token, now=NOW + timedelta(minutes=5))
    other = SITE.model_copy(update={"id": "other"})
    with pytest.raises(InvalidVisitorToken, match="other_integration"):
        verify_visitor_token(other, token, now=NOW)
