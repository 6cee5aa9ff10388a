"""parse_form gives exactly what urllib's parse_qsl gives (or refuses what it refuses)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.common.webhooks import MalformedPayload, parse_form
from libs.common.webhooks.parsing import MAX_FORM_FIELDS

#: Form-ish text: separators, escapes (valid, truncated, invalid UTF-8) and plain text.
_PIECES = st.sampled_from(
    ["&", "=", "+", "%", "%2B", "%20", "%ED%95%9C", "%E", "%zz", "%ff", "a", "From", "한", " "]
)
_FORMS = st.lists(_PIECES | st.text(max_size=4), max_size=30).map("".join)


def _parse_qsl(body: bytes) -> list[tuple[str, str]] | type[MalformedPayload]:
    try:
        text = body.decode("utf-8")
        return parse_qsl(
            text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError:  # UnicodeDecodeError included
        return MalformedPayload


def _parse_form(body: bytes) -> list[tuple[str, str]] | type[MalformedPayload]:
    try:
        return parse_form(body)
    except MalformedPayload:
        return MalformedPayload


@given(_FORMS)
def test_parse_form_is_parse_qsl(text: str) -> None:
    body = text.encode()
    assert _parse_form(body) == _parse_qsl(body)


@given(st.binary(max_size=40))
def test_parse_form_is_parse_qsl_on_any_bytes(body: bytes) -> None:
    assert _parse_form(body) == _parse_qsl(body)


def test_too_many_fields_are_refused_as_parse_qsl_refuses_them() -> None:
    at_limit = "&".join(["a=1"] * MAX_FORM_FIELDS).encode()
    assert parse_form(at_limit) == [("a", "1")] * MAX_FORM_FIELDS
    with pytest.raises(MalformedPayload, match="Max number of fields exceeded"):
        parse_form(at_limit + b"&")
