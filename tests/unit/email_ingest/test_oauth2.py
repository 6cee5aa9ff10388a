"""The pure parts of the OAuth2 refresh grant: request form, response reading, expiry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.email_ingest.mailboxes import MailboxConfig
from services.email_ingest.oauth2 import (
    AccessToken,
    GrantRefused,
    TokenEndpointError,
    read_token_response,
    refresh_form,
)

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
BASE = {"id": "kr", "host": "imap.gmail.com", "username": "help@desk.example", "auth": "xoauth2"}
REFRESH = {
    "oauth2_token_endpoint": "https://oauth2.googleapis.com/token",
    "oauth2_client_id": "id",
    "oauth2_refresh_token": "1//rt",
}


def _body(**values: object) -> bytes:
    return json.dumps(values).encode()


def test_form_of_rfc6749_section_6_with_client_secret_post():
    assert refresh_form(refresh_token="r", client_id="c", client_secret="s", scope=None) == {
        "grant_type": "refresh_token",
        "refresh_token": "r",
        "client_id": "c",
        "client_secret": "s",
    }
    public = refresh_form(refresh_token="r", client_id="c", client_secret=None, scope="a b")
    assert "client_secret" not in public and public["scope"] == "a b"


def test_success_gives_the_token_its_expiry_and_a_rotated_refresh_token():
    body = _body(access_token="ya29.a", token_type="Bearer", expires_in=3599, refresh_token="n")
    response = read_token_response("kr", 200, body, now=NOW)
    assert response.access_token == AccessToken("ya29.a", NOW + timedelta(seconds=3599))
    assert response.refresh_token == "n"


def test_missing_expires_in_assumes_an_hour():
    response = read_token_response("kr", 200, _body(access_token="a", token_type="bearer"), now=NOW)
    assert response.access_token.expires_at == NOW + timedelta(hours=1)
    assert response.refresh_token is None


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, "invalid_grant"), (401, "invalid_client"), (400, "unauthorized_client"),
     (400, "invalid_scope")],
)  # fmt: skip
def test_refusals_are_permanent_and_say_which_mailbox(status, error):
    body = _body(error=error, error_description="Token has been expired or revoked.")
    with pytest.raises(GrantRefused, match=rf"mailbox kr: .*{error}: Token has been"):
        read_token_response("kr", status, body, now=NOW)


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, b"<html>oops</html>"), (503, b""), (429, _body(error="rate_limited")),
     (200, b"not json"), (200, _body(token_type="Bearer"))],
)  # fmt: skip
def test_server_trouble_is_transient(status, body):
    with pytest.raises(TokenEndpointError):
        read_token_response("kr", status, body, now=NOW)


def test_a_non_bearer_token_is_refused():
    with pytest.raises(GrantRefused):
        read_token_response("kr", 200, _body(access_token="a", token_type="mac"), now=NOW)


def test_oauthbearer_initial_response_of_rfc7628():
    from base64 import b64decode

    from services.email_ingest.imap.session import oauthbearer_initial_response

    encoded = oauthbearer_initial_response("help,desk=kr@x.example", "imap.x", 993, "ya29.t")
    assert b64decode(encoded) == (
        b"n,a=help=2Cdesk=3Dkr@x.example,\x01host=imap.x\x01port=993\x01auth=Bearer ya29.t\x01\x01"
    )


def test_usable_until_the_margin():
    token = AccessToken("a", NOW + timedelta(minutes=10))
    assert token.usable(NOW, timedelta(minutes=5))
    assert not token.usable(NOW + timedelta(minutes=5, seconds=1), timedelta(minutes=5))


def test_mailbox_with_the_refresh_grant():
    config = MailboxConfig(**BASE, **REFRESH)
    assert config.refreshes_oauth2


@pytest.mark.parametrize(
    "override",
    [
        {"oauth2_client_id": None},
        {"oauth2_refresh_token": None},
        {"oauth2_token_endpoint": "http://oauth2.example.com/token"},  # not https
        {"oauth2_token_endpoint": "http://127.0.0.1.evil.example/token"},
        {"oauth2_token_file": "/run/token"},  # two token sources
    ],
)
def test_refresh_grant_configuration_is_checked_at_start(override):
    with pytest.raises(ValidationError):
        MailboxConfig(**BASE, **{**REFRESH, **override})


def test_loopback_http_endpoint_is_allowed_for_tests():
    config = MailboxConfig(**BASE, **{**REFRESH, "oauth2_token_endpoint": "http://127.0.0.1:9/t"})
    assert config.refreshes_oauth2


async def test_readyz_names_the_mailbox_stopped_by_a_refused_grant():
    from types import SimpleNamespace

    from libs.common.health import run_checks
    from services.email_ingest.bootstrap import readiness_checks

    def watcher(mailbox_id: str, failure: Exception | None):  # type: ignore[no-untyped-def]
        return SimpleNamespace(
            mailbox=SimpleNamespace(id=mailbox_id), connected=failure is None, failure=failure
        )

    async def kafka() -> bool:
        return True

    refused = GrantRefused("mailbox kr: OAuth2 refresh refused (invalid_grant)")
    watchers = [watcher("kr", refused), watcher("en", None)]
    status = await run_checks(readiness_checks(kafka, watchers))  # type: ignore[arg-type]
    assert status.status == "not ready"
    assert status.checks == {
        "kafka": "ok",
        "mailboxes": "ok",
        "mailbox kr": "failing: GrantRefused",
        "mailbox en": "ok",
    }
