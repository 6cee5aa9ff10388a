from datetime import UTC, datetime, timedelta

import pytest

from services.router.console.sessions import (
    BadSession,
    csrf_token,
    csrf_valid,
    decode_session,
    encode_session,
    new_session,
)

SECRET = b"unit-test-secret"
NOW = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
DAY = timedelta(hours=12)


def test_a_session_round_trips_and_names_only_the_key_id():
    session = new_session("key-1", NOW)
    cookie = encode_session(session, SECRET)
    assert decode_session(cookie, SECRET, now=NOW + timedelta(hours=1), max_age=DAY) == session


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-1] + ("0" if c[-1] != "0" else "1"),
        lambda c: "x" + c,
        lambda c: c.split(".")[0],
        lambda c: "",
    ],
)
def test_tampered_cookies_are_refused(tamper):
    cookie = encode_session(new_session("key-1", NOW), SECRET)
    with pytest.raises(BadSession):
        decode_session(tamper(cookie), SECRET, now=NOW, max_age=DAY)


def test_another_secret_or_an_old_session_is_refused():
    cookie = encode_session(new_session("key-1", NOW), SECRET)
    with pytest.raises(BadSession):
        decode_session(cookie, b"other", now=NOW, max_age=DAY)
    with pytest.raises(BadSession, match="expired"):
        decode_session(cookie, SECRET, now=NOW + DAY, max_age=DAY)
    with pytest.raises(BadSession, match="expired"):
        decode_session(cookie, SECRET, now=NOW - timedelta(seconds=1), max_age=DAY)


def test_csrf_tokens_are_bound_to_the_session():
    one, two = new_session("key-1", NOW), new_session("key-1", NOW)
    token = csrf_token(one, SECRET)
    assert csrf_valid(one, SECRET, token)
    assert not csrf_valid(two, SECRET, token)
    assert not csrf_valid(one, SECRET, None)
    assert not csrf_valid(one, SECRET, "")
