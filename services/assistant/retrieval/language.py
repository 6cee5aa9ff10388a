"""Which language a customer wrote in, so that the answer comes in it.

Pure functions over the text. Korean customers mix in English words
("출금이 pending이에요"), so a message counts as Korean once a fair share of its
letters are Hangul; a message in another script (kana, Han without Hangul,
Cyrillic, Thai …) is "other" and goes to a person. Two exceptions read words,
not letters: an English sentence that only names a person in Hangul ("Hi, I'm
김민수 and my withdrawal is pending") is English, and Korean typed in Latin
letters ("chulgeum i an dwaeyo") is Korean — the customer reads Korean.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Language(StrEnum):
    KO = "ko"
    EN = "en"
    OTHER = "other"


#: Share of Hangul among the letters above which a mixed message is Korean.
HANGUL_SHARE_FOR_KOREAN = 0.25
#: Share of letters in a script we do not serve above which the message is "other".
FOREIGN_SHARE_FOR_OTHER = 0.3


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    code = ord(char)
    if 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "hangul"
    if char.isascii():
        return "latin"
    name = unicodedata.name(char, "")
    if name.startswith("LATIN"):
        return "latin"
    return "foreign"


def letter_counts(text: str) -> dict[str, int]:
    counts = {"hangul": 0, "latin": 0, "foreign": 0}
    for char in text:
        script = _script(char)
        if script:
            counts[script] += 1
    return counts


#: English words that carry a sentence's grammar; a Hangul name does not make it Korean.
_ENGLISH_GRAMMAR = frozenset(
    [
        "i",
        "i'm",
        "im",
        "my",
        "me",
        "you",
        "your",
        "we",
        "our",
        "is",
        "are",
        "was",
        "were",
        "am",
        "be",
        "been",
        "do",
        "does",
        "did",
        "don't",
        "dont",
        "can",
        "can't",
        "cant",
        "could",
        "would",
        "will",
        "the",
        "a",
        "an",
        "and",
        "or",
        "but",
        "to",
        "of",
        "for",
        "in",
        "on",
        "with",
        "from",
        "at",
        "this",
        "that",
        "it",
        "it's",
        "what",
        "why",
        "how",
        "when",
        "where",
        "who",
        "please",
        "hi",
        "hello",
        "thanks",
        "have",
        "has",
        "had",
        "not",
        "no",
        "yes",
    ]
)
#: Common Korean words and endings as customers type them in Latin letters
#: (Revised Romanization and the usual chat spellings).
_ROMANISED_WORDS = frozenset(
    [
        "annyeong",
        "annyeonghaseyo",
        "anyong",
        "chulgeum",
        "chulgum",
        "ipgeum",
        "ipgum",
        "eotteoke",
        "eottoke",
        "ottoke",
        "otoke",
        "wae",
        "an",
        "andwae",
        "andwaeyo",
        "dwae",
        "dwaeyo",
        "dwaeseoyo",
        "jom",
        "juseyo",
        "jusaeyo",
        "sangdamwon",
        "sangdamsa",
        "gyejwa",
        "bimilbeonho",
        "bibeon",
        "hwanbul",
        "jigeum",
        "neomu",
        "jinjja",
        "ige",
        "igeo",
        "geugeo",
        "mwoyeyo",
        "mwoeyo",
        "eodi",
        "eonje",
        "gamsahamnida",
        "kamsahamnida",
        "gomawoyo",
        "ne",
        "aniyo",
        "haeyo",
        "hae",
        "doenayo",
        "dwenayo",
        "itnayo",
        "eopseoyo",
        "isseoyo",
        "deureowayo",
        "deureooda",
        "bonin",
        "injeung",
    ]
)
_ROMANISED_ENDING = re.compile(r"(?:seyo|haeyo|eoyo|ayo|nayo|nida|juseyo|deyo|neyo|jiyo)$")
_LATIN_WORDS = re.compile(r"[a-z']+")
_HANGUL_WORDS = re.compile(r"[\uac00-\ud7a3]+")
#: Share of a Latin-only message's words that must read as romanised Korean.
ROMANISED_SHARE_FOR_KOREAN = 0.4


def _only_names_in_hangul(text: str) -> bool:
    """English grammar around at most two short Hangul words (a name, a nickname)."""
    hangul = _HANGUL_WORDS.findall(text)
    grammar = [w for w in _LATIN_WORDS.findall(text.lower()) if w in _ENGLISH_GRAMMAR]
    return 0 < len(hangul) <= 2 and all(len(w) <= 4 for w in hangul) and len(grammar) >= 3


def is_romanised_korean(text: str) -> bool:
    """Korean written in Latin letters: enough words are romanised Korean and
    hardly any is an English grammar word."""
    words = [w for w in _LATIN_WORDS.findall(text.lower()) if len(w) > 1]
    if not words:
        return False
    korean = sum(1 for w in words if w in _ROMANISED_WORDS or _ROMANISED_ENDING.search(w))
    english = sum(1 for w in words if w in _ENGLISH_GRAMMAR)
    return korean / len(words) >= ROMANISED_SHARE_FOR_KOREAN and english <= 1


def detect_language(text: str) -> Language:
    """ko, en, or other (no letters at all also counts as other)."""
    counts = letter_counts(text)
    letters = sum(counts.values())
    if letters == 0:
        return Language.OTHER
    if counts["foreign"] / letters > FOREIGN_SHARE_FOR_OTHER:
        return Language.OTHER
    if counts["hangul"] / letters >= HANGUL_SHARE_FOR_KOREAN:
        return Language.EN if _only_names_in_hangul(text) else Language.KO
    if not counts["latin"]:
        return Language.OTHER
    if counts["hangul"] == 0 and is_romanised_korean(text):
        return Language.KO
    return Language.EN


def has_letters(text: str) -> bool:
    return any(char.isalpha() for char in text)
