"""Issue #17: the defect classes seen on real support mail, one small fixture each.

The fixtures under ``fixtures/defects/`` are written for these tests (anonymised,
no third-party mail); each test names what the agent must read.
"""

from __future__ import annotations

import binascii
from pathlib import Path

import pytest

from libs.common.events import InteractionKind
from services.email_ingest.normalise import NormalisedMail
from services.email_ingest.normalise.charsets import decode_bytes, decode_short_bytes
from services.email_ingest.normalise.iso2022jp import decode_cp5022x
from services.email_ingest.normalise.parsing import header_block_start
from services.email_ingest.normalise.replies import split_reply
from services.email_ingest.normalise.uuencode import extract_uuencoded
from tests.unit.email_ingest.mailbuild import parse

FIXTURES = Path(__file__).parent / "fixtures" / "defects"


def _mail(name: str) -> NormalisedMail:
    return parse((FIXTURES / name).read_bytes())


# 1 -- every inline text part, in order ------------------------------------------


def test_1_html_parts_after_the_plain_text_are_kept_in_order():
    body = _mail("01_plain_then_html_parts.eml").interaction.body
    assert body.text == (
        "My withdrawal of 0.5 BTC has been pending for two days.\n\n"
        "Transaction id: TX-4471\n\nPlease check.\n\n"
        "Sent via SecureRelay — scanned for viruses"
    )
    assert body.from_html


def test_1_alternatives_still_give_one_version_of_the_text():
    raw = (
        b"From: a@customer.example\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="a"\r\n\r\n'
        b"--a\r\nContent-Type: text/plain\r\n\r\nHello plain\r\n"
        b"--a\r\nContent-Type: text/html\r\n\r\n<p>Hello html</p>\r\n--a--\r\n"
    )
    body = parse(raw).interaction.body
    assert body.text == "Hello plain" and not body.from_html


# 2 -- headers after a first line that is not a header ---------------------------


@pytest.mark.parametrize(
    ("name", "subject", "text"),
    [
        (
            "02a_banner_before_headers.eml",
            "Account locked",
            "My account is locked after 2FA reset.",
        ),
        ("02b_mbox_from_line.eml", "Deposit missing", "I deposited 100 USDT but it does not show."),
        ("02c_blank_first_line.eml", "KYC documents", "Which documents do you need for KYC?"),
    ],
)
def test_2_headers_after_a_banner_mbox_line_or_blank_line_are_recovered(name, subject, text):
    interaction = _mail(name).interaction
    assert interaction.subject == subject
    assert interaction.customer.email == "jiwoo@customer.example"
    assert interaction.body.text == text
    assert "<" not in interaction.body.text  # the HTML was converted, not shown raw


def test_2_a_normal_mail_and_a_body_line_are_left_alone():
    assert header_block_start(b"From: a@b.example\r\nSubject: x\r\n\r\nbody") == 0
    # a first line that is not a header, not followed by a header block: unchanged
    assert header_block_start(b"hello there\r\nthis is text\r\n") == 0


# 3 -- signature detection ignores quoted lines ----------------------------------


def test_3_new_text_below_a_quoted_signature_is_the_body():
    body = _mail("03b_below_quoted_signature.eml").interaction.body
    assert body.text == "거래 ID는 TX-4471 입니다. 아직도 출금 대기 중이에요."
    assert body.quoted == "> 안녕하세요, 거래 ID를 알려 주세요.\n> --\n> 고객지원팀 드림"
    assert body.signature is None


def test_3_bottom_posted_and_inline_answers_are_the_body():
    body = _mail("03_bottom_posted_reply.eml").interaction.body
    assert body.text == "The transaction id is TX-4471, and it is still pending.\n\nNo, thank you."
    assert body.quoted.startswith("On Tue, 2 Jan 2024 at 10:00, Support <help@desk.example> wrote:")
    assert "> Is there anything else?" in body.quoted
    assert body.signature == "--\nMinsu"


def test_3_html_blockquotes_are_quotes_and_the_answers_below_them_the_body():
    body = _mail("03c_html_bottom_posted_reply.eml").interaction.body
    assert body.text == "거래 ID는 TX-4471 입니다.\n\n아니요, 감사합니다."
    assert body.from_html and body.signature is None
    assert body.quoted.splitlines()[1:] == [
        "> 거래 ID를 알려 주세요.",
        "> --",
        "> 고객지원팀 드림",
        "> 다른 문의 사항이 있으신가요?",
    ]


def test_3_top_posting_is_unchanged():
    mail = "Thanks!\n\nOn Mon, 1 Jan 2024, Desk <h@d.example> wrote:\n> old\n> --\n> Desk"
    parts = split_reply(mail)
    assert parts.text == "Thanks!" and parts.quoted.endswith("> Desk") and parts.signature is None


# 4 -- ISO-2022-JP with NEC / IBM extensions -------------------------------------


def test_4_iso_2022_jp_with_nec_extensions_decodes():
    interaction = _mail("04_iso2022jp_nec_extensions.eml").interaction
    assert interaction.subject == "①出金の件（株）"  # noqa: RUF001 -- the sender's full-width ( )
    assert interaction.customer.display_name == "山田太郎"
    assert interaction.body.text == (
        "お世話になっております。\n①出金が届きません。\n②㈱テスト商事の山田です。"
    )
    assert "\x1b" not in interaction.body.text
    assert interaction.body.language == "ja"


def test_4_cp5022x_half_width_katakana_and_shift_out():
    assert decode_cp5022x(b"\x1b(I12\x1b(B x \x0e12\x0f y") == "ｱｲ x ｱｲ y"
    assert decode_bytes("日本語".encode("iso2022_jp"), "iso-2022-jp").text == "日本語"


# 5 -- raw 8-bit headers and mislabelled charsets --------------------------------


@pytest.mark.parametrize(
    ("name", "display_name", "subject", "text"),
    [
        ("05a_raw_gbk_headers.eml", "王伟", "关于提现问题", "我的提现还没有到账，请帮忙查看。"),  # noqa: RUF001
        (
            "05b_raw_shift_jis_headers.eml",
            "山田 太郎",
            "出金について",
            "出金がまだ届いていません。",
        ),
        (
            "05c_raw_euc_kr_headers_latin1_label.eml",
            "김민수",
            "출금 문의드립니다",
            "출금이 이틀째 처리되지 않고 있습니다. 확인 부탁드립니다.",
        ),
    ],
)
def test_5_raw_east_asian_headers_and_mislabelled_bodies(name, display_name, subject, text):
    interaction = _mail(name).interaction
    assert interaction.customer.display_name == display_name
    assert interaction.subject == subject
    assert interaction.body.text == text


@pytest.mark.parametrize(
    ("text", "codec"),
    [("김민수", "cp949"), ("똠방각하", "cp949"), ("山田", "cp932"), ("王伟", "gbk"),
     ("陳大文", "big5"), ("Résumé für Müller", "cp1252")],
)  # fmt: skip
def test_5_short_header_bytes_pick_the_codec_whose_script_reads(text, codec):
    data = text.encode(codec)
    assert decode_short_bytes(data, None).text == text
    assert decode_short_bytes(data, codec).text == text


def test_5_latin1_label_on_latin_text_stays_latin():
    data = "Café crème, s'il vous plaît — merci".encode("cp1252")
    assert decode_bytes(data, "iso-8859-1").text == "Café crème, s'il vous plaît — merci"


# 6 -- uuencoded attachments ------------------------------------------------------


def test_6_uuencoded_part_and_inline_block_become_attachments():
    result = _mail("06_uuencoded_attachments.eml")
    interaction = result.interaction
    assert interaction.body.text == "Here is the screenshot of the error:\n\nThanks."
    names = {a.name: a for a in interaction.attachments}
    assert set(names) == {"error.png", "receipt.pdf"}
    assert names["error.png"].content_type == "image/png"
    assert result.blobs[names["error.png"].sha256].startswith(b"\x89PNG\r\n\x1a\n")
    assert result.blobs[names["receipt.pdf"].sha256].startswith(b"%PDF-1.4")
    assert names["receipt.pdf"].size == len(b"%PDF-1.4\n% anonymised receipt\n") + 256


def test_6_a_begin_line_that_is_not_uuencode_stays_text():
    text = "begin 644 notes.txt\nthis is not uuencoded at all!!\nend\n"
    assert extract_uuencoded(text) == (text, [])
    data = bytes(range(90))
    block = "".join(binascii.b2a_uu(data[i : i + 45]).decode() for i in range(0, 90, 45))
    remaining, (file,) = extract_uuencoded(f"see\nbegin 600 x.bin\n{block}`\nend\n")
    assert remaining == "see\n" and file.data == data


# 7 -- delay notices are not bounces ----------------------------------------------


def test_7_a_delay_notice_is_linked_but_not_a_bounce():
    interaction = _mail("07_delay_dsn.eml").interaction
    assert interaction.kind is InteractionKind.DELIVERY_STATUS
    assert not interaction.flags.bounce
    assert interaction.flags.automated
    assert interaction.bounce.original_message_id == "reply-7@desk.example"
    assert interaction.bounce.action == "delayed" and interaction.bounce.status == "4.4.1"
    assert interaction.bounce.failed_recipients == []


def test_7_a_failed_report_is_still_a_bounce():
    raw = (FIXTURES / "07_delay_dsn.eml").read_bytes()
    failed = raw.replace(b"Action: delayed", b"Action: failed").replace(b"4.4.1", b"5.1.1")
    interaction = parse(failed).interaction
    assert interaction.flags.bounce
    assert interaction.bounce.failed_recipients == ["minsu@customer.example"]


# 8 -- nameless parts -------------------------------------------------------------


def test_8_nameless_parts_are_named_by_type_and_empty_containers_left_out():
    attachments = _mail("08_nameless_parts.eml").interaction.attachments
    assert [(a.name, a.content_type, a.size) for a in attachments] == [
        ("pgp-encrypted.asc", "application/pgp-encrypted", len(b"Version: 1")),
        ("octet-stream.bin", "application/octet-stream", 82),
    ]


def test_8_a_container_with_an_unaccepted_boundary_is_split_by_its_delimiters():
    raw = (
        b"From: a@customer.example\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/alternative;\r\n boundary=----=_NextPart_000_01\r\n\r\n"
        b"------=_NextPart_000_01\r\nContent-Type: text/plain\r\n\r\nThe real text\r\n"
        b"------=_NextPart_000_01--\r\n"
    )
    interaction = parse(raw).interaction
    assert interaction.body.text == "The real text" and interaction.attachments == []


# 9 -- encoded words in the local part -------------------------------------------


def test_9_encoded_word_in_the_local_part_stays_literal_and_is_flagged():
    result = _mail("09_encoded_word_local_part.eml")
    assert result.interaction.customer.email == "=?utf-8?b?7zmn6ri464+z?=@customer.example"
    assert result.interaction.body.text == "I cannot log in since yesterday."
    (defect,) = result.defects
    assert "encoded word in the local part" in defect


def test_9_ordinary_senders_have_no_defects():
    assert _mail("01_plain_then_html_parts.eml").defects == ()
