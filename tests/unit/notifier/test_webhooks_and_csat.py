"""Webhook requests and CSAT links: signatures a receiver can check."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import aiosmtplib
import pytest

from libs.common.webhooks.signatures import verify_hmac_sha256
from services.notifier.csat import rating_links, verify_rating_link
from services.notifier.errors import PermanentDeliveryError, TransientDeliveryError
from services.notifier.samples import sample_events
from services.notifier.smtp import classify
from services.notifier.webhook_targets import WebhookTarget
from services.notifier.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    delivery_id_for,
    raise_for_status,
    signed_json_request,
    slack_request,
)

NOW = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
SIGNED = WebhookTarget(name="audit", url="https://audit.example/h", secret="whsec-1")
SLACK = WebhookTarget(name="ops", kind="slack", url="https://hooks.slack.example/T/B/tok")


def test_signed_json_body_verifies_with_the_shared_helper():
    event = sample_events()["support.conversation.escalated"]
    request = signed_json_request(SIGNED, event=event, event_id="ev-1", now=NOW)
    assert verify_hmac_sha256(
        "whsec-1", request.body, request.headers[SIGNATURE_HEADER], prefix="sha256="
    )
    assert not verify_hmac_sha256(
        "other", request.body, request.headers[SIGNATURE_HEADER], prefix="sha256="
    )
    document = json.loads(request.body)
    assert document["delivery_id"] == request.headers[DELIVERY_HEADER] == request.delivery_id
    assert document["timestamp"] == int(NOW.timestamp()) == int(request.headers[TIMESTAMP_HEADER])
    assert document["event_type"] == "support.conversation.escalated"
    assert document["conversation"]["reference"] == "C-1234"
    assert document["data"]["to_queue"] == "payments-escalated"
    assert "출금이 안 됩니다" in request.body.decode()  # UTF-8, not \\u escapes


def test_delivery_id_is_stable_per_event_and_target():
    assert delivery_id_for("ev-1", "audit") == delivery_id_for("ev-1", "audit")
    assert delivery_id_for("ev-1", "audit") != delivery_id_for("ev-1", "ops")
    assert delivery_id_for("ev-1", "audit") != delivery_id_for("ev-2", "audit")


def test_slack_request_is_plain_text_json():
    request = slack_request(SLACK, text="hello", event_id="ev-1")
    assert json.loads(request.body) == {"text": "hello"}
    assert request.url == "https://hooks.slack.example/T/B/tok"


def test_target_url_is_secret_in_reprs():
    assert "tok" not in repr(SLACK)


@pytest.mark.parametrize("status", [200, 201, 204])
def test_success_statuses(status):
    raise_for_status("t", status)


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503])
def test_transient_statuses(status):
    with pytest.raises(TransientDeliveryError):
        raise_for_status("t", status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_permanent_statuses(status):
    with pytest.raises(PermanentDeliveryError):
        raise_for_status("t", status)


def test_smtp_reply_codes_are_classified():
    assert isinstance(
        classify(aiosmtplib.SMTPResponseException(550, "no such user")), PermanentDeliveryError
    )
    assert isinstance(
        classify(aiosmtplib.SMTPResponseException(451, "try later")), TransientDeliveryError
    )
    refused = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(550, "unknown", "a@b.example")]
    )
    assert isinstance(classify(refused), PermanentDeliveryError)
    assert isinstance(classify(aiosmtplib.SMTPServerDisconnected("gone")), TransientDeliveryError)
    auth = aiosmtplib.SMTPAuthenticationError(535, "bad credentials")
    assert isinstance(classify(auth), TransientDeliveryError)  # configuration, not this mail


def test_rating_links_are_signed_per_score():
    links = rating_links("https://desk.example/csat", "k", "conv-1", "tok")
    assert [link.score for link in links] == [1, 2, 3, 4, 5]
    sig5 = links[4].url.rsplit("sig=", 1)[1]
    assert verify_rating_link("k", "conv-1", 5, "tok", sig5)
    assert not verify_rating_link("k", "conv-1", 1, "tok", sig5)  # score tampered
    assert not verify_rating_link("k", "conv-2", 5, "tok", sig5)
    assert not verify_rating_link("other", "conv-1", 5, "tok", sig5)
    assert not verify_rating_link("k", "conv-1", 6, "tok", sig5)
