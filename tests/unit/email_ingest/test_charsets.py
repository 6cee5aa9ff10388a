"""Legacy charsets in bodies and headers, declared, mislabelled and undeclared."""

from __future__ import annotations

import base64
from email.header import Header

import pytest

from services.email_ingest.normalise.charsets import codec_for, decode_bytes, decode_short_bytes
from tests.unit.email_ingest.mailbuild import parse, raw_mail

KOREAN = "안녕하세요. 출금 신청이 30분째 처리되지 않고 있습니다. 확인 부탁드립니다."
JAPANESE = "お世話になっております。出金がまだ反映されていません。"


@pytest.mark.parametrize(
    ("declared", "codec"),
    [
        ("ks_c_5601-1987", "cp949"),
        ("KS_C_5601-1987", "cp949"),
        ("euc-kr", "cp949"),
        ("ISO-2022-KR", "iso2022_kr"),
        ("iso-2022-jp", "iso2022_jp_ext"),
        ("Shift_JIS", "cp932"),
        ("gb2312", "gb18030"),
        ("big5", "big5hkscs"),
        ("windows-1251", "cp1251"),
        ("windows-874", "cp874"),
        ('"utf-8"', "utf-8"),
        ("x-unknown", None),
        ("no-such-charset", None),
    ],
)
def test_charset_aliases(declared: str, codec: str | None):
    assert codec_for(declared) == codec


def test_euc_kr_mail_decodes_to_hangul():
    body = KOREAN.encode("euc-kr")
    result = parse(
        raw_mail(body, content_type="text/plain; charset=EUC-KR", transfer_encoding="8bit")
    )
    assert result.interaction.body.text == KOREAN
    assert result.interaction.body.language == "ko"


def test_euc_kr_label_with_cp949_only_syllables():
    # "똠방각하 햏" uses syllables outside KS X 1001: only cp949 has them.
    text = "똠방각하 햏"
    result = parse(raw_mail(text.encode("cp949"), content_type="text/plain; charset=euc-kr"))
    assert result.interaction.body.text == text


def test_ks_c_5601_base64_body_and_encoded_word_subject():
    subject = Header("출금 지연 문의", "ks_c_5601-1987").encode()  # not a Python codec name
    body = base64.b64encode(KOREAN.encode("cp949")).decode()
    result = parse(
        raw_mail(
            body,
            headers={"Subject": subject},
            content_type='text/plain; charset="ks_c_5601-1987"',
            transfer_encoding="base64",
        )
    )
    assert result.interaction.subject == "출금 지연 문의"
    assert result.interaction.body.text == KOREAN


def test_iso_2022_jp_mail():
    body = JAPANESE.encode("iso-2022-jp")
    subject = (
        "=?ISO-2022-JP?B?" + base64.b64encode("出金について".encode("iso-2022-jp")).decode() + "?="
    )
    result = parse(
        raw_mail(body, headers={"Subject": subject}, content_type="text/plain; charset=ISO-2022-JP")
    )
    assert result.interaction.subject == "出金について"
    assert result.interaction.body.text == JAPANESE
    assert result.interaction.body.language == "ja"


def test_iso_2022_kr_mail():
    result = parse(
        raw_mail(KOREAN.encode("iso2022_kr"), content_type="text/plain; charset=ISO-2022-KR")
    )
    assert result.interaction.body.text == KOREAN


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("Shift_JIS", JAPANESE),
        ("GB2312", "您好，我的提款还没有到账，请帮忙查一下，谢谢。"),  # noqa: RUF001
        ("Big5", "您好，我的提款還沒有到帳，請幫忙查一下，謝謝。"),  # noqa: RUF001
        ("windows-1251", "Здравствуйте, мой вывод средств не пришёл."),
        ("windows-1252", "Grüße aus Köln — bitte prüfen."),
    ],
)
def test_declared_legacy_charsets(charset: str, text: str):
    codec = codec_for(charset)
    result = parse(raw_mail(text.encode(codec), content_type=f"text/plain; charset={charset}"))
    assert result.interaction.body.text == text


def test_undeclared_korean_is_detected():
    body = (KOREAN + "\n") * 3
    result = parse(raw_mail(body.encode("cp949"), content_type="text/plain"))
    assert result.interaction.body.text == body.strip()


def test_latin1_label_on_utf8_bytes_prefers_utf8():
    result = parse(raw_mail(KOREAN.encode("utf-8"), content_type="text/plain; charset=iso-8859-1"))
    assert result.interaction.body.text == KOREAN


def test_unknown_charset_falls_back_to_detection():
    result = parse(raw_mail(KOREAN.encode("utf-8"), content_type="text/plain; charset=x-bogus"))
    assert result.interaction.body.text == KOREAN


def test_raw_cp949_header_bytes():
    raw = raw_mail(b"body", content_type="text/plain")
    raw = raw.replace(b"Subject: Withdrawal", b"Subject: " + "출금 문의".encode("cp949"))
    assert parse(raw).interaction.subject == "출금 문의"


def test_rfc2231_korean_filename():
    boundary = "b1"
    body = (
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n첨부합니다\r\n"
        f"--{boundary}\r\nContent-Type: application/pdf\r\n"
        "Content-Disposition: attachment; "
        "filename*=UTF-8''%EC%9E%85%EA%B8%88%ED%99%95%EC%9D%B8.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
        f"--{boundary}--\r\n"
    )
    result = parse(raw_mail(body, content_type=f'multipart/mixed; boundary="{boundary}"'))
    (attachment,) = result.interaction.attachments
    assert attachment.name == "입금확인.pdf"
    assert attachment.size == len(b"%PDF-1.4\n")


def test_decode_short_bytes_prefers_declared_then_hangul():
    assert decode_short_bytes("테스트".encode("cp949"), None).text == "테스트"
    assert decode_short_bytes("Verão".encode("cp1252"), None).text == "Verão"
    assert decode_short_bytes("Привет".encode("koi8-r"), "koi8-r").text == "Привет"


def test_decode_bytes_reports_guesses():
    assert not decode_bytes("한글".encode("cp949"), "euc-kr").guessed
    assert decode_bytes("한글 텍스트 입니다".encode(), None).guessed
