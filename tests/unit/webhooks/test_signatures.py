"""Signature checks against the providers' published test vectors (PROVIDERS.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from libs.common.webhooks.signatures import (
    hmac_sha256,
    hmac_sha256_base64,
    hmac_sha256_hex,
    slack_signature,
    twilio_signature,
    twilio_url_variants,
    verify_basic_auth,
    verify_hmac_sha256,
    verify_shared_token,
    verify_slack,
    verify_twilio,
    verify_twilio_json,
)

TWILIO_TOKEN = "12345"
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
TWILIO_BODY = b'{"property": "value", "boolean": true}'
TWILIO_BODY_SHA = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"


def test_twilio_published_vector():
    assert (
        twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )
    assert verify_twilio(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def test_twilio_port_443_vector_and_variants():
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert (
        twilio_signature(TWILIO_TOKEN, with_port, TWILIO_PARAMS) == "kvajT1Ptam85bY51eRf/AJRuM3w="
    )
    # The provider signed with :443 while we see the URL without it, and the reverse.
    assert verify_twilio(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, "kvajT1Ptam85bY51eRf/AJRuM3w=")
    assert verify_twilio(TWILIO_TOKEN, with_port, TWILIO_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def test_twilio_port_80_variants():
    assert twilio_url_variants("http://a.example/x?y=1") == [
        "http://a.example/x?y=1",
        "http://a.example:80/x?y=1",
    ]
    assert twilio_url_variants("https://a.example:8443/x") == ["https://a.example:8443/x"]


def test_twilio_repeated_keys_vector():
    params = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    assert verify_twilio(TWILIO_TOKEN, TWILIO_URL, params, "IK+Dwps556ElfBT0I3Rgjkr1wJU=")


def test_twilio_json_body_vector():
    url = f"{TWILIO_URL}&bodySHA256={TWILIO_BODY_SHA}"
    assert twilio_signature(TWILIO_TOKEN, url) == "a9nBmqA0ju/hNViExpshrM61xv4="
    assert verify_twilio_json(TWILIO_TOKEN, url, TWILIO_BODY, "a9nBmqA0ju/hNViExpshrM61xv4=")


def test_twilio_negative_cases():
    good = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert not verify_twilio("54321", TWILIO_URL, TWILIO_PARAMS, good)
    assert not verify_twilio(TWILIO_TOKEN, TWILIO_URL + "&baz=3", TWILIO_PARAMS, good)
    tampered = {**TWILIO_PARAMS, "Digits": "9999"}
    assert not verify_twilio(TWILIO_TOKEN, TWILIO_URL, tampered, good)
    assert not verify_twilio(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, None)
    assert not verify_twilio(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, "")
    # An extra field Twilio did not sign (or an attacker added) breaks the signature.
    assert not verify_twilio(TWILIO_TOKEN, TWILIO_URL, {**TWILIO_PARAMS, "X": "1"}, good)


def test_twilio_json_negative_cases():
    url = f"{TWILIO_URL}&bodySHA256={TWILIO_BODY_SHA}"
    good = "a9nBmqA0ju/hNViExpshrM61xv4="
    assert not verify_twilio_json(TWILIO_TOKEN, url, TWILIO_BODY + b" ", good)
    assert not verify_twilio_json(TWILIO_TOKEN, TWILIO_URL, TWILIO_BODY, good)
    assert not verify_twilio_json("wrong", url, TWILIO_BODY, good)


def test_whatsapp_published_vector():
    expected = "0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221"
    assert hmac_sha256_hex("TEST_APP_SECRET", b"test") == expected
    assert verify_hmac_sha256("TEST_APP_SECRET", b"test", f"sha256={expected}", prefix="sha256=")
    assert verify_hmac_sha256(
        "TEST_APP_SECRET", b"test", f"sha256={expected.upper()}", prefix="sha256="
    )


def test_whatsapp_negative_cases():
    expected = "0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221"
    header = f"sha256={expected}"
    assert not verify_hmac_sha256("TEST_APP_SECRET", b"test!", header, prefix="sha256=")
    assert not verify_hmac_sha256("OTHER", b"test", header, prefix="sha256=")
    assert not verify_hmac_sha256("TEST_APP_SECRET", b"test", expected, prefix="sha256=")
    assert not verify_hmac_sha256("TEST_APP_SECRET", b"test", None, prefix="sha256=")
    assert not verify_hmac_sha256("TEST_APP_SECRET", b"test", "sha256=zz", prefix="sha256=")


def test_line_published_vector():
    expected = "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="
    assert hmac_sha256_base64("channel_secret", b"bodybodybodybody") == expected
    assert verify_hmac_sha256("channel_secret", b"bodybodybodybody", expected, encoding="base64")


def test_line_negative_cases():
    expected = "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="
    assert not verify_hmac_sha256("channel_secret", b"bodybodybody", expected, encoding="base64")
    assert not verify_hmac_sha256("other", b"bodybodybodybody", expected, encoding="base64")
    assert not verify_hmac_sha256("channel_secret", b"x", "not base64!!", encoding="base64")


SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TS = "1531420618"
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_slack_published_vector():
    assert slack_signature(SLACK_SECRET, SLACK_TS, SLACK_BODY) == SLACK_SIG
    now = int(SLACK_TS) + 10
    assert verify_slack(
        SLACK_SECRET, timestamp=SLACK_TS, body=SLACK_BODY, signature=SLACK_SIG, now=now
    )


def test_slack_timestamp_window():
    for offset in (301, -301, 10_000):
        assert not verify_slack(
            SLACK_SECRET,
            timestamp=SLACK_TS,
            body=SLACK_BODY,
            signature=SLACK_SIG,
            now=int(SLACK_TS) + offset,
        )
    assert verify_slack(
        SLACK_SECRET,
        timestamp=SLACK_TS,
        body=SLACK_BODY,
        signature=SLACK_SIG,
        now=int(SLACK_TS) + 300,
    )


def test_slack_negative_cases():
    now = int(SLACK_TS)
    kwargs = {"timestamp": SLACK_TS, "now": now}
    assert not verify_slack(SLACK_SECRET, body=SLACK_BODY + b"x", signature=SLACK_SIG, **kwargs)
    assert not verify_slack("wrong", body=SLACK_BODY, signature=SLACK_SIG, **kwargs)
    assert not verify_slack(SLACK_SECRET, body=SLACK_BODY, signature=None, **kwargs)
    assert not verify_slack(
        SLACK_SECRET, timestamp="abc", body=SLACK_BODY, signature=SLACK_SIG, now=now
    )
    assert not verify_slack(
        SLACK_SECRET, timestamp=None, body=SLACK_BODY, signature=SLACK_SIG, now=now
    )


def test_shared_token():
    assert verify_shared_token("s3cr3t_token-1", "s3cr3t_token-1")
    assert not verify_shared_token("s3cr3t_token-1", "s3cr3t_token-2")
    assert not verify_shared_token("s3cr3t_token-1", None)
    assert not verify_shared_token("s3cr3t_token-1", "")
    assert not verify_shared_token("", "")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_auth():
    assert verify_basic_auth(_basic("cdr", "pa:ss"), username="cdr", password="pa:ss")
    assert not verify_basic_auth(_basic("cdr", "nope"), username="cdr", password="pa:ss")
    assert not verify_basic_auth(_basic("x", "pa:ss"), username="cdr", password="pa:ss")
    assert not verify_basic_auth("Bearer abc", username="cdr", password="pa:ss")
    assert not verify_basic_auth("Basic !!!", username="cdr", password="pa:ss")
    assert not verify_basic_auth(None, username="cdr", password="pa:ss")
    no_colon = "Basic " + base64.b64encode(b"cdr").decode()
    assert not verify_basic_auth(no_colon, username="cdr", password="")


@given(
    secret=st.one_of(st.binary(max_size=200), st.text(max_size=100)),
    body=st.binary(max_size=3000),
)
def test_hmac_sha256_is_the_standard_librarys_byte_for_byte(secret, body):
    """The cached pads (``_sha256_pads``) give ``hmac.new``'s digest for any key, also
    keys longer than SHA-256's block (hashed first) and empty ones, for str and bytes."""
    key = secret.encode() if isinstance(secret, str) else secret
    expected = hmac.new(key, body, hashlib.sha256)
    assert hmac_sha256(secret, body) == expected.digest()
    assert hmac_sha256(secret, body) == expected.digest()  # again, from the cache
    assert hmac_sha256_hex(secret, body) == expected.hexdigest()
    assert hmac_sha256_base64(secret, body) == base64.b64encode(expected.digest()).decode()


def _twilio_reference(token: str | bytes, url: str, pairs: list[tuple[str, str]]) -> str:
    """Twilio's formula spelled out with ``hmac.new`` (what the SDKs compute)."""
    grouped: dict[str, set[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, set()).add(value)
    data = url + "".join(k + v for k in sorted(grouped) for v in sorted(grouped[k]))
    key = token.encode() if isinstance(token, str) else token
    return base64.b64encode(hmac.new(key, data.encode(), hashlib.sha1).digest()).decode()


_URLS = st.one_of(
    st.sampled_from(
        [
            TWILIO_URL,
            "https://a.example/x",
            "https://a.example:443/x?y=1",
            "http://user@a.example:80/x",
            "https://[::1]/x",
            "https://a.example:8443/x",
            "not a url",
            "https://a.example:99999/x",
        ]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60),
)


@given(
    token=st.one_of(st.text(max_size=80), st.binary(max_size=100)),
    url=_URLS,
    pairs=st.lists(
        st.tuples(
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
        ),
        max_size=12,
    ),
    wrong=st.text(max_size=30),
)
def test_twilio_signature_and_check_are_the_sdk_formula(token, url, pairs, wrong):
    """Keyed once and fed the URL and the parameters apart, the digest is the SDK's; the
    check accepts exactly the signatures of the URL's variants."""
    expected = _twilio_reference(token, url, pairs)
    assert twilio_signature(token, url, pairs) == expected
    assert twilio_signature(token, url, pairs) == expected  # again, from the cached key
    for variant in twilio_url_variants(url):
        assert verify_twilio(token, url, pairs, _twilio_reference(token, variant, pairs))
    references = {_twilio_reference(token, v, pairs) for v in twilio_url_variants(url)}
    assert verify_twilio(token, url, pairs, wrong) == (wrong in references)


def _hex_check_before(secret: str, body: bytes, presented: str, prefix: str | None) -> bool:
    """verify_hmac_sha256's hex check as it was written before (constant_time_equals)."""
    value = presented.strip()
    if prefix is not None:
        if not value.startswith(prefix):
            return False
        value = value[len(prefix) :]
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), value.lower().encode())


@given(
    st.text(min_size=1, max_size=20),
    st.binary(max_size=100),
    st.sampled_from([None, "sha256="]),
    st.one_of(st.text(max_size=80), st.sampled_from(["right", "RIGHT", " right "])),
)
def test_hex_check_is_the_constant_time_compare_of_before(secret, body, prefix, presented):
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    presented = {"right": digest, "RIGHT": digest.upper(), " right ": f" {digest} "}.get(
        presented, presented
    )
    if prefix is not None and presented.strip() in (digest, digest.upper()):
        presented = prefix + presented.strip()
    got = verify_hmac_sha256(secret, body, presented, prefix=prefix)
    assert got == (bool(presented) and _hex_check_before(secret, body, presented, prefix))
