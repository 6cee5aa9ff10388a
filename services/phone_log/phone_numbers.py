"""Phone numbers: E.164 with ``phonenumbers``, withheld callers, PBX extensions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from libs.common.events import CustomerIdentity, Direction

#: What providers put in From when the caller withheld their number. The
#: numeric ones are Twilio's keypad spellings (ANONYMOUS, RESTRICTED, UNAVAILABLE).
ANONYMOUS_MARKERS = frozenset(
    {
        "",
        "anonymous",
        "unknown",
        "restricted",
        "private",
        "withheld",
        "unavailable",
        "blocked",
        "unknown caller",
        "+266696687",
        "266696687",
        "+7378673",
        "+86282452253",
    }
)

#: Twilio Voice SDK identities: an agent's softphone, like an extension.
SOFTPHONE_PREFIXES = ("client:",)

_URI_SCHEME = re.compile(r"^(?:sips?|tel):", re.IGNORECASE)
_VISUAL_SEPARATORS = re.compile(r"[\s().\-/]")


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    raw: str
    e164: str | None = None
    anonymous: bool = False
    extension: bool = False

    @property
    def display(self) -> str | None:
        """E.164 when we have it, else the number as given (an extension, a SIP user)."""
        return self.e164 or (self.raw or None)


@lru_cache(maxsize=8192)
def parse_number(raw: str | None, region: str, *, extension_max_digits: int = 6) -> PhoneNumber:
    """Never raises: a number we cannot read keeps its raw form and no E.164.

    Cached: the same desk and customer numbers recur in every callback of a call.
    """
    text = _strip_uri((raw or "").strip())
    if text.lower() in ANONYMOUS_MARKERS:
        return PhoneNumber(raw=text, anonymous=True)
    if text.lower().startswith(SOFTPHONE_PREFIXES):
        return PhoneNumber(raw=text, extension=True)
    compact = _VISUAL_SEPARATORS.sub("", text)
    if compact.isdigit() and len(compact) <= extension_max_digits:
        return PhoneNumber(raw=text, extension=True)
    return PhoneNumber(raw=text, e164=_to_e164(compact, region))


def _strip_uri(text: str) -> str:
    """``sip:+821012345678@pbx;user=phone`` -> ``+821012345678``."""
    text = _URI_SCHEME.sub("", text)
    for separator in ("@", ";"):
        text = text.split(separator, 1)[0]
    return text.strip()


def _to_e164(compact: str, region: str) -> str | None:
    candidates = [compact]
    if compact.isdigit():
        # Many PBXs and CTI systems send international numbers without the plus.
        candidates.append("+" + compact)
    if compact.startswith("00") and compact[2:].isdigit():
        candidates.append("+" + compact[2:])
    for candidate in candidates:
        e164 = _parse_one(candidate, region)
        if e164 is not None:
            return e164
    return None


def _parse_one(candidate: str, region: str) -> str | None:
    try:
        parsed = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def customer_side(
    from_number: PhoneNumber, to_number: PhoneNumber, direction: Direction
) -> PhoneNumber:
    """The customer's end of the call: the caller when inbound, the callee when outbound."""
    return from_number if direction is Direction.INBOUND else to_number


def customer_identity(
    number: PhoneNumber, *, call_id: str, display_name: str | None = None
) -> CustomerIdentity:
    """E.164 is the customer key; a withheld caller still gets a key unique to the call."""
    if number.anonymous:
        return CustomerIdentity(handle=f"phone:anonymous:{call_id}", anonymous=True)
    name = _useful_name(display_name, number)
    if number.e164:
        return CustomerIdentity(phone=number.e164, display_name=name)
    return CustomerIdentity(handle=f"phone:raw:{number.raw or call_id}", display_name=name)


def _useful_name(name: str | None, number: PhoneNumber) -> str | None:
    if not name:
        return None
    cleaned = name.strip().strip('"').strip()
    if not cleaned or cleaned.lower() in ANONYMOUS_MARKERS or cleaned == number.raw:
        return None
    return cleaned


def infer_pbx_direction(from_number: PhoneNumber, to_number: PhoneNumber) -> Direction:
    """A PBX does not say which side is the customer: an extension calling out is outbound."""
    if from_number.extension and not to_number.extension:
        return Direction.OUTBOUND
    return Direction.INBOUND
