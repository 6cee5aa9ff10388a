"""New text vs quoted history vs signature, English and Korean clients."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mailparser_reply.parser import EmailMessage

from services.email_ingest.normalise.replies import (
    _HEADER_KEYWORD,
    _HEADER_KEYWORDS,
    _library_patterns,
    split_reply,
)


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


_SIGNATURE_TEXT = st.lists(
    st.sampled_from(
        ["\n", "\n\n", " ", "> ", "--", "__", "-" * 33, "Thanks,", "THANK YOU,", "감사합니다.",
         "Sent from my phone", "내 iPhone에서 보냄", "Get Outlook for iOS", "word", "\u017f",
         "\t", "é"]
    ),
    max_size=30,
).map("".join)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(_SIGNATURE_TEXT, st.integers(min_value=0, max_value=60))
def test_the_signature_start_pattern_finds_what_the_library_pattern_finds(text, position):
    probe = EmailMessage(text="", languages=["ko"], keep_hyphen_lists=True)
    library = probe.SIGNATURE_REGEX
    ours = _library_patterns()[1]
    assert ours is not library and ours.pattern != library.pattern
    found, expected = ours.search(text, position), library.search(text, position)
    assert (found and found.start()) == (expected and expected.start())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([*_HEADER_KEYWORDS, "wrot", "fro", "m:", "x", " ", "보"]), max_size=6)
)
def test_one_keyword_search_answers_as_the_substring_tests(pieces):
    text = "".join(pieces)
    expected = any(keyword in text for keyword in _HEADER_KEYWORDS)
    assert (_HEADER_KEYWORD.search(text) is not None) == expected
