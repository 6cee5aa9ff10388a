"""Folder names in IMAP's modified UTF-7 (RFC 3501 §5.1.3)."""

from __future__ import annotations

import pytest

from services.email_ingest.imap.folders import decode_folder, encode_folder, quoted_folder


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("INBOX", "INBOX"),
        ("받은편지함", "&vBvHQNO4ycDVaA-"),
        ("고객문의/환불", "&rOCsHbs4x1g-/&1li9iA-"),
        ("A&B", "A&-B"),  # a literal ampersand
        ("Sent Items", "Sent Items"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501's example
    ],
)
def test_round_trip(name, wire):
    assert encode_folder(name) == wire
    assert decode_folder(wire) == name
    assert decode_folder(wire.encode()) == name


def test_quoted_for_commands():
    assert quoted_folder('고객문의/"VIP"') == '"&rOCsHbs4x1g-/\\"VIP\\""'
