from __future__ import annotations

from services.email_ingest.imap.fetch import FetchedMessage, parse_fetch_response


def test_dovecot_style_fetch_response():
    lines = [
        b"1 FETCH (UID 7 RFC822.SIZE 5 BODY[] {5}",
        bytearray(b"hello"),
        b")",
        b"2 FETCH (UID 9 RFC822.SIZE 3 BODY[] {3}",
        bytearray(b"abc"),
        b")",
        b"Fetch completed (0.001 + 0.000 secs).",
    ]
    assert parse_fetch_response(lines) == [
        FetchedMessage(7, b"hello", 5),
        FetchedMessage(9, b"abc", 3),
    ]


def test_uid_after_the_literal_and_flag_updates_in_between():
    lines = [
        b"3 FETCH (FLAGS (\\Seen))",
        b"4 FETCH (BODY[] {2}",
        bytearray(b"hi"),
        b" UID 12)",
        b"Fetch completed.",
    ]
    assert parse_fetch_response(lines) == [FetchedMessage(12, b"hi", None)]
