"""Message building: headers, threading, encodings, injection safety."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email import policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notifier import wire
from services.notifier.mail import (
    InvalidAddress,
    MailIdentity,
    MailMeta,
    Threading,
    build_mail,
    conversation_token,
    customer_threading,
    header_safe,
    staff_threading,
    subject_with_token,
)
from services.notifier.rendering import Rendered

IDENTITY = MailIdentity("support@desk.example", "고객지원팀", "desk.example")
NOW = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)


def meta(**overrides) -> MailMeta:
    values = {
        "event_id": "ev-1",
        "reference": "C-1234",
        "template": "customer_ack",
        "locale": "ko",
        "recipient": "minjun@example.kr",
        "recipient_name": "김민준",
        "auto_submitted": "auto-replied",
        "threading": customer_threading(
            reference="C-1234",
            domain="desk.example",
            parent="abc@mail.example.kr",
            chain=["first@mail.example.kr"],
        ),
        "date": NOW,
    }
    return MailMeta(**(values | overrides))


RENDERED = Rendered(
    subject="문의가 접수되었습니다: 출금이 안 됩니다",
    text="안녕하세요, 김민준님.\n접수 번호는 C-1234 입니다.\n",
    html="<p>안녕하세요, <strong>김민준</strong>님.</p>",
)


def parsed(mail) -> email.message.EmailMessage:
    return email.message_from_bytes(mail.message.as_bytes(), policy=policy.default)


def test_korean_subject_and_body_survive_the_wire_format():
    mail = build_mail(IDENTITY, meta(), RENDERED)
    raw = mail.message.as_bytes()
    assert raw.isascii(), "RFC 2047 headers and base64/QP bodies keep the wire 7-bit"
    message = parsed(mail)
    assert message["Subject"] == "[#C-1234] 문의가 접수되었습니다: 출금이 안 됩니다"
    text = message.get_body(("plain",)).get_content()
    assert text.replace("\r\n", "\n") == RENDERED.text  # policy.SMTP: CRLF line ends
    assert "<strong>김민준</strong>" in message.get_body(("html",)).get_content()
    assert message.get_content_type() == "multipart/alternative"
    assert message["To"].addresses[0].display_name == "김민준"
    assert message["From"].addresses[0].addr_spec == "support@desk.example"
    assert message["Content-Language"] == "ko"


def test_message_id_is_ours_deterministic_and_carries_the_conversation_token():
    first = build_mail(IDENTITY, meta(), RENDERED)
    again = build_mail(IDENTITY, meta(), RENDERED)
    other = build_mail(IDENTITY, meta(template="customer_csat"), RENDERED)
    assert first.message_id == again.message_id != other.message_id
    assert first.message_id.startswith("<omnidesk.C-1234.")
    assert first.message_id.endswith("@desk.example>")
    assert parsed(first)["Message-ID"] == first.message_id


def test_customer_mail_threads_into_the_customers_thread():
    message = parsed(build_mail(IDENTITY, meta(), RENDERED))
    assert message["In-Reply-To"] == "<abc@mail.example.kr>"
    assert message["References"].split() == [
        "<omnidesk.C-1234@desk.example>",
        "<first@mail.example.kr>",
        "<abc@mail.example.kr>",
    ]
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Auto-Response-Suppress"] == "All"


def test_person_written_mail_has_no_auto_submitted():
    message = parsed(build_mail(IDENTITY, meta(auto_submitted=None), RENDERED))
    assert message["Auto-Submitted"] is None


def test_staff_mail_references_the_conversation_only():
    threading = staff_threading(reference="C-1234", domain="desk.example")
    message = parsed(build_mail(IDENTITY, meta(threading=threading), RENDERED))
    assert message["In-Reply-To"] is None
    assert message["References"] == "<omnidesk.C-1234@desk.example>"


def test_header_injection_from_data_is_neutralised():
    evil = Rendered(subject="hello\r\nBcc: victim@evil.example", text="x", html=None)
    mail = build_mail(
        IDENTITY,
        meta(recipient_name="Kim\r\nBcc: other@evil.example", reference="C-1\nX-Evil: 1"),
        evil,
    )
    raw = mail.message.as_bytes()
    message = parsed(mail)
    assert b"\r\nBcc:" not in raw and b"\r\nX-Evil:" not in raw
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"].endswith("hello Bcc: victim@evil.example")
    assert message.get_content_type() == "text/plain"  # no HTML part when none rendered


@pytest.mark.parametrize("address", ["a@b.example\r\nBcc: x@y", "not-an-address", ""])
def test_invalid_recipient_is_refused(address):
    with pytest.raises(InvalidAddress):
        build_mail(IDENTITY, meta(recipient=address), RENDERED)


def test_subject_token_added_once():
    assert subject_with_token("Re: hi", "C-9") == "[#C-9] Re: hi"
    assert subject_with_token("Re: [#C-9] hi", "C-9") == "Re: [#C-9] hi"


def test_header_safe_removes_control_characters():
    assert header_safe("a\r\nb\tc\x00d") == "a b c d"


def test_long_reference_chains_are_trimmed_keeping_the_first_and_latest():
    chain = [f"m{i}@x" for i in range(40)]
    threading = customer_threading(
        reference="C-1", domain="d.example", parent="last@x", chain=chain
    )
    assert len(threading.references) == 20
    assert threading.references[0] == "<omnidesk.C-1@d.example>"
    assert threading.references[-1] == "<last@x>"
    assert isinstance(threading, Threading)


@pytest.mark.parametrize(
    "subject",
    [
        "상담은 만족스러우셨나요? (출금이 안 됩니다)",  # the stdlib folder drops this space
        "문의가 접수되었습니다: 출금이 안 됩니다 " * 4,
        "ascii only subject",
        "SLA warning: first response due 2026-11-23 10:00 KST (C-1234) and more words",
        "SLA warning: first response due 2026-11-23 10:00 KST (C-1234)",  # folded after "Subject:"
        "A" * 120,  # one word too long to fold: encoded instead
        "looks like =?utf-8?q?an_encoded_word?= but is text",
        "x " * 60 + "한",
    ],
)
def test_subject_spaces_survive_encoding_and_lines_stay_short(subject):
    mail = build_mail(IDENTITY, meta(), Rendered(subject=subject, text="x", html=None))
    raw = mail.message.as_bytes()
    assert parsed(mail)["Subject"] == "[#C-1234] " + " ".join(subject.split())
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


def subject_lines(raw: bytes) -> list[bytes]:
    lines = raw.split(b"\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(b"Subject:"))
    end = start + 1
    while lines[end].startswith(b" "):
        end += 1
    return lines[start:end]


@settings(max_examples=150, deadline=None)
@given(
    subject=st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200),
        st.lists(st.sampled_from(["SLA", "출금", "(C-1)", "é", "due", "10:00"]), max_size=40).map(
            " ".join
        ),
    ),
    name=st.text(max_size=40),
)
def test_any_subject_and_name_stay_one_header_each_and_round_trip(subject, name):
    mail = build_mail(IDENTITY, meta(recipient_name=name), Rendered(subject, "x", None))
    raw = mail.message.as_bytes()
    message = parsed(mail)
    assert raw.isascii()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998  # RFC 5322 hard limit
    assert max(len(line) for line in subject_lines(raw)) <= 78  # we fold subjects ourselves
    assert message["Subject"] == subject_with_token(subject, "C-1234")
    assert len(message.get_all("Subject")) == 1 and len(message.get_all("To")) == 1
    assert message["To"].addresses[0].addr_spec == "minjun@example.kr"


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=40) | st.sampled_from(["이서연", "Kim Minjun", ""]))
def test_a_recipients_to_header_is_written_the_same_from_the_cache(name):
    """``To`` is remembered per (name, address): the first and every later mail to the
    same recipient carry the bytes it is written to directly."""
    direct = wire.header("To", wire.address(header_safe(name), "minjun@example.kr"))
    for _ in range(2):
        raw = build_mail(IDENTITY, meta(recipient_name=name), Rendered("s", "x", None)).raw
        assert direct in raw


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"


@settings(max_examples=400, deadline=None)
@given(
    st.from_regex(rf"{_ATEXT}(\.{_ATEXT})*@{_ATEXT}(\.{_ATEXT})*", fullmatch=True),
    st.one_of(st.none(), st.text(max_size=40)),
)
def test_an_address_the_quick_check_passes_is_one_the_email_package_accepts(addr_spec, name):
    """build_mail checks plain dot-atom addresses by a regex, not the email package's
    parser: every such address must be one ``Address`` takes as it is."""
    from services.notifier import mail as mail_module

    assert mail_module._DOT_ATOM_ADDRESS.fullmatch(addr_spec)
    address = mail_module._address(name, addr_spec)
    assert address.addr_spec == addr_spec


@pytest.mark.parametrize(
    "addr_spec",
    ["no-at-sign", "two@@example.kr", "a b@example.kr", "a..b@example.kr", "<kim@example.kr>"],
)
def test_addresses_outside_the_quick_check_are_still_parsed_and_refused(addr_spec):
    with pytest.raises(InvalidAddress):
        build_mail(IDENTITY, meta(recipient=addr_spec), RENDERED)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZ09-_ .#한\n")), max_size=12) | st.text(max_size=12))
def test_a_conversation_token_keeps_only_ascii_letters_digits_and_dashes(reference):
    expected = re.sub(r"[^A-Za-z0-9-]", "", reference) or "conversation"
    assert conversation_token(reference) == expected
