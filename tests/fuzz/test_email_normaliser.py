"""Mutation fuzzing of the pure email normaliser, seeded from every corpus mail.

Each corpus file is damaged the way real mail gets damaged — flipped bytes,
truncation, duplicated headers, swapped or bogus charsets, broken MIME
boundaries, inserted junk, mixed line endings — and ``normalise_mail`` must
answer with a valid event or a quarantine verdict with a reason. Nothing may
escape as an exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.common.events import Interaction
from services.email_ingest.normalise import (
    MailContext,
    NormalisedMail,
    Quarantined,
    normalise_mail,
)
from tests.conftest import CORPUS

SEEDS = sorted(
    p for p in CORPUS.rglob("*") if p.is_file() and p.name not in ("README.md", "LICENSE")
)
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


mutations = st.one_of(
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


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: str(p.relative_to(CORPUS)))
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
