"""Small builders of raw mail bytes for the normaliser tests."""

from __future__ import annotations

from datetime import UTC, datetime

from services.email_ingest.normalise import MailContext, NormalisedMail, normalise_mail

RECEIVED = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def raw_mail(
    body: bytes | str = b"Hello\r\n",
    *,
    headers: dict[str, str] | None = None,
    content_type: str = "text/plain; charset=utf-8",
    transfer_encoding: str | None = None,
) -> bytes:
    values = {
        "From": "Kim Minsu <Minsu.Kim@Example.co.kr>",
        "To": "help@desk.example",
        "Subject": "Withdrawal",
        "Date": "Tue, 02 Jan 2024 15:04:05 +0900",
        "Message-ID": "<abc-1@example.co.kr>",
        "MIME-Version": "1.0",
        "Content-Type": content_type,
    }
    if transfer_encoding:
        values["Content-Transfer-Encoding"] = transfer_encoding
    values.update(headers or {})
    head = "".join(f"{k}: {v}\r\n" for k, v in values.items() if v is not None).encode()
    data = body.encode() if isinstance(body, str) else body
    return head + b"\r\n" + data


def parse(raw: bytes, context: MailContext | None = None) -> NormalisedMail:
    result = normalise_mail(raw, context or MailContext(mailbox_id="support"), received_at=RECEIVED)
    assert isinstance(result, NormalisedMail), result
    return result
