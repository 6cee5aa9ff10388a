from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.common.events import Direction
from services.phone_log.phone_numbers import (
    customer_identity,
    customer_side,
    infer_pbx_direction,
    parse_number,
)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("01012345678", "+821012345678"),
        ("010-1234-5678", "+821012345678"),
        ("+82 10 1234 5678", "+821012345678"),
        ("821012345678", "+821012345678"),  # CTI systems drop the plus
        ("0212345678", "+82212345678"),
        ("15881234", "+8215881234"),  # Korean representative number
        ("+14155550123", "+14155550123"),
        ("4915791234567", "+4915791234567"),
        ("sip:+821012345678@pbx.example.com;user=phone", "+821012345678"),
        ("tel:+821012345678", "+821012345678"),
    ],
)
def test_numbers_become_e164_with_the_default_region(raw, e164):
    number = parse_number(raw, "KR")
    assert number.e164 == e164
    assert not number.anonymous


def test_region_decides_national_numbers():
    assert parse_number("(415) 555-0123", "US").e164 == "+14155550123"


@pytest.mark.parametrize(
    "raw",
    [
        "anonymous",
        "Anonymous",
        "unknown",
        "restricted",
        "",
        "  ",
        None,
        "+266696687",
        "sip:anonymous@anonymous.invalid",
        "Private",
        "withheld",
    ],
)
def test_withheld_callers_are_flagged(raw):
    number = parse_number(raw, "KR")
    assert number.anonymous
    assert number.e164 is None


def test_extensions_are_not_customers():
    number = parse_number("1001", "KR")
    assert number.extension and number.e164 is None and number.display == "1001"


def test_unreadable_number_keeps_its_raw_form():
    number = parse_number("client:alice", "KR")
    assert number.e164 is None and not number.anonymous and number.display == "client:alice"


@given(st.text(max_size=40), st.sampled_from(["KR", "US", "DE", "JP"]))
def test_parse_number_never_raises(raw, region):
    number = parse_number(raw, region)
    assert number.e164 is None or number.e164.startswith("+")


def test_anonymous_customer_still_has_a_key():
    identity = customer_identity(parse_number("anonymous", "KR"), call_id="CA1")
    assert identity.anonymous
    assert identity.key() == "phone:anonymous:CA1"


def test_customer_key_is_e164_with_a_useful_name():
    identity = customer_identity(
        parse_number("01012345678", "KR"), call_id="x", display_name='"홍길동"'
    )
    assert identity.key() == "+821012345678"
    assert identity.display_name == "홍길동"


def test_customer_side_follows_direction():
    caller, callee = parse_number("01012345678", "KR"), parse_number("+14155550123", "KR")
    assert customer_side(caller, callee, Direction.INBOUND) is caller
    assert customer_side(caller, callee, Direction.OUTBOUND) is callee


def test_extension_calling_a_number_is_outbound():
    ext, ext2 = parse_number("1001", "KR"), parse_number("1002", "KR")
    customer = parse_number("01012345678", "KR")
    assert infer_pbx_direction(ext, customer) is Direction.OUTBOUND
    assert infer_pbx_direction(customer, ext) is Direction.INBOUND
    assert infer_pbx_direction(ext, ext2) is Direction.INBOUND
