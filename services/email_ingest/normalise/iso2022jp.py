"""ISO-2022-JP as Microsoft's CP50220/CP50221 decode it (no Python codec does).

Japanese mailers (Outlook, Becky!, old keitai gateways) write the NEC row-13
symbols (①, ㈱, ㍻ …) and the NEC-selected IBM extensions inside ``ESC $ B``
and half-width katakana after ``ESC ( I`` or between SO/SI. Python's
``iso2022_jp*`` codecs refuse those bytes. Every JIS X 0208 pair maps to one
Shift_JIS pair by arithmetic, and code page 932 holds exactly the NEC and IBM
additions, so each run is shifted to Shift_JIS and decoded as cp932.
"""

from __future__ import annotations

import re

_ESCAPE = re.compile(rb"\x1b(\$B|\$@|\$\(B|\$\(Q|\(B|\(J|\(H|\(I)|\x0e|\x0f")
_DOUBLE_BYTE = {b"$B", b"$@", b"$(B", b"$(Q"}
_KATAKANA = b"(I"
_SHIFT_OUT, _SHIFT_IN = b"\x0e", b"\x0f"


def decode_cp5022x(data: bytes) -> str:
    """Decode ISO-2022-JP with the CP50220/50221/50222 extensions; raises on bad bytes."""
    out: list[str] = []
    mode = b"(B"
    saved = mode
    position = 0
    for match in _ESCAPE.finditer(data):
        out.append(_decode_run(data[position : match.start()], mode))
        token = match.group(0)
        if token == _SHIFT_OUT:
            saved, mode = mode, _KATAKANA
        elif token == _SHIFT_IN:
            mode = saved
        else:
            mode = match.group(1)
        position = match.end()
    out.append(_decode_run(data[position:], mode))
    return "".join(out)


def _decode_run(run: bytes, mode: bytes) -> str:
    if not run:
        return ""
    if mode in _DOUBLE_BYTE:
        return _jis_to_sjis(run).decode("cp932")
    if mode == _KATAKANA:
        return bytes(b | 0x80 if 0x21 <= b <= 0x5F else b for b in run).decode("cp932")
    return run.decode("ascii")


def _jis_to_sjis(run: bytes) -> bytes:
    """JIS X 0208 row/cell pairs to Shift_JIS; line breaks inside a run pass through."""
    out = bytearray()
    index = 0
    while index < len(run):
        first = run[index]
        if first in (0x0A, 0x0D):  # a mailer that forgot ESC ( B before the line end
            out.append(first)
            index += 1
            continue
        if index + 1 >= len(run) or not (0x21 <= first <= 0x7E and 0x21 <= run[index + 1] <= 0x7E):
            raise UnicodeDecodeError("cp5022x", run, index, index + 1, "not a JIS X 0208 pair")
        second = run[index + 1]
        lead = (first + 1) // 2 + (0x70 if first <= 0x5E else 0xB0)
        odd_row_trail = second + (0x1F if second <= 0x5F else 0x20)
        trail = odd_row_trail if first % 2 else second + 0x7E
        out += bytes((lead, trail))
        index += 2
    return bytes(out)
