"""Turning declared (or undeclared, or wrong) charsets into text.

Mail in the wild names charsets loosely. Microsoft clients say
``ks_c_5601-1987`` for what is really Windows code page 949; "EUC-KR" mail
routinely contains the cp949 extension syllables; "Shift_JIS" and "GB2312"
mail contains vendor extensions too. We map each name to the superset codec,
so the declared name decodes what senders actually put in.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

from services.email_ingest.normalise.iso2022jp import decode_cp5022x

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
    # Microsoft's ISO-2022-JP variants: decoded by decode_cp5022x after the stock codecs
    "cp50220": "iso2022_jp_ext",
    "cp50221": "iso2022_jp_ext",
    "cp50222": "iso2022_jp_ext",
    "csiso2022jp": "iso2022_jp_ext",
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
    if codec in _PERMISSIVE and _looks_double_byte(data):
        # "iso-8859-1" on cp949/Shift_JIS/GBK bytes: a mislabel Korean mailers still make
        best = _best_east_asian(data, None)
        if best is not None:
            return best
    if codec is not None and codec != "ascii":
        return DecodedText(data.decode(codec, "replace"), codec, guessed=False)
    return _detect(data)


_HIGH_PAIR = re.compile(rb"[\x81-\xfe][\x80-\xfe]")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def _looks_double_byte(data: bytes) -> bool:
    """Most high bytes come in pairs (CJK), not alone between ASCII (Latin accents)."""
    sample = data[:4096]
    high = len(_HIGH_BYTE.findall(sample))
    return high >= 4 and len(_HIGH_PAIR.findall(sample)) * 4 >= high


def decode_short_bytes(data: bytes, declared: str | None) -> DecodedText:
    """Decode a few bytes (a raw 8-bit header) where one guess is not enough.

    UTF-8 first (RFC 6532). Otherwise the declared charset (the body's), the
    East Asian codecs and charset-normalizer's verdict compete: a decoding that
    reads as its own script wins (Hangul from cp949, kana or kanji from cp932,
    Han from GB18030/Big5), then the lower chaos, then the declared charset, then
    Korean first (our desks' customers). cp1252 when nothing fits.
    """
    if data.isascii():
        return _decode_seven_bit(data, codec_for(declared))
    codec = codec_for(declared)
    try:
        return DecodedText(data.decode("utf-8"), "utf-8", guessed=codec != "utf-8")
    except UnicodeDecodeError:
        pass
    if codec is not None and codec not in _PERMISSIVE and codec not in _SCRIPT_OF_CODEC:
        try:  # a declared charset outside the East Asian family (KOI8-R, ISO-8859-7 …)
            return DecodedText(data.decode(codec), codec, guessed=False)
        except UnicodeDecodeError:
            pass
    best = _best_east_asian(data, codec)
    if best is not None:
        return best
    fallback = codec if codec in _PERMISSIVE and codec != "ascii" else "cp1252"
    return DecodedText(data.decode(fallback, "replace"), fallback, guessed=fallback != codec)


#: Codecs tried for undeclared or mislabelled East Asian bytes, most likely first.
_EAST_ASIAN = ("cp949", "cp932", "gb18030", "big5hkscs")
_SCRIPT_OF_CODEC = {
    "cp949": "hangul",
    "euc_kr": "hangul",
    "johab": "hangul",
    "cp932": "japanese",
    "shift_jis": "japanese",
    "euc_jis_2004": "japanese",
    "euc_jp": "japanese",
    "gb18030": "han",
    "gbk": "han",
    "gb2312": "han",
    "big5hkscs": "han",
    "big5": "han",
}


def _best_east_asian(data: bytes, declared: str | None) -> DecodedText | None:
    candidates = [c for c in dict.fromkeys((declared, *_EAST_ASIAN)) if c in _SCRIPT_OF_CODEC]
    ranked = []
    for match in from_bytes(data, cp_isolation=candidates):
        codec = _codec_name(match.encoding)
        text = str(match)
        if codec is None or not _reads_as_its_script(text, codec):
            continue
        rank = _EAST_ASIAN.index(codec) if codec in _EAST_ASIAN else len(_EAST_ASIAN)
        ranked.append((round(match.chaos, 2), codec != declared, rank, codec, text))
    if not ranked:
        return None
    _, _, _, codec, text = min(ranked)
    return DecodedText(text, codec, guessed=codec != declared)


def _codec_name(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _reads_as_its_script(text: str, codec: str) -> bool:
    """Most of the non-ASCII letters belong to the script this codec is for."""
    wide = [ch for ch in text if ord(ch) > 0x7F and not ch.isspace()]
    if not wide:
        return False
    script = _SCRIPT_OF_CODEC[codec]
    if script == "hangul":
        own = sum(1 for ch in wide if _is_common_hangul(ch))
    elif script == "japanese":
        halfwidth = sum(1 for ch in wide if 0xFF61 <= ord(ch) <= 0xFF9F)
        own = sum(1 for ch in wide if _is_kana(ch) or _is_han(ch)) - halfwidth
    else:
        own = sum(1 for ch in wide if _is_han(ch))
    return own * 2 > len(wide) or (own * 2 == len(wide) and script == "hangul")


def _is_common_hangul(ch: str) -> bool:
    """One of the 2,350 syllables of KS X 1001: nearly all real Korean text. Other
    bytes read as cp949 (Shift_JIS, GBK) land in the rare extension syllables."""
    if not 0xAC00 <= ord(ch) <= 0xD7A3:
        return False
    try:
        # Python's euc_kr spells other syllables as 8-byte jamo sequences (Annex 3)
        return len(ch.encode("euc_kr")) == 2
    except UnicodeEncodeError:
        return False


def _is_han(ch: str) -> bool:
    return 0x4E00 <= ord(ch) <= 0x9FFF or 0x3400 <= ord(ch) <= 0x4DBF or ord(ch) >= 0x20000


def _is_kana(ch: str) -> bool:
    return 0x3040 <= ord(ch) <= 0x30FF


def _decode_seven_bit(data: bytes, codec: str | None) -> DecodedText:
    """ASCII bytes may still be ISO-2022-JP/KR or UTF-7 text, declared or not."""
    if codec is not None and codec != "ascii":
        try:
            return DecodedText(data.decode(codec), codec, guessed=False)
        except UnicodeDecodeError:
            pass
    if b"\x1b" in data or (codec or "").startswith("iso2022_jp"):
        declared_jp = (codec or "").startswith("iso2022_jp")
        for stateful in ("iso2022_jp_ext", "cp5022x", "iso2022_jp_2", "iso2022_kr"):
            try:
                text = decode_cp5022x(data) if stateful == "cp5022x" else data.decode(stateful)
            except UnicodeDecodeError:
                continue
            guessed = not (declared_jp and stateful.startswith(("iso2022_jp", "cp5022x")))
            return DecodedText(text, stateful, guessed=guessed)
    return DecodedText(data.decode("ascii"), "ascii", guessed=False)


def _detect(data: bytes) -> DecodedText:
    best = from_bytes(data).best()
    if best is not None:
        return DecodedText(str(best), best.encoding, guessed=True)
    return DecodedText(data.decode("utf-8", "replace"), "utf-8", guessed=True)
