"""The directly written mail reads exactly like the one ``EmailMessage`` writes."""

from __future__ import annotations

import base64
import email
import email.header
import re
import sys
from datetime import UTC, datetime, timedelta, timezone
from email import policy, quoprimime
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notifier import wire
from services.notifier.compose import ComposeConfig, notice_context, threading_for
from services.notifier.decisions import PlanConfig, plan_notifications
from services.notifier.mail import (
    MailMeta,
    _with_email_package,
    build_mail,
    customer_threading,
    date_header,
    header_safe,
    message_id_for,
)
from services.notifier.rendering import Rendered, Renderer
from services.notifier.samples import sample_events, snapshot
from services.notifier.smtp import _crlf_lines

from .test_mail import IDENTITY, NOW, RENDERED, meta

COMPOSE = ComposeConfig(IDENTITY, "https://desk.example/csat", "csat-secret")


def read(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def as_read(raw: bytes) -> dict[str, object]:
    """What a receiver sees: decoded headers (boundary aside) and decoded parts."""
    message = read(raw)
    headers = {
        name: str(value).strip()
        for name, value in message.items()
        if name.lower() != "content-type"
    }
    parts = [
        (part.get_content_type(), part.get_content_charset(), part.get_content())
        for part in message.walk()
        if not part.is_multipart()
    ]
    return {"headers": headers, "type": message.get_content_type(), "parts": parts}


def sample_mails() -> list[tuple[MailMeta, Rendered]]:
    renderer = Renderer(display_timezone="Asia/Seoul")
    found = []
    for language in ("ko", "en"):
        for event in sample_events(snapshot(language=language)).values():
            for notice in plan_notifications(event, PlanConfig()).mails:
                rendered = renderer.render(
                    notice.template, notice.locale, notice_context(event, notice, COMPOSE)
                )
                meta = MailMeta(
                    event_id="ev-1",
                    reference=event.conversation.reference,
                    template=notice.template,
                    locale=notice.locale,
                    recipient=notice.recipient,
                    recipient_name=notice.recipient_name,
                    auto_submitted=notice.auto_submitted,
                    threading=threading_for(event, notice, "desk.example"),
                    date=NOW,
                    sender_name="이서연 (Support)" if notice.template == "customer_reply" else None,
                )
                found.append((meta, rendered))
    return found


def test_every_sample_mail_reads_the_same_as_the_email_package_writes_it():
    mails = sample_mails()
    assert len(mails) >= 16
    for meta_, rendered in mails:
        fast = build_mail(IDENTITY, meta_, rendered)
        standard = _with_email_package(IDENTITY, meta_, rendered, fast.message_id)
        assert as_read(fast.raw) == as_read(standard), meta_.template
        assert fast.message_id == message_id_for(meta_, IDENTITY.domain)


def test_lines_are_ascii_crlf_and_short():
    for meta_, rendered in sample_mails():
        raw = build_mail(IDENTITY, meta_, rendered).raw
        assert raw.isascii()
        lines = raw.split(b"\r\n")
        assert b"\n" not in b"".join(lines) and b"\r" not in b"".join(lines)
        assert max(len(line) for line in lines) <= 78


def test_text_only_mail_is_a_single_part():
    raw = build_mail(IDENTITY, meta(), Rendered("s", "plain words\n", None)).raw
    message = read(raw)
    assert message.get_content_type() == "text/plain"
    assert message.get_content().splitlines() == ["plain words"]
    assert message["Content-Language"] == "ko"


def test_non_ascii_in_a_structured_header_is_written_by_the_email_package():
    """A customer's mailer sent a non-ASCII Message-ID: the writer declines, the email
    package encodes it, and the mail still goes out."""
    odd = customer_threading(
        reference="C-1234", domain="desk.example", parent="메일@mail.example.kr", chain=[]
    )
    with pytest.raises(wire.NotWireSafe):
        wire.header("In-Reply-To", ["<메일@mail.example.kr>"])
    mail = build_mail(IDENTITY, meta(threading=odd), RENDERED)
    assert mail.raw.isascii()
    message = read(mail.raw)
    assert message["Message-ID"] == mail.message_id
    assert "메일@mail.example.kr" in str(message["In-Reply-To"])


bodies = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=400
)


@settings(max_examples=150, deadline=None)
@given(text=bodies, html=bodies, name=st.text(max_size=40))
def test_any_body_and_name_read_the_same_either_way(text, html, name):
    rendered = Rendered("제목 subject", text, html)
    meta_ = meta(recipient_name=name)
    fast = build_mail(IDENTITY, meta_, rendered)
    standard = _with_email_package(IDENTITY, meta_, rendered, fast.message_id)
    mine, theirs = as_read(fast.raw), as_read(standard)
    assert mine["parts"] == theirs["parts"]
    # Names too long for one encoded-word are split where each writer chooses;
    # CPython's reader keeps a space between the words (RFC 2047 §6.2 says drop it).
    assert unspaced(mine["headers"]) == unspaced(theirs["headers"])
    to = read(fast.raw)["To"].addresses[0]
    assert "".join(to.display_name.split()) == "".join(header_safe(name).split())


@settings(max_examples=200, deadline=None)
@given(
    text=bodies,
    html=st.none() | bodies,
    subject=bodies,
    name=bodies,
    reference=st.text(max_size=30),
    parent=st.text(max_size=40),
)
def test_written_mails_end_every_line_in_crlf_as_smtp_sends_them_unscanned(
    text, html, subject, name, reference, parent
):
    """``crlf_lines``: the SMTP client sends such a mail without scanning it for bare CR
    or LF; whatever the values (CR, LF, U+2028 …), the writer never lets one through."""
    threading = customer_threading(reference="C-1", domain="desk.example", parent=parent, chain=[])
    meta_ = meta(recipient_name=name, reference=reference or "C-1", threading=threading)
    mail = build_mail(IDENTITY, meta_, Rendered(subject, text, html))
    if mail.crlf_lines:  # else the email package wrote it, and the SMTP client checks it
        assert mail.raw.endswith(b"\r\n")
        assert mail.raw.count(b"\r\n") == mail.raw.count(b"\n") == mail.raw.count(b"\r")
        assert _crlf_lines(mail.raw) is mail.raw


def test_sample_mails_are_marked_crlf_clean():
    assert all(build_mail(IDENTITY, m, r).crlf_lines for m, r in sample_mails())


def unspaced(headers: object) -> dict[str, str]:
    assert isinstance(headers, dict)
    return {name: "".join(value.split()) for name, value in headers.items()}


def _greedy_words(text: str, max_bytes: int) -> list[str]:
    """The definition: whole characters, as many as fit in ``max_bytes`` UTF-8 bytes."""
    chunks, chunk = [], ""
    for char in text:
        if len((chunk + char).encode()) > max_bytes:
            chunks.append(chunk)
            chunk = ""
        chunk += char
    chunks.append(chunk)
    return [w for w in chunks if w]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.sampled_from([4, 12, 39, 45]))
def test_encoded_words_cut_between_whole_characters_as_full_as_they_fit(text, max_bytes):
    words = wire.encoded_words(text, max_bytes)
    decoded = [email.header.decode_header(word)[0][0].decode() for word in words]
    assert decoded == _greedy_words(text, max_bytes)
    expected = [base64.b64encode(w.encode()).decode() for w in _greedy_words(text, max_bytes)]
    assert words == [f"=?utf-8?b?{w}?=" for w in expected]  # base64.b64encode's bytes


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="ab=<>@.-", min_size=1, max_size=30), max_size=6))
def test_a_header_is_folded_the_same_whether_it_fits_one_line_or_not(tokens):
    written = wire.header("References", tokens)
    lines = written.split(b"\r\n")[:-1]
    assert all(len(line) <= wire.LINE_LIMIT or b" " not in line.strip() for line in lines)
    assert b" ".join(line.strip() for line in lines) == b" ".join(
        [b"References:", *map(str.encode, tokens)]
    )


_BODY_TEXT = st.text(
    alphabet=st.sampled_from(list("ab =\t\r\n.~\x0b\x0c\x85\u2028é한국어")), max_size=300
)


@settings(max_examples=300, deadline=None)
@given(_BODY_TEXT)
def test_quoted_printable_line_by_line_is_the_whole_body_encoding(text):
    """Lines are encoded (and remembered) one by one: the bytes must be what
    ``quoprimime.body_encode`` writes for the whole body."""
    lines = text.encode().splitlines()
    whole = (b"\n".join(lines) + b"\n").decode("latin-1")
    expected = quoprimime.body_encode(whole, wire.LINE_LIMIT - 2, eol="\r\n").encode("ascii")
    assert wire._encoded(text, "quoted-printable") == expected


@settings(max_examples=1000, deadline=None)
@given(
    st.binary(max_size=200)
    | st.lists(st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b"."])).map(b"".join)
)
def test_lines_are_split_where_splitlines_splits_them(data):
    """Without a CR, a split at LF stands in for ``splitlines``: the same lines."""
    assert wire._lines(data) == data.splitlines()


@settings(max_examples=300, deadline=None)
@given(_BODY_TEXT)
def test_base64_bodies_are_what_encodebytes_writes(text):
    """A base64 part's lines: ``base64.encodebytes`` of the CRLF-ended text, CRLF line ends."""
    data = b"\r\n".join(text.encode().splitlines()) + b"\r\n"
    expected = base64.encodebytes(data).replace(b"\n", b"\r\n")
    assert wire._encoded(text, "base64") == expected


@pytest.mark.parametrize("size", [0, 1, 56, 57, 58, 113, 114, 115, 1000])
def test_base64_lines_at_the_chunk_edges(size):
    data = bytes(range(256)) * 4
    assert wire._base64_lines(data[:size]) == base64.encodebytes(data[:size]).replace(
        b"\n", b"\r\n"
    )


_LINE_BYTES = st.one_of(
    # every byte but CR and LF, lines of any length around the 76-character limit
    st.binary(max_size=120).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    # what notices hold: Korean, markup, "=", "." at the start, trailing whitespace
    st.text(alphabet=st.sampled_from(list("a.= \t<>\"'é김민준")), max_size=90).map(str.encode),
)


@settings(max_examples=2000, deadline=None)
@given(_LINE_BYTES)
def test_a_line_is_quoted_as_quoprimime_quotes_it(line):
    """The C fast path (``binascii.b2a_qp``) writes exactly quoprimime's bytes, line by line."""
    expected = quoprimime.body_encode(line.decode("latin-1"), wire.LINE_LIMIT - 2, eol="\r\n")
    assert wire._quoted_printable_line.__wrapped__(line) == expected.encode("ascii")


@pytest.mark.parametrize(
    "line",
    [
        b".",
        b". ",
        b"..",
        b".\x00",
        b" ",
        b"\t",
        b"=",
        b"x" * 75,
        b"x" * 76,
        b"x" * 77,
        b"x" * 74 + b"=",
        b"x" * 75 + b" ",
        "김민준".encode() * 9,
    ],
)
def test_lines_at_the_edges_are_quoted_as_quoprimime_quotes_them(line):
    expected = quoprimime.body_encode(line.decode("latin-1"), wire.LINE_LIMIT - 2, eol="\r\n")
    assert wire._quoted_printable_line.__wrapped__(line) == expected.encode("ascii")


@pytest.mark.parametrize("filler", [b"x", b"=", "é".encode(), b"x=", b"\t"])
@pytest.mark.parametrize("length", range(60, 160))
def test_the_last_piece_is_broken_as_quoprimime_breaks_it(filler, length):
    """b2a_qp's soft breaks are kept but at the end, where quoprimime's last piece may
    be 76 long and b2a_qp's may not: every line length around one and two breaks, each
    ending in a literal or in an escape."""
    for end in (b"", b"=", b"y", "é".encode()):
        line = (filler * length)[:length] + end
        expected = quoprimime.body_encode(line.decode("latin-1"), wire.LINE_LIMIT - 2, eol="\r\n")
        assert wire._quoted_printable_line.__wrapped__(line) == expected.encode("ascii")


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("ab @.<>  \t\r\n\x00\x1f\x7f\x85\u3000\u2028한")), max_size=20
    )
)
def test_header_safe_returns_clean_values_as_the_full_cleaning_would(value):
    assert header_safe(value) == " ".join(re.sub(r"[\x00-\x1f\x7f]+", " ", value).split())


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=20))
def test_header_safe_cleans_any_text_as_the_full_cleaning_would(value):
    """Any character, not only the chosen few above (the fast path takes printable text
    of every script)."""
    assert header_safe(value) == " ".join(re.sub(r"[\x00-\x1f\x7f]+", " ", value).split())


def test_date_header_keeps_each_datetimes_own_offset():
    utc = datetime(2026, 11, 28, 23, 40, 0, 123, tzinfo=UTC)
    seoul = utc.astimezone(timezone(timedelta(hours=9)))  # the same instant, equal to utc
    assert date_header(utc) == b"Date: Sat, 28 Nov 2026 23:40:00 +0000\r\n"
    assert date_header(seoul) == b"Date: Sun, 29 Nov 2026 08:40:00 +0900\r\n"
    assert date_header(utc.replace(microsecond=999)) == date_header(utc)


@settings(max_examples=500, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2040, 12, 31),
        timezones=st.sampled_from(
            [
                UTC,
                timezone(timedelta(hours=9)),
                timezone(timedelta(hours=-3, minutes=-30)),
                ZoneInfo("America/New_York"),  # DST: an ambiguous hour's two folds
                ZoneInfo("Asia/Seoul"),
            ]
        )
        | st.none(),
        allow_imaginary=True,
    ),
    st.booleans(),
)
def test_date_header_is_the_email_packages_date_of_the_second(value, fold):
    value = value.replace(fold=int(fold))
    expected = wire.header("Date", format_datetime(value.replace(microsecond=0)).split())
    assert date_header(value) == expected
    assert date_header(value) == expected  # remembered


def test_no_printable_character_is_whitespace_but_the_space_nor_a_control_character():
    """Why header_safe may return a printable value as it is (without double, leading or
    trailing spaces): every code point, not a sample."""
    for code in range(sys.maxunicode + 1):
        c = chr(code)
        if c.isprintable() and c != " ":
            assert not c.isspace() and not re.fullmatch(r"[\x00-\x1f\x7f]", c), hex(code)
