"""Every file of the shared corpus: an event or a quarantine verdict, never an exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from libs.common.cloudevents import CloudEvent, decode, encode
from libs.common.events import InteractionKind
from services.email_ingest.normalise import MailContext, NormalisedMail, Quarantined, normalise_mail
from tests.conftest import CORPUS
from tests.unit.email_ingest.mailbuild import RECEIVED

CORPUS_FILES = sorted(
    p for p in CORPUS.rglob("*") if p.is_file() and p.name not in ("README.md", "LICENSE")
)
MIKEL = CORPUS / "mikel-mail"


def _normalise(path: Path) -> NormalisedMail | Quarantined:
    return normalise_mail(
        path.read_bytes(), MailContext(mailbox_id="support"), received_at=RECEIVED
    )


def test_the_corpus_is_there():
    assert len(CORPUS_FILES) == 104


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_mail_yields_an_event_or_a_quarantine(path: Path):
    result = _normalise(path)
    if isinstance(result, Quarantined):
        assert result.reason in {"empty", "oversize", "no_sender", "unparseable"}
        assert result.detail
        return
    interaction = result.interaction
    assert interaction.customer.email and "@" in interaction.customer.email
    assert interaction.customer_key == interaction.customer.email
    assert interaction.thread.message_id
    assert interaction.raw_ref in result.blobs
    for attachment in interaction.attachments:
        assert attachment.sha256 in result.blobs
        assert attachment.size == len(result.blobs[attachment.sha256])
    # The event survives the wire: encode and decode as the router will.
    event = CloudEvent(
        id=result.event_id, source="t", type=interaction.event_type(), data=interaction
    )
    headers, value = encode(event)
    assert decode(headers, value).data == interaction


def test_only_mail_without_any_sender_or_bytes_is_quarantined():
    quarantined = {
        str(p.relative_to(MIKEL)): r.reason
        for p in CORPUS_FILES
        if isinstance(r := _normalise(p), Quarantined)
    }
    assert quarantined == {
        "error_emails/bad_encoded_subject.eml": "no_sender",
        "sample_output_multipart": "empty",
    }


def test_korean_ks_c_5601_1987_decodes_to_hangul():
    result = _normalise(MIKEL / "multi_charset" / "ks_c_5601-1987.eml")
    assert result.interaction.body.text == "스티해"
    assert result.interaction.body.language == "ko"


def test_korean_utf8_body_and_subject():
    result = _normalise(MIKEL / "plain_emails" / "raw_email.eml")
    assert result.interaction.subject == "NOTE: 한국말로 하는 것"
    assert result.interaction.body.text.startswith("대부분의 마찬가지로, 우리는 하나님을 믿습니다.")


@pytest.mark.parametrize(
    ("name", "subject", "text"),
    [
        ("japanese_iso_2022.eml", "まみむめも", "すみません。"),
        ("japanese_shift_jis.eml", "test", "あいうえお"),
        ("japanese.eml", "まみむめも", "かきくえこ"),
    ],
)
def test_japanese_charsets(name: str, subject: str, text: str):
    result = _normalise(MIKEL / "multi_charset" / name)
    assert result.interaction.subject == subject
    assert result.interaction.body.text.startswith(text)


def test_raw_iso_2022_jp_subject_header():
    result = _normalise(MIKEL / "rfc2822" / "example14.eml")
    assert result.interaction.subject == "Re: TEST  テストテスト"


def test_raw_utf8_headers_rfc6532():
    result = _normalise(MIKEL / "rfc6532" / "utf8_headers.eml")
    assert result.interaction.customer.email == "jdöe@mächine.example"
    assert result.interaction.subject == "Säying Hello"


def test_raw_latin1_subject_is_not_misread():
    result = _normalise(MIKEL / "error_emails" / "invalid_subject_characters.eml")
    assert result.interaction.subject.startswith("Formação FrenetikPolis")


@pytest.mark.parametrize(
    ("name", "recipients", "original", "status"),
    [
        (
            "multi_address_bounce1.eml",
            5,
            "118707422.15521266992174819.JavaMail.root@lvmail01",
            "5.1.1",
        ),
        (
            "multipart_report_multiple_status.eml",
            1,
            "4c2a146147ac8_61ff157c4ec1652df@s.h.c.mail",
            "5.3.0",
        ),
        ("report_530.eml", 1, "200712232303.lBNN3jDq002941@mail12.rrrr.com.au", "5.3.0"),
    ],
)
def test_bounces_carry_recipient_and_original_message_id(name, recipients, original, status):
    interaction = _normalise(MIKEL / "multipart_report_emails" / name).interaction
    assert interaction.flags.bounce
    assert interaction.kind is InteractionKind.DELIVERY_STATUS
    assert interaction.bounce is not None
    assert len(interaction.bounce.failed_recipients) == recipients
    assert interaction.bounce.original_message_id == original
    assert interaction.bounce.status == status


def test_a_delay_report_is_linked_but_not_a_bounce():
    interaction = _normalise(MIKEL / "multipart_report_emails" / "report_422.eml").interaction
    assert not interaction.flags.bounce and interaction.flags.automated
    assert interaction.kind is InteractionKind.DELIVERY_STATUS
    assert interaction.bounce.action == "delayed" and interaction.bounce.status == "4.2.2"
    assert interaction.bounce.failed_recipients == []
    original = "15655788.13.1200472642578.JavaMail.Administrator@mail.ttttt.com.au"
    assert interaction.bounce.original_message_id == original


def test_bounce_recipient_values():
    bounce = _normalise(MIKEL / "multipart_report_emails" / "report_530.eml").interaction.bounce
    assert bounce.failed_recipients == ["edwin@zzzzzzz.com"]
    assert bounce.action == "failed"
    assert "Unknown E-Mail Address" in bounce.diagnostic


def test_mailer_daemon_warning_only_is_a_delay_not_a_bounce():
    # "THIS IS A WARNING MESSAGE ONLY", Action: delayed, Status: 4.5.0
    interaction = _normalise(
        MIKEL / "mime_emails" / "raw_email_with_mimepart_without_content_type.eml"
    ).interaction
    assert interaction.kind is InteractionKind.DELIVERY_STATUS
    assert not interaction.flags.bounce and interaction.flags.auto_submitted
    assert interaction.bounce.action == "delayed"
    assert interaction.bounce.original_message_id


def test_attachments_from_the_corpus():
    interaction = _normalise(MIKEL / "attachment_emails" / "attachment_pdf.eml").interaction
    (pdf,) = interaction.attachments
    assert pdf.content_type == "application/pdf"
    assert pdf.name.endswith(".pdf")
    assert not pdf.inline


def test_attached_message_is_one_attachment_not_more_body():
    interaction = _normalise(
        MIKEL / "attachment_emails" / "attachment_message_rfc822.eml"
    ).interaction
    assert [a.content_type for a in interaction.attachments] == ["message/rfc822"]
    assert interaction.body.text == "This is the first part."


def test_japanese_attachment_filename_is_decoded():
    interaction = _normalise(MIKEL / "multi_charset" / "japanese_attachment.eml").interaction
    (attachment,) = interaction.attachments
    assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in attachment.name)
