"""Which language a customer wrote in: Hangul against Latin letters.

Pure functions over the text. Korean customers mix in English words
("출금이 pending이에요"), so a message counts as Korean once a fair share of its
letters are Hangul; a message in another script (kana, Han without Hangul,
Cyrillic, Thai …) is "other" and goes to a person.
"""

from __future__ import annotations

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


def detect_language(text: str) -> Language:
    """ko, en, or other (no letters at all also counts as other)."""
    counts = letter_counts(text)
    letters = sum(counts.values())
    if letters == 0:
        return Language.OTHER
    if counts["foreign"] / letters > FOREIGN_SHARE_FOR_OTHER:
        return Language.OTHER
    if counts["hangul"] / letters >= HANGUL_SHARE_FOR_KOREAN:
        return Language.KO
    return Language.EN if counts["latin"] else Language.OTHER


def has_letters(text: str) -> bool:
    return any(char.isalpha() for char in text)
