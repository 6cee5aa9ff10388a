"""Phone numbers: E.164 with ``phonenumbers``, withheld callers, PBX extensions."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

import phonenumbers

from libs.common.constructed import constructed
from libs.common.events import CustomerIdentity, Direction
from libs.common.records import slot_constructor

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


#: ``PhoneNumber(raw, e164, anonymous, extension)`` by its slots' own setters: the same
#: frozen object without the generated ``__init__``'s ``object.__setattr__`` per field
#: (8.7 K instructions a number that way; with the URI and separators looked for before
#: their regexes, parse_number 64.3 → 53.5 K a new number, callgrind).
_phone_number = slot_constructor(PhoneNumber)


@lru_cache(maxsize=8192)
def parse_number(raw: str | None, region: str, *, extension_max_digits: int = 6) -> PhoneNumber:
    """Never raises: a number we cannot read keeps its raw form and no E.164.

    Cached: the same desk and customer numbers recur in every callback of a call.
    """
    text = _strip_uri((raw or "").strip())
    lowered = text.lower()
    if lowered in ANONYMOUS_MARKERS:
        return _phone_number(text, None, True, False)
    if lowered.startswith(SOFTPHONE_PREFIXES):
        return _phone_number(text, None, False, True)
    # digits have no separator to remove: the regex only for anything else
    compact = text if text.isdigit() else _VISUAL_SEPARATORS.sub("", text)
    if compact.isdigit() and len(compact) <= extension_max_digits:
        return _phone_number(text, None, False, True)
    return _phone_number(text, _to_e164(compact, region), False, False)


def _strip_uri(text: str) -> str:
    """``sip:+821012345678@pbx;user=phone`` -> ``+821012345678``."""
    if ":" not in text and "@" not in text and ";" not in text:
        return text.strip()  # nothing to strip (what PBXs and CTI systems mostly send)
    text = _URI_SCHEME.sub("", text)
    for separator in ("@", ";"):
        text = text.split(separator, 1)[0]
    return text.strip()


def _to_e164(compact: str, region: str) -> str | None:
    """The first E.164 of the number as given, with a ``+`` put in front (many PBXs and
    CTI systems send international numbers without it), or ``00`` read as ``+``."""
    e164 = _parse_one(compact, region)
    if e164 is None and compact.isdigit():
        e164 = _parse_one("+" + compact, region)
    if e164 is None and compact.startswith("00") and compact[2:].isdigit():
        e164 = _parse_one("+" + compact[2:], region)
    return e164


def _parse_one(candidate: str, region: str) -> str | None:
    if candidate.startswith("+"):
        known = _plus_e164(candidate[1:])
    elif candidate.isascii() and candidate.isdigit():
        known = _national_e164(candidate, region)
    else:
        known = _UNSURE
    if known is not _UNSURE:
        return known
    return _parsed_e164(candidate, region)


def _parsed_e164(candidate: str, region: str) -> str | None:
    """``phonenumbers``' whole path: parse, validate, format."""
    try:
        parsed = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class _Unsure:
    """The fast path cannot promise phonenumbers' answer: take the whole path."""


_UNSURE = _Unsure()
#: phonenumbers.parse's bounds on a country code and a national significant number.
_MAX_COUNTRY_CODE_DIGITS = 3
_MIN_NSN_DIGITS = 2
_MAX_NSN_DIGITS = 17
#: Longer digit strings take the whole path (parse's own limit is far above any number).
_MAX_NATIONAL_INPUT_DIGITS = 20

#: A compiled pattern's ``match`` or ``fullmatch``.
_Matcher = Callable[[str], re.Match[str] | None]


def _never(number: str) -> None:
    """The matcher of a description without a pattern: it matches nothing."""
    return None


@dataclass(frozen=True, slots=True)
class _Digits:
    """What the fast paths read of one ``PhoneMetadata`` for a number's digits, worked
    out once: its national prefix's ``match`` (None: it has none) and whether a transform
    rule goes with it, its general description's ``fullmatch`` and possible lengths.
    Read as attributes of one object made per metadata, not through ``_pattern`` and
    the metadata's descriptions each number. With the region's own country code's
    strip and general match not done twice: callgrind, a new CTI number
    (``821055501234`` in KR) 50.8 → 33.0 K instructions, a Twilio one 39.3 → 33.4 K."""

    prefix_match: _Matcher | None
    prefix_transforms: bool
    general_fullmatch: _Matcher
    possible_lengths: frozenset[int]
    local_only_lengths: frozenset[int]
    longest: int


def _digits_of(metadata: phonenumbers.PhoneMetadata) -> _Digits:
    prefix = metadata.national_prefix_for_parsing
    general = metadata.general_desc
    pattern = general.national_number_pattern
    return _Digits(
        _pattern(prefix).match if prefix else None,
        bool(metadata.national_prefix_transform_rule),
        _pattern(pattern).fullmatch if pattern else _never,
        frozenset(general.possible_length),
        frozenset(general.possible_length_local_only),
        general.possible_length[-1],
    )


@dataclass(frozen=True, slots=True)
class _CountryCode:
    """A country code's text, its metadata's ``_Digits`` and its ``_validity_checks``."""

    code: int
    text: str
    digits: _Digits
    checks: tuple[_DescCheck, tuple[_DescCheck, ...]] | None


@dataclass(frozen=True, slots=True)
class _Region:
    """A region's international prefix's ``match``, its ``_Digits``, its country code."""

    idd_match: _Matcher | None
    digits: _Digits
    country: _CountryCode | None


@cache
def _country(country_code: int) -> _CountryCode | None:
    metadata = _metadata(country_code)
    if metadata is None:
        return None
    return _CountryCode(
        country_code, str(country_code), _digits_of(metadata), _validity_checks(country_code)
    )


@cache
def _region(region: str) -> _Region | None:
    metadata = _region_metadata(region)
    if metadata is None:
        return None
    idd = metadata.international_prefix
    country = _country(metadata.country_code)
    # the country code's main region: the same metadata, the same _Digits (compared by
    # identity in _national_e164)
    same = country is not None and _metadata(country.code) is metadata
    return _Region(
        _pattern(idd).match if idd else None,
        country.digits if same and country is not None else _digits_of(metadata),
        country,
    )


#: The country codes by their text (``"82"``), for reading one off the front of digits.
_COUNTRY_CODE_TEXTS = {str(code): code for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE}


def _plus_e164(digits: str) -> str | _Unsure | None:
    """E.164 of ``+<digits>`` as ``_parsed_e164`` gives it, without ``phonenumbers.parse``.

    ``parse`` is ~60 % of the cost of a new number; for a plain ``+<digits>`` (what Twilio
    and most PBXs send) it only splits off the country code (the shortest known prefix)
    and strips a national prefix. Where it could strip one (the region's
    ``national_prefix_for_parsing`` matches), the national number has a leading zero
    (Italian numbers) or a length ``parse`` refuses, the answer is ``_UNSURE`` and the
    caller takes the whole path. Equivalence: tests/unit/phone_log/test_phone_numbers.py.
    """
    if not (digits.isascii() and digits.isdigit()) or digits[0] == "0":
        return _UNSURE
    # the shortest known prefix: by its text, as digits without a leading zero read
    codes = _COUNTRY_CODE_TEXTS
    if digits[:1] in codes:
        country_code, size = codes[digits[:1]], 1
    elif digits[:2] in codes:
        country_code, size = codes[digits[:2]], 2
    elif digits[:3] in codes:
        country_code, size = codes[digits[:3]], 3
    else:
        return _UNSURE
    national = digits[size:]
    if not _MIN_NSN_DIGITS <= len(national) <= _MAX_NSN_DIGITS or national[0] == "0":
        return _UNSURE
    country = _country(country_code)
    if country is None:
        return _UNSURE
    prefix_match = country.digits.prefix_match
    if prefix_match is not None and prefix_match(national) is not None:
        return _UNSURE
    return _valid_e164(country, national)


def _national_e164(digits: str, region: str) -> str | _Unsure | None:
    """E.164 of ASCII digits without ``+`` as ``_parsed_e164(digits, region)`` gives it,
    without ``phonenumbers.parse``.

    What CTI systems and PBXs send: a national number (``01012345678``) or an
    international one without the plus (``821012345678``). For ASCII digits ``parse``'s
    clean-up (RFC 3966 context, extension, normalising) changes nothing; what is left is
    its reading of the region's country code, its national prefix and the lengths, done
    here with the same metadata and patterns. An international dialling prefix, a
    national prefix with a transform rule or a leading zero left in the national number
    (Italy) gives ``_UNSURE``: the caller takes the whole path.
    Equivalence: tests/unit/phone_log/test_phone_numbers.py.
    """
    line = _region(region)
    if line is None or not _MIN_NSN_DIGITS <= len(digits) <= _MAX_NATIONAL_INPUT_DIGITS:
        return _UNSURE
    if line.idd_match is not None and line.idd_match(digits) is not None:
        return _UNSURE
    country = line.country
    if country is None:
        return _UNSURE
    own = line.digits
    national = digits
    tail: str | None = None
    general_matched = False  # national is known to match the country's general description
    if digits.startswith(country.text):
        # parse reads the region's own country code when the number is valid only
        # without it, or too long with it.
        tail = digits[len(country.text) :]
        rest = _strip_national_prefix(tail, own)
        if rest is _UNSURE:
            return _UNSURE
        fullmatch = own.general_fullmatch
        size = len(digits)
        if fullmatch(digits) is None and fullmatch(rest) is not None:
            national = rest
            general_matched = own is country.digits
        elif size not in own.local_only_lengths and size > own.longest:
            national = rest
        if national is rest:
            own = country.digits
    if len(national) < _MIN_NSN_DIGITS:
        return None
    if national is tail and own is line.digits:
        # the strip just done, of the same digits by the same metadata, left them as they are
        pass
    else:
        stripped = _strip_national_prefix(national, own)
        if stripped is _UNSURE:
            return _UNSURE
        # parse's length test says neither too short, nor local only, nor an invalid length
        size = len(stripped)
        if stripped is not national and (
            size not in own.local_only_lengths
            and (size in own.possible_lengths or size > own.longest)
        ):
            national = stripped
            general_matched = False
    if len(national) > _MAX_NSN_DIGITS:
        return None
    if len(national) < _MIN_NSN_DIGITS or national[0] == "0":
        return _UNSURE
    return _valid_e164(country, national, general_matched)


def _valid_e164(country: _CountryCode, national: str, general_matched: bool = False) -> str | None:
    """``+<country_code><national>`` if ``phonenumbers.is_valid_number`` says it is valid
    (``general_matched``: as ``_valid``'s).

    ``national`` has no leading zero, so it is the number's national significant number
    and its E.164 is the plain concatenation (``format_number``'s E164 case).
    """
    if _valid(country, national, general_matched):
        return f"+{country.text}{national}"
    return None


def _is_valid(country_code: int, national: str) -> bool:
    """``phonenumbers.is_valid_number`` of ``+<country_code><national>`` (``national``
    without a leading zero)."""
    country = _country(country_code)
    if country is None:
        number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
        return phonenumbers.is_valid_number(number)
    return _valid(country, national)


def _valid(country: _CountryCode, national: str, general_matched: bool = False) -> bool:
    """``phonenumbers.is_valid_number`` of the number, for a country code of one region
    without its per-type walk: valid is the general description and any one type
    (``_number_type_helper`` is not UNKNOWN), so the usual types (mobile, fixed line) are
    tried first, not after the eight rare ones (11 → ~3 pattern matches for a mobile).
    Each description is read as its ``_DescCheck`` (lengths, compiled pattern), made once
    per country code: 21.7 → 12.8 K instructions a valid mobile (callgrind).
    ``general_matched``: the caller has matched the general description's pattern (its
    lengths are still checked)."""
    checks = country.checks
    if checks is None:
        number = phonenumbers.PhoneNumber(country_code=country.code, national_number=int(national))
        return phonenumbers.is_valid_number(number)
    (lengths, fullmatch), types = checks
    size = len(national)
    if lengths and size not in lengths:
        return False
    if not general_matched and (fullmatch is None or fullmatch(national) is None):
        return False
    for lengths, fullmatch in types:  # a loop: any() over a generator cost 4 K more
        if (not lengths or size in lengths) and fullmatch and fullmatch(national) is not None:
            return True
    return False


#: What ``is_number_matching_desc`` reads of a description: its possible lengths (empty: any) and
#: its pattern's compiled ``fullmatch`` (None: matches nothing).
_DescCheck = tuple[tuple[int, ...], Callable[[str], re.Match[str] | None] | None]


def _desc_check(desc: phonenumbers.PhoneNumberDesc) -> _DescCheck:
    pattern = desc.national_number_pattern
    return tuple(desc.possible_length or ()), _pattern(pattern).fullmatch if pattern else None


@cache
def _validity_checks(country_code: int) -> tuple[_DescCheck, tuple[_DescCheck, ...]] | None:
    """``_type_descriptions`` of the country code as ``_DescCheck``s."""
    descriptions = _type_descriptions(country_code)
    if descriptions is None:
        return None
    general, types = descriptions
    return _desc_check(general), tuple(_desc_check(t) for t in types)


@cache
def _type_descriptions(
    country_code: int,
) -> tuple[phonenumbers.PhoneNumberDesc, tuple[phonenumbers.PhoneNumberDesc, ...]] | None:
    """The general description and those of the types ``_number_type_helper`` tries, for
    a country code of one region (else None: ``region_code_for_number`` must choose)."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    metadata = _metadata(country_code)
    if regions is None or len(regions) != 1 or metadata is None:
        return None
    types = [metadata.fixed_line]
    if not metadata.same_mobile_and_fixed_line_pattern:
        types.append(metadata.mobile)
    types += [
        metadata.toll_free,
        metadata.premium_rate,
        metadata.shared_cost,
        metadata.voip,
        metadata.personal_number,
        metadata.pager,
        metadata.uan,
        metadata.voicemail,
    ]
    return metadata.general_desc, tuple(t for t in types if t is not None)


def _strip_national_prefix(number: str, digits: _Digits) -> str | _Unsure:
    """The number without its national prefix, where parse would strip it."""
    prefix_match = digits.prefix_match
    if not number or prefix_match is None:
        return number
    match = prefix_match(number)
    if match is None:
        return number
    if digits.prefix_transforms:
        return _UNSURE
    fullmatch = digits.general_fullmatch
    stripped = number[match.end() :]
    if fullmatch(number) is not None and fullmatch(stripped) is None:
        return number
    return stripped


@cache
def _region_metadata(region: str) -> phonenumbers.PhoneMetadata | None:
    if region not in phonenumbers.SUPPORTED_REGIONS:
        return None
    return phonenumbers.PhoneMetadata.metadata_for_region(region)


@cache
def _metadata(country_code: int) -> phonenumbers.PhoneMetadata | None:
    region = phonenumbers.region_code_for_country_code(country_code)
    return phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)


@cache
def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


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
        return _phone_customer(number.e164, name)
    return CustomerIdentity(handle=f"phone:raw:{number.raw or call_id}", display_name=name)


#: what ``CustomerIdentity(phone=…, display_name=…)`` sets
_PHONE_CUSTOMER_SET = frozenset({"phone", "display_name"})


def _phone_customer(e164: str, name: str | None) -> CustomerIdentity:
    """``CustomerIdentity(phone=e164, display_name=name)``, put together without
    validating the two texts again (it keeps a ``str`` as it is): the same instance
    (tests/unit/phone_log/test_phone_numbers.py); callgrind 11.3 → 8.2 K instructions a
    callback."""
    if type(e164) is not str or (name is not None and type(name) is not str):
        return CustomerIdentity(phone=e164, display_name=name)
    values = {
        "email": None,
        "phone": e164,
        "handle": None,
        "display_name": name,
        "locale": None,
        "anonymous": False,
    }
    return constructed(CustomerIdentity, values, set(_PHONE_CUSTOMER_SET))


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
