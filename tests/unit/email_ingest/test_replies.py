"""New text vs quoted history vs signature, English and Korean clients."""

from __future__ import annotations

import pytest

from services.email_ingest.normalise.replies import split_reply


@pytest.mark.parametrize(
    ("body", "marker"),
    [
        (
            "Still waiting.\n\nOn Tue, Jan 2, 2024 at 3:04 PM Support <help@x.com> wrote:\n> Hi",
            "On Tue, Jan 2, 2024",
        ),
        ("Still waiting.\n\n-----Original Message-----\nFrom: Support\nSent: Tuesday", "-----Orig"),
        (
            "Still waiting.\n\nFrom: Support <help@x.com>\nSent: Tuesday\nTo: me\nSubject: RE: x",
            "From: Support",
        ),
        ("아직 처리가 안 됐어요.\n\n-----Original Message-----\nFrom: 고객센터", "-----Orig"),
        ("아직 처리가 안 됐어요.\n\n-----원본 메시지-----\n보낸 사람: 고객센터", "-----원본"),
        (
            "아직 처리가 안 됐어요.\n\n보낸 사람: 고객센터 <help@x.com>\n날짜: 2024-01-02",
            "보낸 사람",
        ),
        (
            "아직 처리가 안 됐어요.\n\n"
            "2024년 1월 2일 (화) 오후 3:04, 고객센터 <help@x.com>님이 작성:\n> 안녕",
            "2024년 1월 2일",
        ),
        (
            "아직 처리가 안 됐어요.\n\n"
            "2024년 1월 2일 화요일, 고객센터<help@x.com>님이 작성했습니다:\n> 안녕",
            "2024년 1월 2일",
        ),
        (
            "아직 처리가 안 됐어요.\n\n2024. 1. 2. 오후 3:04, 고객센터 <help@x.com> 작성:\n> 안녕",
            "2024. 1. 2.",
        ),
        ("Still waiting.\n\n> earlier text\n> more earlier text\n", "> earlier"),
    ],
)
def test_quoted_history_is_separated(body: str, marker: str):
    parts = split_reply(body)
    assert parts.text in ("Still waiting.", "아직 처리가 안 됐어요.")
    assert parts.quoted is not None and parts.quoted.startswith(marker)


def test_signature_is_separated():
    parts = split_reply("Please check my deposit.\n\nBest regards,\nJohn\nACME Corp")
    assert parts.text == "Please check my deposit."
    assert parts.signature == "Best regards,\nJohn\nACME Corp"


def test_sig_dash_dash_delimiter():
    parts = split_reply("Please check.\n-- \nJohn Doe\n+82 10 1234 5678")
    assert parts.text == "Please check."
    assert parts.signature.startswith("--")


def test_plain_text_without_history_is_kept_whole():
    body = "Line one.\n\n- item one\n- item two\nThanks for the help with this"
    assert split_reply(body).text == body


def test_a_bare_forward_keeps_its_content_as_text():
    body = "-----Original Message-----\nFrom: a\nTo: b\n\nforwarded words"
    parts = split_reply(body)
    assert parts.text == body
    assert parts.quoted is None


def test_crlf_is_normalised():
    assert split_reply("a\r\nb\r\n").text == "a\nb"
