"""Turning declared (or undeclared, or wrong) charsets into text.

Mail in the wild names charsets loosely. Microsoft clients say
``ks_c_5601-1987`` for what is really Windows code page 949; "EUC-KR" mail
routinely contains the cp949 extension syllables; "Shift_JIS" and "GB2312"
mail contains vendor extensions too. We map each name to the superset codec,
so the declared name decodes what senders actually put in.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from charset_normalizer import from_bytes

#: Declared name (lower case) → the Python codec that decodes what senders really send.
CHARSET_ALIASES: dict[str, str] = {
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ks_c_5601-1989": "cp949",
    "ksc5601": "cp949",
    "ksc_5601": "cp949",
    "euc-kr": "cp949",
    "euc_kr": "cp949",
    "x-euc-kr": "cp949",
    "korean": "cp949",
    "unified_hangul_code": "cp949",
    "x-windows-949": "cp949",
    "windows-949": "cp949",
    "iso-2022-kr": "iso2022_kr",
    "iso-2022-jp": "iso2022_jp_ext",
    "iso-2022-jp-2": "iso2022_jp_2",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "euc-jp": "euc_jis_2004",
    "gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
    "big-5": "big5hkscs",
    "x-big5": "big5hkscs",
    "windows-874": "cp874",
    "tis-620": "cp874",
    "iso-8859-1": "cp1252",  # browsers and mailers do the same: 0x80-0x9f are cp1252 in practice
    "latin1": "cp1252",
    "us-ascii": "ascii",
    "ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}

#: Charsets under which any byte sequence decodes, so a strict decode proves nothing.
_PERMISSIVE = {"cp1252", "iso8859-1", "iso8859-15", "ascii"}

#: Names that mean "unknown": decide from the bytes.
_UNKNOWN_NAMES = {"unknown-8bit", "x-unknown", "unknown", "default", "charset", ""}


@dataclass(frozen=True, slots=True)
class DecodedText:
    text: str
    charset: str  # the codec actually used
    guessed: bool  # True when the declared charset was missing, unknown or wrong


def codec_for(declared: str | None) -> str | None:
    """The Python codec for a declared charset name, or None if unknown."""
    if not declared:
        return None
    name = declared.strip().strip("\"'").lower()
    if name in _UNKNOWN_NAMES:
        return None
    name = CHARSET_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(data: bytes, declared: str | None) -> DecodedText:
    """Decode ``data``; trust the declared charset only when it decodes cleanly."""
    codec = codec_for(declared)
    if data.isascii():
        return _decode_seven_bit(data, codec)
    if codec is not None and codec not in _PERMISSIVE:
        try:
            return DecodedText(data.decode(codec), codec, guessed=False)
        except UnicodeDecodeError:
            pass
    # Valid UTF-8 with non-ASCII bytes is almost never an accident: prefer it to a
    # permissive single-byte declaration (a common mislabel).
    try:
        return DecodedText(data.decode("utf-8"), "utf-8", guessed=codec != "utf-8")
    except UnicodeDecodeError:
        pass
    if codec is not None and codec != "ascii":
        return DecodedText(data.decode(codec, "replace"), codec, guessed=False)
    return _detect(data)


def decode_short_bytes(data: bytes, declared: str | None) -> DecodedText:
    """Decode a few bytes (a raw 8-bit header) where statistics cannot help.

    UTF-8, then the declared charset, then Korean cp949 if it decodes cleanly
    into Hangul (old Korean mailers wrote raw cp949 headers), then cp1252.
    """
    if data.isascii():
        return _decode_seven_bit(data, codec_for(declared))
    candidates = ["utf-8", codec_for(declared), "cp949", "cp1252"]
    for codec in dict.fromkeys(c for c in candidates if c):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if codec != "cp949" or _mostly_hangul(text):
            return DecodedText(text, codec, guessed=codec != candidates[1])
    return DecodedText(data.decode("cp1252", "replace"), "cp1252", guessed=True)


def _mostly_hangul(text: str) -> bool:
    wide = [ch for ch in text if ord(ch) > 0x7F]
    hangul = sum(1 for ch in wide if 0xAC00 <= ord(ch) <= 0xD7A3)
    return bool(wide) and hangul * 2 >= len(wide)


def _decode_seven_bit(data: bytes, codec: str | None) -> DecodedText:
    """ASCII bytes may still be ISO-2022-JP/KR or UTF-7 text, declared or not."""
    if codec is not None and codec != "ascii":
        try:
            return DecodedText(data.decode(codec), codec, guessed=False)
        except UnicodeDecodeError:
            pass
    if b"\x1b" in data:
        for stateful in ("iso2022_jp_ext", "iso2022_jp_2", "iso2022_kr"):
            try:
                return DecodedText(data.decode(stateful), stateful, guessed=True)
            except UnicodeDecodeError:
                continue
    return DecodedText(data.decode("ascii"), "ascii", guessed=False)


def _detect(data: bytes) -> DecodedText:
    best = from_bytes(data).best()
    if best is not None:
        return DecodedText(str(best), best.encoding, guessed=True)
    return DecodedText(data.decode("utf-8", "replace"), "utf-8", guessed=True)
