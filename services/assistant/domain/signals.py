"""What a customer's message says besides its question: pure lexicon checks.

Asking for a person, a legal threat, a complaint or anger, and yes/no
feedback on an answer. Korean matching runs on the text with spaces removed
so "상담원 연결" / "상담원연결" / "상담 원 연결해줘" all match; English on
lower-cased words. Lists are short on purpose: each entry is a phrasing a
desk sees daily, not a fit to a test set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPACE = re.compile(r"\s+")

# --- asking for a person -------------------------------------------------------
_PERSON_KO = (
    "상담원",
    "상담사",
    "상담원님",
    "담당자",
    "직원",
    "사람",
    "매니저",
    "실제사람",
    "진짜사람",
)
_PERSON_KO_TYPOS = ("상담웜", "상담언", "상담원닝", "상담사님", "상덤원", "상담ㅇ원")
_CONNECT_KO = (
    "연결",
    "바꿔",
    "바꾸",
    "불러",
    "이랑얘기",
    "랑얘기",
    "하고얘기",
    "과얘기",
    "와얘기",
    "이랑대화",
    "랑대화",
    "과대화",
    "와대화",
    "통화",
    "상담하고싶",
    "상담받고싶",
    "있나요",
    "없나요",
    "없어",
    "있어",
    "좀",
    "주세요",
    "줘",
    "해줘",
    "달라",
    "원해",
    "요청",
)
_PERSON_KO_DIRECT = (
    "상담원연결",
    "상담사연결",
    "사람연결",
    "직원연결",
    "사람이랑",
    "사람하고",
    "사람과",
    "사람한테",
    "사람좀",
    "사람불러",
    "사람바꿔",
    "봇말고",
    "봇싫",
    "기계말고",
    "챗봇말고",
    "자동응답말고",
    "ars말고",
)
_PERSON_EN = re.compile(
    r"\b(?:talk|speak|chat|connect|transfer|put)\b[^.?!]{0,30}\b(?:human|person|agent|"
    r"representative|rep|someone|somebody|operator|staff|people|manager|supervisor)s?\b"
    r"|\b(?:real|live|actual)\s+(?:person|human|agent|people)\b"
    r"|\b(?:human|agent|representative|operator)\s*(?:please|pls|plz|now)\b"
    r"|\b(?:get|give|want|need)\s+(?:me\s+)?(?:a|an|the)?\s*(?:human|person|agent|"
    r"representative|rep|manager|supervisor)\b"
    r"|\bnot\s+(?:a\s+)?(?:bot|robot|machine)\b|\bno\s+(?:more\s+)?bots?\b"
    r"|\b(?:don'?t|do not)\s+want\s+(?:a|the|this|your)?\s*(?:chat)?bot\b",
    re.IGNORECASE,
)
_NOT_A_REQUEST_KO = ("채용", "지원해", "구인", "입사")  # a job enquiry names 상담원 too


def asks_for_person(text: str) -> bool:
    squeezed = _SPACE.sub("", text.lower())
    if any(word in squeezed for word in _NOT_A_REQUEST_KO):
        return False
    if any(phrase in squeezed for phrase in _PERSON_KO_DIRECT):
        return True
    for person in (*_PERSON_KO, *_PERSON_KO_TYPOS):
        at = squeezed.find(person)
        if at >= 0 and any(c in squeezed[at : at + len(person) + 8] for c in _CONNECT_KO):
            return True
    return bool(_PERSON_EN.search(text))


# --- legal threats and complaints ------------------------------------------------
_LEGAL_KO = ("고소", "소송", "변호사", "법적조치", "법적대응", "법무팀", "경찰에신고", "고발")
_LEGAL_EN = re.compile(
    r"\b(?:lawsuit|sue|suing|attorney|lawyer|legal action|court|file suit|litigation)\b",
    re.IGNORECASE,
)
_COMPLAINT_KO = (
    "환불해",
    "사기",
    "신고할",
    "신고하겠",
    "금감원",
    "금융감독원",
    "소비자원",
    "민원",
    "어이없",
    "장난하",
    "짜증",
    "빡치",
    "화나",
    "열받",
    "최악",
    "개판",
    "무례",
    "뭐하는",
    "책임져",
    "보상해",
)
_COMPLAINT_EN = re.compile(
    r"\b(?:scam|scammers?|fraud|worst|ridiculous|unacceptable|disgusting|pathetic|useless|"
    r"rude|incompetent|terrible|horrible|outrageous|complain(?:t|ts|ing)?|refund me|"
    r"wtf|f+u+c+k\w*|shit\w*|damn)\b",
    re.IGNORECASE,
)
_SHOUT = re.compile(r"[A-Z]{2,}")


def legal_threat(text: str) -> bool:
    squeezed = _SPACE.sub("", text)
    return any(word in squeezed for word in _LEGAL_KO) or bool(_LEGAL_EN.search(text))


def complaint_or_anger(text: str) -> bool:
    squeezed = _SPACE.sub("", text)
    if any(word in squeezed for word in _COMPLAINT_KO) or _COMPLAINT_EN.search(text):
        return True
    return shouting(text)


def shouting(text: str) -> bool:
    """Mostly capitals over several words, or a run of !!! / ??? marks."""
    if "!!!" in text or "???" in text or "?!?" in text:
        return True
    latin = [w for w in re.findall(r"[A-Za-z]+", text) if len(w) > 1]
    if len(latin) < 4:
        return False
    caps = [w for w in latin if w.isupper() and len(w) > 2 and not _known_acronym(w)]
    return len(caps) >= 3 and len(caps) / len(latin) >= 0.3


_ACRONYMS = frozenset(
    [
        "OTP",
        "KYC",
        "KRW",
        "USDT",
        "USDC",
        "BTC",
        "ETH",
        "XRP",
        "TRX",
        "SOL",
        "API",
        "CSV",
        "TXID",
        "ERC",
        "TRC",
        "SMS",
        "PDF",
        "FAQ",
        "KST",
        "UTC",
        "ID",
    ]
)


def _known_acronym(word: str) -> bool:
    return word.rstrip("S") in _ACRONYMS or word in _ACRONYMS


# --- feedback on an answer ------------------------------------------------------------
class Feedback:
    HELPED = "helped"
    NOT_HELPED = "not_helped"
    NONE = "none"


#: Anywhere in the reply: clearly thanks or solved.
_HELPED_KO = (
    "감사",
    "고마워",
    "고맙",
    "해결됐",
    "해결되었",
    "해결했",
    "도움됐",
    "도움이됐",
    "도움이되었",
    "잘됐",
    "덕분",
)
#: Only as the start of a short reply: "네" also starts "네트워크 …".
_HELPED_KO_SHORT = (
    "네",
    "넵",
    "예",
    "응",
    "ㅇㅇ",
    "ㅇㅋ",
    "오케이",
    "굿",
    "ㄳ",
    "ㄱㅅ",
    "됐어",
    "됐습니다",
    "알겠",
)
_NOT_HELPED_KO = (
    "아니",
    "아뇨",
    "안됐",
    "안되",
    "안돼",
    "도움이안",
    "도움안",
    "해결안",
    "모르겠",
    "그게아니",
    "소용없",
    "별로",
    "ㄴㄴ",
)
_HELPED_EN = re.compile(
    r"^\s*(?:yes|yep|yeah|ok|okay|great|perfect|got it|thanks?|thank you|ty|thx|solved|"
    r"that helped|it helped|helpful|works now|all good|cool)\b",
    re.IGNORECASE,
)
_NOT_HELPED_EN = re.compile(
    r"\b(?:no|nope|nah|not really|didn'?t help|did not help|doesn'?t help|not helpful|"
    r"still (?:not|doesn'?t|can'?t|stuck)|that'?s not|wrong answer|useless)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class FeedbackReading:
    kind: str
    #: Short replies are pure feedback; a longer one also carries a new question.
    has_question: bool


def read_feedback(text: str) -> FeedbackReading:
    squeezed = _SPACE.sub("", text.lower())
    long_enough = len(squeezed) > 20
    if any(s in squeezed for s in _NOT_HELPED_KO) or _NOT_HELPED_EN.search(text):
        return FeedbackReading(Feedback.NOT_HELPED, long_enough)
    short_yes = not long_enough and any(squeezed.startswith(s) for s in _HELPED_KO_SHORT)
    if short_yes or any(s in squeezed for s in _HELPED_KO) or _HELPED_EN.search(text):
        return FeedbackReading(Feedback.HELPED, long_enough)
    return FeedbackReading(Feedback.NONE, True)
