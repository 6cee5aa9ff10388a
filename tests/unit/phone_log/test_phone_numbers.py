from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.common.events import CustomerIdentity, Direction
from services.phone_log.phone_numbers import (
    _UNSURE,
    _URI_SCHEME,
    _VISUAL_SEPARATORS,
    ANONYMOUS_MARKERS,
    SOFTPHONE_PREFIXES,
    PhoneNumber,
    _is_valid,
    _national_e164,
    _parse_one,
    _parsed_e164,
    _phone_customer,
    _plus_e164,
    _to_e164,
    customer_identity,
    customer_side,
    infer_pbx_direction,
    parse_number,
)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("01012345678", "+821012345678"),
        ("010-1234-5678", "+821012345678"),
        ("+82 10 1234 5678", "+821012345678"),
        ("821012345678", "+821012345678"),  # CTI systems drop the plus
        ("0212345678", "+82212345678"),
        ("15881234", "+8215881234"),  # Korean representative number
        ("+14155550123", "+14155550123"),
        ("4915791234567", "+4915791234567"),
        ("sip:+821012345678@pbx.example.com;user=phone", "+821012345678"),
        ("tel:+821012345678", "+821012345678"),
    ],
)
def test_numbers_become_e164_with_the_default_region(raw, e164):
    number = parse_number(raw, "KR")
    assert number.e164 == e164
    assert not number.anonymous


def test_region_decides_national_numbers():
    assert parse_number("(415) 555-0123", "US").e164 == "+14155550123"


@pytest.mark.parametrize(
    "raw",
    [
        "anonymous",
        "Anonymous",
        "unknown",
        "restricted",
        "",
        "  ",
        None,
        "+266696687",
        "sip:anonymous@anonymous.invalid",
        "Private",
        "withheld",
    ],
)
def test_withheld_callers_are_flagged(raw):
    number = parse_number(raw, "KR")
    assert number.anonymous
    assert number.e164 is None


def test_extensions_are_not_customers():
    number = parse_number("1001", "KR")
    assert number.extension and number.e164 is None and number.display == "1001"


def test_unreadable_number_keeps_its_raw_form():
    number = parse_number("client:alice", "KR")
    assert number.e164 is None and not number.anonymous and number.display == "client:alice"


@given(st.text(max_size=40), st.sampled_from(["KR", "US", "DE", "JP"]))
def test_parse_number_never_raises(raw, region):
    number = parse_number(raw, region)
    assert number.e164 is None or number.e164.startswith("+")


def test_anonymous_customer_still_has_a_key():
    identity = customer_identity(parse_number("anonymous", "KR"), call_id="CA1")
    assert identity.anonymous
    assert identity.key() == "phone:anonymous:CA1"


def test_customer_key_is_e164_with_a_useful_name():
    identity = customer_identity(
        parse_number("01012345678", "KR"), call_id="x", display_name='"홍길동"'
    )
    assert identity.key() == "+821012345678"
    assert identity.display_name == "홍길동"


def test_customer_side_follows_direction():
    caller, callee = parse_number("01012345678", "KR"), parse_number("+14155550123", "KR")
    assert customer_side(caller, callee, Direction.INBOUND) is caller
    assert customer_side(caller, callee, Direction.OUTBOUND) is callee


def test_extension_calling_a_number_is_outbound():
    ext, ext2 = parse_number("1001", "KR"), parse_number("1002", "KR")
    customer = parse_number("01012345678", "KR")
    assert infer_pbx_direction(ext, customer) is Direction.OUTBOUND
    assert infer_pbx_direction(customer, ext) is Direction.INBOUND
    assert infer_pbx_direction(ext, ext2) is Direction.INBOUND


# The fast path for ``+<digits>`` must give exactly what phonenumbers' whole path gives.
_COUNTRY_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


def _example_numbers() -> list[str]:
    """phonenumbers' own valid example of every type in every region, in E.164."""
    examples = []
    for region in _REGIONS:
        for kind in range(12):  # PhoneNumberType's values
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                examples.append(
                    phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                )
    return examples


def test_the_fast_path_agrees_on_every_region_s_example_numbers():
    examples = _example_numbers()
    assert len(examples) > 1000
    decided = 0
    for e164 in examples:
        assert _parse_one(e164, "KR") == _parsed_e164(e164, "KR"), e164
        decided += _plus_e164(e164[1:]) is not _UNSURE
    # It must also be the path taken for most real numbers, or it is no fast path.
    assert decided > len(examples) // 2


@given(
    st.sampled_from(_COUNTRY_CODES),
    st.text("0123456789", max_size=18),
    st.sampled_from(["KR", "US", "DE", "IT", "GB", "JP", "BR", "IN", "ZZ"]),
)
def test_the_fast_path_agrees_with_phonenumbers_on_plus_numbers(country_code, rest, region):
    candidate = f"+{country_code}{rest}"
    assert _parse_one(candidate, region) == _parsed_e164(candidate, region)


@given(
    st.sampled_from(_example_numbers()),
    st.integers(min_value=1, max_value=20),
    st.sampled_from("0123456789"),
)
def test_the_fast_path_agrees_on_near_valid_numbers(example, position, digit):
    """One digit changed, dropped or added in a valid number: the edges of validity."""
    cut = min(position, len(example))
    for candidate in (
        example[:cut] + digit + example[cut + 1 :],
        example[:cut] + example[cut + 1 :],
        example[:cut] + digit + example[cut:],
    ):
        assert _parse_one(candidate, "US") == _parsed_e164(candidate, "US"), candidate


@given(st.text("+0123456789 ", max_size=20))
def test_the_fast_path_agrees_on_digit_soup(candidate):
    assert _parse_one(candidate, "KR") == _parsed_e164(candidate, "KR")


def test_twilio_style_numbers_take_the_fast_path():
    assert _plus_e164("821012345678") == "+821012345678"
    assert _plus_e164("14155550123") == "+14155550123"
    assert _plus_e164("821012") is None  # too short for a Korean mobile: not valid
    assert _plus_e164("8201012345678") is _UNSURE  # a national prefix parse may strip
    assert _plus_e164("390612345678") is _UNSURE  # Italian leading zero


# The fast path for digits without ``+`` (CTI, PBXs) must give what the whole path gives.
def _national_forms() -> list[tuple[str, str]]:
    """Every region's example numbers as a PBX may send them, with the region they are from:
    the national significant number, the national format's digits (with the national
    prefix), the country code and number without the plus, and a 0 put in front."""
    forms = []
    for region in _REGIONS:
        for kind in range(12):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            nsn = phonenumbers.national_significant_number(example)
            national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
            digits = "".join(c for c in national if c.isdigit())
            for form in (nsn, digits, f"{example.country_code}{nsn}", f"0{nsn}"):
                forms.append((form, region))
    return forms


def test_the_national_fast_path_agrees_on_every_region_s_example_numbers():
    forms = _national_forms()
    assert len(forms) > 5000
    decided = 0
    for digits, own_region in forms:
        for region in (own_region, "KR", "US", "IT", "DE"):
            assert _parse_one(digits, region) == _parsed_e164(digits, region), (digits, region)
            decided += _national_e164(digits, region) is not _UNSURE
    assert decided > len(forms) * 5 // 2


@given(
    st.text("0123456789", max_size=22),
    st.sampled_from([*_REGIONS, "ZZ", "kr"]),
)
def test_the_national_fast_path_agrees_with_phonenumbers_on_digits(digits, region):
    assert _parse_one(digits, region) == _parsed_e164(digits, region)


@given(
    st.sampled_from(_national_forms()),
    st.integers(min_value=0, max_value=20),
    st.sampled_from("0123456789"),
)
def test_the_national_fast_path_agrees_on_near_valid_numbers(form, position, digit):
    """One digit changed, dropped or added in a valid national number."""
    number, region = form
    cut = min(position, len(number))
    for candidate in (
        number[:cut] + digit + number[cut + 1 :],
        number[:cut] + number[cut + 1 :],
        number[:cut] + digit + number[cut:],
    ):
        for where in (region, "KR"):
            assert _parse_one(candidate, where) == _parsed_e164(candidate, where), (
                candidate,
                where,
            )


def test_cti_style_numbers_take_the_national_fast_path():
    assert _national_e164("821012345678", "KR") == "+821012345678"  # the plus dropped
    assert _national_e164("01012345678", "KR") == "+821012345678"  # national prefix
    assert _national_e164("0212345678", "KR") == "+82212345678"
    assert _national_e164("4155550123", "US") == "+14155550123"
    assert _national_e164("0101234", "KR") is None  # too short for a Korean mobile
    assert _national_e164("00821012345678", "KR") is _UNSURE  # an international prefix
    assert _national_e164("0612345678", "IT") is _UNSURE  # Italian leading zero


# The validity check both fast paths use must say what phonenumbers.is_valid_number says.
def _is_valid_number(country_code: int, national: str) -> bool:
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    return phonenumbers.is_valid_number(number)


def _example_national_numbers() -> list[tuple[int, str]]:
    numbers = []
    for e164 in _example_numbers():
        parsed = phonenumbers.parse(e164)
        nsn = phonenumbers.national_significant_number(parsed)
        if not nsn.startswith("0"):
            numbers.append((parsed.country_code, nsn))
    return numbers


def test_validity_agrees_on_every_region_s_example_numbers():
    for country_code, national in _example_national_numbers():
        assert _is_valid(country_code, national), (country_code, national)
        assert _is_valid(country_code, national) == _is_valid_number(country_code, national)


@given(
    st.sampled_from(_example_national_numbers()),
    st.integers(min_value=0, max_value=17),
    st.sampled_from("0123456789"),
)
def test_validity_agrees_on_near_valid_numbers(example, position, digit):
    country_code, national = example
    cut = min(position, len(national))
    for candidate in (
        national[:cut] + digit + national[cut + 1 :],
        national[:cut] + national[cut + 1 :],
        national[:cut] + digit + national[cut:],
    ):
        if candidate and candidate[0] != "0":
            assert _is_valid(country_code, candidate) == _is_valid_number(country_code, candidate)


@given(st.sampled_from(_COUNTRY_CODES), st.from_regex(r"[1-9][0-9]{0,16}", fullmatch=True))
def test_validity_agrees_on_any_digits(country_code, national):
    assert _is_valid(country_code, national) == _is_valid_number(country_code, national)


def _number_before(raw: str | None, region: str, extension_max_digits: int) -> PhoneNumber:
    """parse_number as it was before its shortcuts (no URI, no separator, one lower())."""
    text = _URI_SCHEME.sub("", (raw or "").strip())
    for separator in ("@", ";"):
        text = text.split(separator, 1)[0]
    text = text.strip()
    if text.lower() in ANONYMOUS_MARKERS:
        return PhoneNumber(raw=text, anonymous=True)
    if text.lower().startswith(SOFTPHONE_PREFIXES):
        return PhoneNumber(raw=text, extension=True)
    compact = _VISUAL_SEPARATORS.sub("", text)
    if compact.isdigit() and len(compact) <= extension_max_digits:
        return PhoneNumber(raw=text, extension=True)
    return PhoneNumber(raw=text, e164=_to_e164(compact, region))


_NUMBER_TEXT = st.text(
    alphabet=st.sampled_from(list("0123456789+-() ./:@;\t\u00a0\u0663\u00b2sipteSIPTLclient")),
    max_size=24,
)


@given(
    st.one_of(st.none(), _NUMBER_TEXT, st.sampled_from(sorted(ANONYMOUS_MARKERS))),
    st.sampled_from(["KR", "DE", "US", "IT", "GB"]),
    st.integers(3, 8),
)
def test_parse_number_gives_what_it_gave_before_its_shortcuts(raw, region, digits):
    parse_number.cache_clear()
    number = parse_number(raw, region, extension_max_digits=digits)
    before = _number_before(raw, region, digits)
    assert number == before
    assert type(number) is PhoneNumber
    assert (number.raw, number.e164, number.anonymous, number.extension) == (
        before.raw,
        before.e164,
        before.anonymous,
        before.extension,
    )
    with pytest.raises(AttributeError):  # still frozen
        number.raw = "x"  # type: ignore[misc]


@given(
    st.text(max_size=16),
    st.one_of(st.none(), st.text(max_size=16)),
)
def test_a_number_s_customer_is_the_validated_identity(e164, name):
    built = _phone_customer(e164, name)
    validated = CustomerIdentity(phone=e164, display_name=name)
    assert type(built) is CustomerIdentity
    assert list(built.__dict__.items()) == list(validated.__dict__.items())
    assert built.__pydantic_fields_set__ == validated.__pydantic_fields_set__
    assert built.__pydantic_extra__ == validated.__pydantic_extra__
    assert built.__pydantic_private__ == validated.__pydantic_private__
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_dump_json(exclude_unset=True) == validated.model_dump_json(
        exclude_unset=True
    )
    assert built.key() == validated.key()
