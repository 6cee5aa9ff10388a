"""Mutation fuzzing of the pure email normaliser, seeded from every corpus mail
and from the defect fixtures of issue #17.

Each seed is damaged the way real mail gets damaged — flipped bytes,
truncation, duplicated headers, swapped or bogus charsets, broken MIME
boundaries, inserted junk, mixed line endings — and the way the issue #17
defect classes look: a banner or mbox line before the headers, "> " quoting
with text below it, ISO-2022-JP escapes with any JIS pair, raw 8-bit headers,
uuencoded blocks (whole or garbled), DSN actions — and ``normalise_mail`` must
answer with a valid event or a quarantine verdict with a reason. Nothing may
escape as an exception. The new helpers are fuzzed on their own as well.
"""

from __future__ import annotations

import binascii
import contextlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.common.events import Interaction
from services.email_ingest.imap.folders import decode_folder, encode_folder
from services.email_ingest.normalise import (
    MailContext,
    NormalisedMail,
    Quarantined,
    normalise_mail,
)
from services.email_ingest.normalise.charsets import decode_bytes, decode_short_bytes
from services.email_ingest.normalise.iso2022jp import decode_cp5022x
from services.email_ingest.normalise.replies import split_reply
from services.email_ingest.normalise.uuencode import extract_uuencoded
from tests.conftest import CORPUS

DEFECT_FIXTURES = Path(__file__).parents[1] / "unit" / "email_ingest" / "fixtures" / "defects"
SEEDS = sorted(
    p for p in CORPUS.rglob("*") if p.is_file() and p.name not in ("README.md", "LICENSE")
) + sorted(DEFECT_FIXTURES.glob("*.eml"))
RECEIVED = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
CONTEXT = MailContext(mailbox_id="fuzz")
REASONS = {"empty", "oversize", "no_sender", "unparseable"}
CHARSETS = [
    b"utf-8",
    b"euc-kr",
    b"ks_c_5601-1987",
    b"iso-2022-kr",
    b"iso-2022-jp",
    b"shift_jis",
    b"gb2312",
    b"big5",
    b"windows-1252",
    b"utf-16",
    b"utf-7",
    b"x-unknown-charset",
    b"",
    b'"',
    b"utf-8\x00",
]
CHARSET_PARAM = re.compile(rb"charset\s*=\s*\"?[^\s;\"]*\"?", re.IGNORECASE)
BOUNDARY_PARAM = re.compile(rb"boundary\s*=\s*\"?([^\s;\"]+)\"?", re.IGNORECASE)

Mutation = Callable[[bytes], bytes]

settings.register_profile(
    "fuzz",
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _flip(position: int, mask: int) -> Mutation:
    def mutate(raw: bytes) -> bytes:
        if not raw:
            return raw
        index = position % len(raw)
        return raw[:index] + bytes([raw[index] ^ mask]) + raw[index + 1 :]

    return mutate


def _truncate(fraction: float) -> Mutation:
    return lambda raw: raw[: int(len(raw) * fraction)]


def _duplicate_header(which: int, times: int) -> Mutation:
    def mutate(raw: bytes) -> bytes:
        head, sep, body = (
            raw.partition(b"\n\n") if b"\r\n\r\n" not in raw else raw.partition(b"\r\n\r\n")
        )
        lines = head.splitlines(keepends=True)
        starts = [i for i, line in enumerate(lines) if line[:1] not in (b" ", b"\t")]
        if not starts:
            return raw
        start = starts[which % len(starts)]
        end = start + 1
        while end < len(lines) and lines[end][:1] in (b" ", b"\t"):
            end += 1
        block = b"".join(lines[start:end])
        if not block.endswith(b"\n"):
            block += b"\r\n"
        return b"".join(lines[:end]) + block * times + b"".join(lines[end:]) + sep + body

    return mutate


def _swap_charset(choice: int) -> Mutation:
    def mutate(raw: bytes) -> bytes:
        charset = CHARSETS[choice % len(CHARSETS)]
        if CHARSET_PARAM.search(raw):
            return CHARSET_PARAM.sub(b"charset=" + charset, raw)
        return raw.replace(b"Subject: ", b"Subject: =?" + charset + b"?B?7JWI64WV?= ", 1)

    return mutate


def _damage_boundary(mode: int) -> Mutation:
    def mutate(raw: bytes) -> bytes:
        found = BOUNDARY_PARAM.search(raw)
        if not found:
            return raw.replace(b"\n\n", b"\n--x\nContent-Type: text/plain\n\n", 1)
        boundary = found.group(1)
        if mode % 4 == 0:  # the closing delimiter is gone
            return raw.replace(b"--" + boundary + b"--", b"")
        if mode % 4 == 1:  # the header names a boundary the body never uses
            return raw[: found.start(1)] + b"zz" + boundary + raw[found.end(1) :]
        if mode % 4 == 2:  # an empty boundary
            return raw[: found.start(1)] + raw[found.end(1) :]
        return raw.replace(b"--" + boundary, b"--" + boundary[: len(boundary) // 2])

    return mutate


def _insert(position: int, junk: bytes) -> Mutation:
    def mutate(raw: bytes) -> bytes:
        index = position % (len(raw) + 1)
        return raw[:index] + junk + raw[index:]

    return mutate


def _line_endings(to_crlf: bool) -> Mutation:
    def mutate(raw: bytes) -> bytes:
        bare = raw.replace(b"\r\n", b"\n")
        return bare.replace(b"\n", b"\r\n") if to_crlf else bare.replace(b"\n", b"\r")

    return mutate


def _before_headers(kind: int) -> Mutation:
    prefixes = [
        b"---- Original email message ----\r\n",
        b"From someone@example.com Mon Jan  1 00:00:00 2024\r\n",
        b"\r\n\r\n",
        b"-----Original Message-----\r\n\r\n",
        b" folded junk\r\n",
    ]
    return lambda raw: prefixes[kind % len(prefixes)] + raw


def _body_start(raw: bytes) -> int:
    for separator in (b"\r\n\r\n", b"\n\n"):
        index = raw.find(separator)
        if index >= 0:
            return index + len(separator)
    return len(raw)


def _quote_and_answer(fraction: float, answer: bytes) -> Mutation:
    """Quote part of the body with "> " (a quoted "> --" too) and write below it."""

    def mutate(raw: bytes) -> bytes:
        start = _body_start(raw)
        lines = raw[start:].split(b"\n")
        cut = int(len(lines) * fraction)
        quoted = [b"> " + line for line in lines[:cut]] + [b"> --", b"> Desk"]
        return raw[:start] + b"\n".join([*quoted, b"", answer, *lines[cut:]])

    return mutate


def _jis_run(position: int, pairs: bytes) -> Mutation:
    """An ISO-2022-JP run with arbitrary 7-bit pairs (NEC rows, holes, odd lengths)."""

    def mutate(raw: bytes) -> bytes:
        index = position % (len(raw) + 1)
        run = b"\x1b$B" + bytes(b & 0x7F for b in pairs) + b"\x1b(B"
        return raw[:index] + run + raw[index:]

    return mutate


def _raw_subject(data: bytes) -> Mutation:
    subject = b"Subject: " + data.replace(b"\n", b"").replace(b"\r", b"")
    return lambda raw: re.sub(rb"(?im)^subject:[^\r\n]*", lambda _m: subject, raw, count=1)


def _uuencoded(position: int, data: bytes, garble: int) -> Mutation:
    def mutate(raw: bytes) -> bytes:
        lines = [binascii.b2a_uu(data[i : i + 45]) for i in range(0, len(data), 45)]
        block = b"begin 644 f.bin\n" + b"".join(lines) + b"`\nend\n"
        if garble:
            block = block[: garble % len(block)] + b"!!" + block[garble % len(block) :]
        index = _body_start(raw) + position % (len(raw) - _body_start(raw) + 1)
        return raw[:index] + block + raw[index:]

    return mutate


def _dsn_action(choice: int) -> Mutation:
    actions = [b"delayed", b"failed", b"delivered", b"relayed", b"expanded", b"", b"\xff"]
    return lambda raw: re.sub(
        rb"(?im)^action:[^\r\n]*", b"Action: " + actions[choice % len(actions)], raw
    )


mutations = st.one_of(
    st.builds(_before_headers, st.integers(0, 4)),
    st.builds(_quote_and_answer, st.floats(0, 1), st.binary(max_size=40)),
    st.builds(_jis_run, st.integers(0, 1 << 30), st.binary(max_size=21)),
    st.builds(_raw_subject, st.binary(min_size=1, max_size=40)),
    st.builds(_uuencoded, st.integers(0, 1 << 30), st.binary(max_size=120), st.integers(0, 400)),
    st.builds(_dsn_action, st.integers(0, 6)),
    st.builds(_flip, st.integers(0, 1 << 30), st.integers(1, 255)),
    st.builds(_truncate, st.floats(0, 1)),
    st.builds(_duplicate_header, st.integers(0, 60), st.integers(1, 50)),
    st.builds(_swap_charset, st.integers(0, len(CHARSETS) - 1)),
    st.builds(_damage_boundary, st.integers(0, 3)),
    st.builds(_insert, st.integers(0, 1 << 30), st.binary(min_size=1, max_size=64)),
    st.builds(_line_endings, st.booleans()),
)


def check_verdict(raw: bytes) -> None:
    result = normalise_mail(raw, CONTEXT, received_at=RECEIVED)
    if isinstance(result, Quarantined):
        assert result.reason in REASONS
        assert result.detail
        assert len(result.raw_sha256) == 64
        return
    assert isinstance(result, NormalisedMail)
    assert result.event_id
    assert result.raw_sha256 in result.blobs
    # The event is a valid model and survives the Kafka body round trip.
    Interaction.model_validate_json(result.interaction.model_dump_json())


def test_the_seed_corpus_is_there():
    assert len(SEEDS) >= 100


def _seed_id(path: Path) -> str:
    return str(path.relative_to(CORPUS if path.is_relative_to(CORPUS) else DEFECT_FIXTURES.parent))


@pytest.mark.parametrize("seed", SEEDS, ids=_seed_id)
@settings(settings.get_profile("fuzz"))
@given(chain=st.lists(mutations, min_size=1, max_size=4))
def test_damaged_mail_yields_an_event_or_a_quarantine(seed: Path, chain: list[Mutation]):
    raw = seed.read_bytes()
    for mutate in chain:
        raw = mutate(raw)
    check_verdict(raw)


@given(raw=st.binary(max_size=4096))
@settings(max_examples=200, deadline=None, derandomize=True)
def test_arbitrary_bytes_yield_an_event_or_a_quarantine(raw: bytes):
    check_verdict(raw)


def _mail(extra_headers: bytes, body: bytes = b"hello\r\n") -> bytes:
    return (
        b"From: Mary <mary@example.net>\r\nTo: desk@example.com\r\nSubject: Hi\r\n"
        b"Message-ID: <3456@example.net>\r\n" + extra_headers + b"\r\n" + body
    )


DSN = (
    b"From: MAILER-DAEMON@mx.example.com\r\nTo: desk@example.com\r\n"
    b"Subject: Undelivered Mail\r\nMessage-ID: <dsn1@mx.example.com>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
    b"--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
    b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n"
    b"\r\nFinal-Recipient: rfc822; \xe2user@example.org\r\nAction: failed\r\n"
    b"Status: 5.1.1\r\n\r\n--B--\r\n"
)


@pytest.mark.parametrize(
    "raw",
    [
        _mail(b"In-Reply-To: <\xe21234@example.net>\r\n"),
        _mail(b"References: <\xe21234@example.net>\r\n"),
        DSN,
    ],
    ids=["in-reply-to", "references", "dsn-final-recipient"],
)
def test_eight_bit_ids_serialise(raw: bytes):
    """Found by this fuzzer: 8-bit bytes in ids used to reach the event as lone surrogates."""
    check_verdict(raw)


# -- the helpers of issue #17 on their own ------------------------------------------


@given(data=st.binary(max_size=256))
@settings(max_examples=300, deadline=None, derandomize=True)
def test_cp5022x_decodes_or_says_unicode_decode_error(data: bytes):
    with contextlib.suppress(UnicodeDecodeError):
        decode_cp5022x(data)


@given(data=st.binary(max_size=256), declared=st.sampled_from([None, "euc-kr", "gb2312",
       "shift_jis", "iso-8859-1", "us-ascii", "iso-2022-jp", "utf-8", "bogus"]))  # fmt: skip
@settings(max_examples=300, deadline=None, derandomize=True)
def test_charset_decoding_never_raises_and_leaves_no_surrogates(data: bytes, declared):
    for decoded in (decode_short_bytes(data, declared), decode_bytes(data, declared)):
        decoded.text.encode("utf-8")  # no lone surrogates: JSON-encodable


@given(text=st.text(max_size=400))
@settings(max_examples=300, deadline=None, derandomize=True)
def test_reply_split_and_uudecode_never_raise(text: str):
    split_reply(text)
    remaining, files = extract_uuencoded(text)
    assert isinstance(remaining, str) and all(f.name for f in files)


@given(name=st.text(max_size=40))
@settings(max_examples=300, deadline=None, derandomize=True)
def test_folder_names_round_trip_through_modified_utf7(name: str):
    wire = encode_folder(name)
    assert wire.isascii()
    assert decode_folder(wire) == name
