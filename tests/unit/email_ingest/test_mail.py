"""The normalised interaction: identity, thread hints, body, attachments, flags, verdicts."""

from __future__ import annotations

import base64
import hashlib
import re

from libs.common.events import Direction, InteractionKind, RoutingHints
from libs.common.ids import deterministic_id
from services.email_ingest.normalise import (
    MailContext,
    OwnIdentity,
    Quarantined,
    normalise_mail,
)
from services.email_ingest.normalise.thread import GENERATED_ID_DOMAIN
from tests.unit.email_ingest.mailbuild import RECEIVED, parse, raw_mail

OURS = OwnIdentity(message_id_domains=["desk.example"], addresses=["help@desk.example"])


def test_identity_ids_and_times():
    result = parse(raw_mail())
    interaction = result.interaction
    assert result.event_id == deterministic_id("email", "support", "abc-1@example.co.kr")
    assert interaction.customer.email == "minsu.kim@example.co.kr"
    assert interaction.customer.display_name == "Kim Minsu"
    assert interaction.customer_key == "minsu.kim@example.co.kr"
    assert interaction.direction is Direction.INBOUND
    assert interaction.kind is InteractionKind.MESSAGE
    assert interaction.provider == "imap" and interaction.integration == "support"
    assert interaction.occurred_at.isoformat() == "2024-01-02T06:04:05+00:00"
    assert interaction.received_at == RECEIVED
    assert interaction.provider_message_id == "abc-1@example.co.kr"
    assert interaction.raw_ref == hashlib.sha256(raw_mail()).hexdigest()


def test_same_bytes_same_event_id_other_mailbox_other_id():
    raw = raw_mail()
    first = parse(raw, MailContext(mailbox_id="kr"))
    assert parse(raw, MailContext(mailbox_id="kr")).event_id == first.event_id
    assert parse(raw, MailContext(mailbox_id="en")).event_id != first.event_id


def test_missing_message_id_gets_a_stable_generated_one():
    raw = raw_mail(headers={"Message-ID": None})
    first = parse(raw).interaction.thread.message_id
    assert first.endswith("@" + GENERATED_ID_DOMAIN)
    assert parse(raw).interaction.thread.message_id == first
    assert parse(raw + b"x").interaction.thread.message_id != first


def test_unreadable_date_falls_back_to_received_at():
    assert parse(raw_mail(headers={"Date": "yesterday-ish"})).interaction.occurred_at == RECEIVED


def test_thread_hints_and_subject_token():
    raw = raw_mail(
        headers={
            "Subject": "=?UTF-8?B?UmU6IFsjQy0xMjM0XSDstpzquIgg7KeA7Jew?=",
            "In-Reply-To": "<reply-7@desk.example>",
            "References": "<first@desk.example>\r\n <reply-7@desk.example>",
        }
    )
    thread = parse(raw).interaction.thread
    assert thread.subject_token == "C-1234"
    assert thread.in_reply_to == ["reply-7@desk.example"]
    assert thread.references == ["first@desk.example", "reply-7@desk.example"]
    assert parse(raw).interaction.subject == "Re: [#C-1234] 출금 지연"


def test_custom_subject_reference_pattern():
    context = MailContext(mailbox_id="s", subject_token=re.compile(r"\[Ticket (\d+)\]"))
    raw = raw_mail(headers={"Subject": "Re: [Ticket 987] hello"})
    assert parse(raw, context).interaction.thread.subject_token == "987"


def test_outbound_mail_names_the_customer_recipient():
    raw = raw_mail(
        headers={"From": "Help Desk <help@desk.example>", "To": "Lee <lee@customer.example>"}
    )
    interaction = parse(raw, MailContext(mailbox_id="s", own=OURS)).interaction
    assert interaction.direction is Direction.OUTBOUND
    assert interaction.customer.email == "lee@customer.example"


def test_html_only_mail_becomes_readable_text():
    html = (
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
        "<p>안녕하세요,</p><p>출금이 <b>아직</b> 안 됐습니다.</p>"
        "<ul><li>주문번호 42</li></ul><a href='https://x.example/t'>link</a></body></html>"
    )
    body = parse(raw_mail(html, content_type="text/html; charset=utf-8")).interaction.body
    assert body.from_html
    assert "출금이 아직 안 됐습니다." in body.text
    assert "주문번호 42" in body.text
    assert "alert" not in body.text and "color" not in body.text


def test_plain_part_preferred_in_alternative():
    body = (
        "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain words\r\n"
        "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>html words</p>\r\n--alt--\r\n"
    )
    parsed = parse(raw_mail(body, content_type='multipart/alternative; boundary="alt"'))
    assert parsed.interaction.body.text == "plain words"
    assert not parsed.interaction.body.from_html


def test_attachments_and_inline_images_are_described_and_kept():
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
    body = (
        "--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<p>see <img src='cid:logo1'></p>\r\n"
        "--rel\r\nContent-Type: image/png\r\nContent-ID: <logo1>\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(png).decode()
        + "\r\n--rel\r\nContent-Type: application/pdf; name=statement.pdf\r\n"
        "Content-Disposition: attachment; filename=statement.pdf\r\n\r\n%PDF-1.4\r\n--rel--\r\n"
    )
    result = parse(raw_mail(body, content_type='multipart/related; boundary="rel"'))
    image, pdf = result.interaction.attachments
    assert image.inline and image.content_id == "logo1" and image.content_type == "image/png"
    assert image.sha256 == hashlib.sha256(png).hexdigest() and image.size == len(png)
    assert result.blobs[image.sha256] == png
    assert not pdf.inline and pdf.name == "statement.pdf"
    assert result.blobs[pdf.sha256].startswith(b"%PDF")


def test_auto_reply_flags():
    raw = raw_mail(headers={"Auto-Submitted": "auto-replied", "Subject": "자동 회신: 출금 문의"})
    flags = parse(raw).interaction.flags
    assert flags.auto_submitted and flags.auto_reply and flags.out_of_office
    assert flags.automated


def test_exchange_out_of_office():
    raw = raw_mail(
        headers={"X-Auto-Response-Suppress": "All", "Subject": "Automatic reply: your question"}
    )
    raw = raw.replace(b"X-Auto-Response-Suppress: All", b"X-Auto-Response-Suppress: OOF, AutoReply")
    flags = parse(raw).interaction.flags
    assert flags.out_of_office and flags.auto_reply


def test_a_human_asking_about_out_of_office_is_not_flagged():
    flags = parse(raw_mail(headers={"Subject": "Out of office hours support?"})).interaction.flags
    assert not flags.automated


def test_bulk_list_and_spam_flags():
    raw = raw_mail(
        headers={
            "Precedence": "bulk",
            "List-Id": "<news.example.com>",
            "List-Unsubscribe": "<mailto:u@example.com>",
            "X-Spam-Flag": "YES",
        }
    )
    flags = parse(raw).interaction.flags
    assert flags.bulk and flags.mailing_list and flags.spam_verdict == "spam"


def test_our_own_message_coming_back_is_a_loop():
    raw = raw_mail(headers={"Message-ID": "<notify-42@desk.example>"})
    assert parse(raw, MailContext(mailbox_id="s", own=OURS)).interaction.flags.loop
    assert not parse(raw).interaction.flags.loop


def test_routing_hints_come_from_the_mailbox():
    hints = RoutingHints(queue="korean", language="ko")
    interaction = parse(raw_mail(), MailContext(mailbox_id="s", routing_hints=hints)).interaction
    assert interaction.routing_hints == hints


def test_bad_input_is_quarantined_not_raised():
    context = MailContext(mailbox_id="s", max_message_bytes=500)
    big = normalise_mail(raw_mail("x" * 1000), context, received_at=RECEIVED)
    assert isinstance(big, Quarantined) and big.reason == "oversize"
    empty = normalise_mail(b"  \r\n", context, received_at=RECEIVED)
    assert isinstance(empty, Quarantined) and empty.reason == "empty"
    nobody = normalise_mail(b"Subject: hi\r\n\r\nbody", context, received_at=RECEIVED)
    assert isinstance(nobody, Quarantined) and nobody.reason == "no_sender"
    assert nobody.raw_sha256 == hashlib.sha256(b"Subject: hi\r\n\r\nbody").hexdigest()
    # CPython 3.11's own header parser raises IndexError on this Content-Type
    stdlib_bug = normalise_mail(
        b"From: a@x.com\r\nContent-Type: text/plain;a*\r\n\r\nbody\r\n", context,
        received_at=RECEIVED,
    )  # fmt: skip
    assert isinstance(stdlib_bug, Quarantined) and stdlib_bug.reason == "unparseable"


def test_garbage_bytes_never_raise():
    for raw in (b"\x00\xff" * 500, b"From: a@b.c\r\nContent-Type: multipart/mixed\r\n\r\n--", b":"):
        result = normalise_mail(raw, MailContext(mailbox_id="s"), received_at=RECEIVED)
        assert result is not None


def test_body_text_is_capped():
    body = parse(raw_mail("가" * 40_000)).interaction.body
    assert body.truncated and len(body.text) == 32_000


def test_eight_bit_bytes_in_ids_become_text_not_surrogates():
    raw = raw_mail(
        headers={
            "In-Reply-To": "<X1234@example.net>",
            "References": "<X1234@example.net>",
            "Content-ID": "<Xcid>",
        }
    ).replace(b"X", b"\xe2")
    interaction = parse(raw).interaction
    assert interaction.thread.in_reply_to == ["\u00e21234@example.net"]
    assert interaction.thread.references == ["\u00e21234@example.net"]
    interaction.model_dump_json()  # publishable


def test_eight_bit_dsn_recipient_is_publishable():
    dsn = (
        b"From: MAILER-DAEMON@mx.example.com\r\nTo: desk@example.com\r\n"
        b"Subject: Undelivered Mail\r\nMessage-ID: <dsn1@mx.example.com>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n"
        b"\r\nFinal-Recipient: rfc822; \xe2user@example.org\r\nAction: failed\r\n"
        b"Status: 5.1.1\r\n\r\n--B--\r\n"
    )
    bounce = parse(dsn).interaction.bounce
    assert bounce.failed_recipients == ["\u00e2user@example.org"]


def test_fingerprint_tells_redelivery_from_reuse():
    original = parse(raw_mail("My deposit is missing."))
    redelivered = parse(raw_mail("My deposit is missing.", headers={"Received": "from mx2 by mx3"}))
    other = parse(raw_mail("Something else entirely."))
    assert original.event_id == redelivered.event_id == other.event_id
    assert original.fingerprint == redelivered.fingerprint != other.fingerprint
