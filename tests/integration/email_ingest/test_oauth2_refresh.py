"""Issue #17 item 10: the built-in OAuth2 refresh grant against a strict local token
endpoint, and real XOAUTH2 logins to Dovecot with the tokens it hands out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest

from libs.common.ids import deterministic_id
from services.email_ingest import metrics
from services.email_ingest.imap.session import ImapAuthError, ImapSession, Timeouts
from services.email_ingest.mailboxes import MailboxConfig
from services.email_ingest.oauth2 import GrantRefused, TokenRefresher
from tests.helpers.waiting import eventually
from tests.integration.email_ingest.helpers import (
    count_at_least,
    event_ids,
    mailbox_config,
    make_mail,
    reader,
    running_service,
    service_settings,
)
from tests.integration.email_ingest.token_endpoint import TokenEndpoint
from tools.testing.dovecot import DovecotServer
from tools.testing.system import free_port

pytestmark = pytest.mark.integration

CLIENT_ID = "1234-desk.apps.example"
CLIENT_SECRET = "GOCSPX-test-secret"
TIMEOUTS = Timeouts(connect_s=10, command_s=10)


@pytest.fixture
def endpoint(dovecot: DovecotServer) -> Iterator[TokenEndpoint]:
    server = TokenEndpoint(
        CLIENT_ID,
        CLIENT_SECRET,
        on_issue=lambda user, token, lifetime: dovecot.add_oauth2_token(
            user, token, lifetime_s=lifetime
        ),
        lifetime_s=3,
    ).start()
    yield server
    server.stop()


def oauth2_mailbox(dovecot, user, endpoint, tmp_path, **overrides) -> dict:  # type: ignore[no-untyped-def]
    refresh_file = tmp_path / "refresh-token"
    refresh_file.write_text(endpoint.grant(user) + "\n")
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(CLIENT_SECRET + "\n")
    values = {
        "auth": "xoauth2",
        "password": None,
        "oauth2_token_endpoint": endpoint.url,
        "oauth2_client_id": CLIENT_ID,
        "oauth2_client_secret_file": str(secret_file),
        "oauth2_refresh_token_file": str(refresh_file),
    }
    return mailbox_config(dovecot, user, **{**values, **overrides})


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
async def test_refreshed_tokens_log_in_for_real_and_expired_ones_do_not(
    dovecot, imap_user, endpoint, tmp_path, mechanism
):
    config = MailboxConfig(**oauth2_mailbox(dovecot, imap_user, endpoint, tmp_path, auth=mechanism))
    async with httpx.AsyncClient(timeout=10) as http:
        refresher = TokenRefresher(config, http=http, margin=timedelta(seconds=1))
        first = await refresher.access_token()
        assert await refresher.access_token() == first  # cached while it has > margin left
        session = await ImapSession.open(config, secret=first, timeouts=TIMEOUTS)
        await session.logout()
        assert endpoint.requests == [
            {
                "grant_type": "refresh_token",
                "refresh_token": config.oauth2_refresh_token_file.read_text().strip(),
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            }
        ]
        await asyncio.sleep(3.2)  # the first token expired, at Dovecot's introspection too
        with pytest.raises(ImapAuthError):
            await ImapSession.open(config, secret=first, timeouts=TIMEOUTS)
        second = await refresher.access_token()
        assert second != first and refresher.refreshes == 2
        session = await ImapSession.open(config, secret=second, timeouts=TIMEOUTS)
        await session.select("INBOX")
        await session.logout()


async def test_refresh_ahead_of_expiry_and_rotation(dovecot, imap_user, endpoint, tmp_path):
    endpoint.rotate = True
    endpoint.lifetime_s = 60
    config = MailboxConfig(**oauth2_mailbox(dovecot, imap_user, endpoint, tmp_path))
    async with httpx.AsyncClient(timeout=10) as http:
        # 60 s tokens, refreshed once less than 59.5 s are left: every call refreshes
        refresher = TokenRefresher(config, http=http, margin=timedelta(seconds=59.5))
        await refresher.access_token()
        await asyncio.sleep(0.6)
        await refresher.access_token()
    first, second = endpoint.requests
    assert second["refresh_token"] != first["refresh_token"]  # the rotated one was used


async def test_wrong_client_secret_is_refused_for_good_without_a_retry_storm(
    dovecot, imap_user, endpoint, tmp_path
):
    config = MailboxConfig(
        **oauth2_mailbox(dovecot, imap_user, endpoint, tmp_path, oauth2_client_secret_file=None,
                         oauth2_client_secret="wrong")
    )  # fmt: skip
    async with httpx.AsyncClient(timeout=10) as http:
        refresher = TokenRefresher(config, http=http, margin=timedelta(seconds=1))
        for _ in range(5):
            with pytest.raises(GrantRefused, match="invalid_client"):
                await refresher.access_token()
    assert len(endpoint.requests) == 1


async def test_a_revoked_grant_stops_the_mailbox_on_readyz_until_the_token_is_replaced(
    dovecot, imap_user, endpoint, kafka_topics, tmp_path
):
    endpoint.lifetime_s = 2
    mailbox = oauth2_mailbox(dovecot, imap_user, endpoint, tmp_path)
    refresh_file = tmp_path / "refresh-token"
    port = free_port()
    settings = service_settings(
        kafka_topics, tmp_path, [mailbox], probe_port=port, oauth2_refresh_margin_s=1.0
    )
    readyz = f"http://127.0.0.1:{port}/readyz"
    async with (
        reader(kafka_topics, kafka_topics.topics.interactions) as topic,
        running_service(settings),
        httpx.AsyncClient(timeout=5) as probe,
    ):
        await dovecot.append(imap_user, make_mail(1))
        await topic.until(count_at_least(1))

        endpoint.revoke(refresh_file.read_text().strip())
        await asyncio.sleep(2.1)  # the cached access token is past its refresh point
        dovecot.kick(imap_user)  # the next login needs a refresh, which is refused
        check = f"mailbox {imap_user}"
        status = await _readyz_until(
            probe, readyz, lambda code, body: body["checks"].get(check) != "ok"
        )
        assert status == {
            "code": 503,
            "checks": {**status["checks"], check: "failing: GrantRefused"},
        }
        requests = len(endpoint.requests)
        await asyncio.sleep(2.5)  # reconnect_max_s is 1 s: no new request for the same grant
        assert len(endpoint.requests) == requests

        refresh_file.write_text(endpoint.grant(imap_user) + "\n")  # the operator re-consented
        await _readyz_until(probe, readyz, lambda code, body: code == 200)
        await dovecot.append(imap_user, make_mail(2))
        records = await topic.until(count_at_least(2))
    assert event_ids(records)[1] == deterministic_id("email", imap_user, "mail-2@customer.example")


async def _readyz_until(
    probe: httpx.AsyncClient, url: str, condition: Callable[[int, dict], bool]
) -> dict:
    last: dict = {}
    for _ in range(300):
        try:
            response = await probe.get(url)
        except httpx.HTTPError:
            await asyncio.sleep(0.1)
            continue
        last = {"code": response.status_code, "checks": response.json()["checks"]}
        if condition(response.status_code, response.json()):
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz never met the condition; last {last}")


async def test_a_watching_session_logs_in_again_before_its_token_expires(
    dovecot, imap_user, endpoint, kafka_topics, tmp_path
):
    endpoint.lifetime_s = 3
    mailbox = oauth2_mailbox(dovecot, imap_user, endpoint, tmp_path)
    settings = service_settings(kafka_topics, tmp_path, [mailbox], oauth2_refresh_margin_s=1.0)
    failures = metrics.CONNECTION_FAILURES.labels(imap_user, "INBOX")
    before = failures._value.get()
    async with (
        reader(kafka_topics, kafka_topics.topics.interactions) as topic,
        running_service(settings),
    ):
        await dovecot.append(imap_user, make_mail(1))
        await topic.until(count_at_least(1))
        await eventually(lambda: len(endpoint.issued) >= 3, within_s=20)  # ~every 2 s
        await dovecot.append(imap_user, make_mail(2))  # the first token is long expired
        records = await topic.until(count_at_least(2))
    assert failures._value.get() == before  # renewals are not failures
    assert event_ids(records)[1] == deterministic_id("email", imap_user, "mail-2@customer.example")
