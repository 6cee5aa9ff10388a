"""Web-chat visitor tokens: issued per visitor, verified in constant time with expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from libs.providers.integrations import Integration, Provider
from libs.providers.webchat.visitor import (
    InvalidVisitorToken,
    _b64,
    _claims_json,
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


@settings(max_examples=300)
@given(
    integration_id=st.text(max_size=40),
    visitor_id=st.text(max_size=200),
    expires=st.integers(min_value=0, max_value=2**40),
)
def test_claims_are_the_bytes_json_dumps_made(
    integration_id: str, visitor_id: str, expires: int
) -> None:
    """The claims are formatted without json.dumps: the same text for any ids (quotes,
    control characters, non-ASCII, surrogates), so tokens read as before."""
    expected = json.dumps(
        {"i": integration_id, "v": visitor_id, "exp": expires},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert _claims_json(integration_id, visitor_id, expires) == expected


def test_a_token_is_the_one_the_json_dumps_version_issued() -> None:
    token = issue_visitor_token(SITE, 'visitor "42" é', now=NOW)
    claims = json.dumps(
        {"i": "site", "v": 'visitor "42" é', "exp": int((NOW + timedelta(hours=24)).timestamp())},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    signed = "v1." + base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    mac = hmac.new(b"k" * 32, signed.encode(), hashlib.sha256).digest()
    assert token == signed + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


@settings(max_examples=100)
@given(
    accepted=st.integers(0, 5),
    duplicates=st.integers(0, 5),
    ignored=st.integers(0, 5),
    event_ids=st.lists(st.text(max_size=40), max_size=5),
)
def test_the_webchat_answer_is_the_json_it_was(
    accepted: int, duplicates: int, ignored: int, event_ids: list[str]
) -> None:
    """``answer`` copies the ack's fields from its __dict__: same body as via model_dump."""
    from libs.providers.webchat.inbound import WebchatAck, WebchatMessage, answer
    from libs.providers.webhooks import InboundOptions, Parsed, WebhookAck

    ack = WebhookAck(accepted=accepted, duplicates=duplicates, ignored=ignored, event_ids=event_ids)
    message = WebchatMessage(message_id="m1", visitor={"id": "visitor-42"})
    got = answer(Parsed(payload=(message, NOW)), ack, SITE, InboundOptions())
    token = issue_visitor_token(SITE, "visitor-42", now=NOW)
    before = WebchatAck(**ack.model_dump(), visitor_token=token)
    assert isinstance(got.body, WebchatAck)
    assert got.body.model_dump_json() == before.model_dump_json()
    assert got.status_code == 202


@given(st.binary(max_size=200))
def test_b64_is_urlsafe_b64encode_unpadded(data):
    assert _b64(data) == base64.urlsafe_b64encode(data).rstrip(b"=").decode()
