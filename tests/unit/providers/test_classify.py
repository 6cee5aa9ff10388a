"""Every provider's ``classify``: documented answers → accepted / retry / permanent."""

from __future__ import annotations

import pytest

from libs.providers import channeltalk, kakao, line, slack, telegram, twilio, whatsapp
from libs.providers.outbound import SendVerdict
from libs.providers.sending import retry_after_s

ACCEPTED, RETRY, PERMANENT = SendVerdict.ACCEPTED, SendVerdict.RETRY, SendVerdict.PERMANENT


def graph(code: int, message: str = "x") -> dict:
    return {"error": {"message": message, "type": "OAuthException", "code": code}}


CASES = [
    # (module, status, body, headers, verdict, error_code, provider id / retry hint)
    (
        telegram.outbound,
        200,
        {"ok": True, "result": {"message_id": 9, "chat": {"id": 42}}},
        {},
        ACCEPTED,
        None,
        "42:9",
    ),
    (
        telegram.outbound,
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        },
        {},
        RETRY,
        "rate_limited",
        7.0,
    ),
    (
        telegram.outbound,
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
        {},
        PERMANENT,
        "blocked_by_user",
        None,
    ),
    (
        telegram.outbound,
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
        {},
        PERMANENT,
        "invalid_recipient",
        None,
    ),
    (
        telegram.outbound,
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
        {},
        PERMANENT,
        "bad_token",
        None,
    ),
    (telegram.outbound, 502, "Bad Gateway", {}, RETRY, "provider_unavailable", 5.0),
    (
        whatsapp.outbound,
        200,
        {"messaging_product": "whatsapp", "messages": [{"id": "wamid.A"}]},
        {},
        ACCEPTED,
        None,
        "wamid.A",
    ),
    (
        whatsapp.outbound,
        400,
        graph(131047, "(#131047) Re-engagement message"),
        {},
        PERMANENT,
        "window_closed",
        None,
    ),
    (whatsapp.outbound, 401, graph(190), {}, PERMANENT, "bad_token", None),
    (whatsapp.outbound, 429, graph(130429), {"retry-after": "3"}, RETRY, "rate_limited", 3.0),
    (whatsapp.outbound, 500, graph(131000), {}, RETRY, "provider_unavailable", 5.0),
    (whatsapp.outbound, 400, graph(131026), {}, PERMANENT, "invalid_recipient", None),
    (twilio.outbound, 201, {"sid": "SM1", "status": "queued"}, {}, ACCEPTED, None, "SM1"),
    (
        twilio.outbound,
        400,
        {"code": 21211, "message": "Invalid 'To' Phone Number"},
        {},
        PERMANENT,
        "invalid_recipient",
        None,
    ),
    (
        twilio.outbound,
        400,
        {"code": 21610, "message": "unsubscribed"},
        {},
        PERMANENT,
        "unsubscribed",
        None,
    ),
    (
        twilio.outbound,
        401,
        {"code": 20003, "message": "Authenticate"},
        {},
        PERMANENT,
        "bad_token",
        None,
    ),
    (
        twilio.outbound,
        429,
        {"code": 20429, "message": "Too Many Requests"},
        {"retry-after": "2"},
        RETRY,
        "rate_limited",
        2.0,
    ),
    (line.outbound, 200, {"sentMessages": [{"id": "4611"}]}, {}, ACCEPTED, None, "4611"),
    (
        line.outbound,
        400,
        {"message": "Invalid reply token"},
        {},
        PERMANENT,
        "invalid_reply_token",
        None,
    ),
    (
        line.outbound,
        409,
        {"message": "The retry key is already accepted"},
        {"x-line-accepted-request-id": "r-1"},
        ACCEPTED,
        None,
        "request:r-1",
    ),
    (
        line.outbound,
        429,
        {"message": "The API rate limit has been exceeded."},
        {"retry-after": "4"},
        RETRY,
        "rate_limited",
        4.0,
    ),
    (
        line.outbound,
        429,
        {"message": "You have reached your monthly limit."},
        {},
        PERMANENT,
        "quota_exceeded",
        None,
    ),
    (line.outbound, 401, {"message": "Authentication failed."}, {}, PERMANENT, "bad_token", None),
    (slack.outbound, 200, {"ok": True, "channel": "C1", "ts": "1.2"}, {}, ACCEPTED, None, "1.2"),
    (
        slack.outbound,
        200,
        {"ok": False, "error": "channel_not_found"},
        {},
        PERMANENT,
        "invalid_recipient",
        None,
    ),
    (slack.outbound, 200, {"ok": False, "error": "invalid_auth"}, {}, PERMANENT, "bad_token", None),
    (
        slack.outbound,
        429,
        {"ok": False, "error": "ratelimited"},
        {"retry-after": "30"},
        RETRY,
        "rate_limited",
        30.0,
    ),
    (channeltalk.outbound, 200, {"message": {"id": "m1"}}, {}, ACCEPTED, None, "m1"),
    (
        channeltalk.outbound,
        404,
        {"errors": [{"message": "userChat not found"}]},
        {},
        PERMANENT,
        "invalid_recipient",
        None,
    ),
    (
        channeltalk.outbound,
        401,
        {"errors": [{"message": "bad key"}]},
        {},
        PERMANENT,
        "bad_token",
        None,
    ),
    (kakao.outbound, 200, {"taskId": "t1", "status": "SUCCESS"}, {}, ACCEPTED, None, "t1"),
    (
        kakao.outbound,
        400,
        {"status": "FAIL", "message": "callback expired"},
        {},
        PERMANENT,
        "callback_expired",
        None,
    ),
]


@pytest.mark.parametrize(("module", "status", "body", "headers", "verdict", "code", "extra"), CASES)
def test_classify(module, status, body, headers, verdict, code, extra) -> None:  # type: ignore[no-untyped-def]
    outcome = module.classify(status, body, headers)
    assert outcome.verdict is verdict
    assert outcome.error_code == code
    assert outcome.http_status == status
    if verdict is ACCEPTED:
        assert outcome.provider_message_id == extra
    if verdict is RETRY:
        assert outcome.retry_after_s == extra


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_s({"retry-after": "12"}) == 12.0
    assert retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after_s({"retry-after": "soon"}) is None
    # digits outside ASCII are not delta-seconds (hypothesis found "¹": isdigit, not float)
    assert retry_after_s({"retry-after": "¹"}) is None
    assert retry_after_s({"retry-after": "٣"}) is None
    assert retry_after_s({}) is None
