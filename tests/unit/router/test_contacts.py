from hypothesis import given
from hypothesis import strategies as st

from libs.common.events.interaction import CustomerIdentity
from services.router.domain.contacts import (
    IdentityKey,
    IdentityKind,
    identity_keys,
    normalise_phone,
    normalise_phone_by_pattern,
    resolve_contact,
    resolve_contact_by_rules,
)
from tests.unit.router.test_field_reads import identity_keys_before

E, P, H = IdentityKind.EMAIL, IdentityKind.PHONE, IdentityKind.HANDLE


def test_keys_include_the_phone_inside_a_whatsapp_handle():
    keys = identity_keys(CustomerIdentity(handle="whatsapp:+821012345678"))
    assert IdentityKey(P, "+821012345678") in keys
    assert IdentityKey(H, "whatsapp:+821012345678") in keys


def test_email_is_lower_cased_and_phone_normalised():
    keys = identity_keys(CustomerIdentity(email=" Kim@Example.COM ", phone="+82 10-1234-5678"))
    assert keys == (IdentityKey(E, "kim@example.com"), IdentityKey(P, "+821012345678"))


def test_normalise_phone_refuses_non_e164():
    assert normalise_phone("01012345678") is None
    assert normalise_phone("00821012345678") == "+821012345678"
    assert normalise_phone("anonymous") is None


def test_anonymous_caller_matches_nobody():
    keys = identity_keys(CustomerIdentity(phone="+821012345678", anonymous=True))
    assert keys == ()
    assert resolve_contact(keys, {}).creates_contact


def test_new_customer_gets_all_keys():
    keys = identity_keys(CustomerIdentity(email="a@x.com", phone="+821011112222"))
    result = resolve_contact(keys, {})
    assert result.creates_contact and set(result.attach) == set(keys)


def test_whatsapp_then_missed_call_from_same_number_is_one_contact():
    whatsapp = identity_keys(
        CustomerIdentity(phone="+821012345678", handle="whatsapp:+821012345678")
    )
    owners = dict.fromkeys(whatsapp, "c1")
    call = identity_keys(CustomerIdentity(phone="+821012345678"))
    assert resolve_contact(call, owners).contact_id == "c1"


def test_unknown_keys_attach_to_the_single_matching_contact():
    keys = (IdentityKey(E, "a@x.com"), IdentityKey(P, "+821011112222"))
    result = resolve_contact(keys, {IdentityKey(E, "a@x.com"): "c1"})
    assert result.contact_id == "c1" and result.attach == (IdentityKey(P, "+821011112222"),)
    assert not result.conflict


def test_conflicting_identities_are_not_merged():
    keys = (IdentityKey(E, "a@x.com"), IdentityKey(P, "+821011112222"), IdentityKey(H, "tg:9"))
    owners = {keys[0]: "c-email", keys[1]: "c-phone"}
    result = resolve_contact(keys, owners)
    assert result.conflict
    assert result.contact_id == "c-email"  # strongest key wins
    assert result.attach == ()  # the unknown handle is not attached either


def test_one_key_resolves_as_the_rules_do():
    key = IdentityKey(E, "a@x.com")
    for owners in ({}, {key: "c1"}, {IdentityKey(P, "+821011112222"): "c2"}):
        assert resolve_contact((key,), owners) == resolve_contact_by_rules((key,), owners)


#: numbers as written: E.164 and near misses (too short or long, a leading 0 or 00,
#: noise, other scripts' digits, a trailing newline)
phones = st.text(alphabet="+0123456789 -().\n\u0663\u00b2a", max_size=18) | st.sampled_from(
    ["+821012345678", "+8210123", "+1234567", "+123456789012345", "+0821012345678"]
)


@given(phones)
def test_normalise_phone_is_its_patterns_way(raw: str) -> None:
    expected = normalise_phone_by_pattern(raw) if raw else None
    assert normalise_phone(raw) == expected


@given(
    st.none() | st.sampled_from(["kim@example.com", " Kim@Example.COM ", ""]),
    st.none() | phones,
    st.none() | st.sampled_from(["whatsapp:+821012345678", "line:U1", " tg:9 ", ""]),
    st.booleans(),
)
def test_identity_keys_are_the_general_ways(
    email: str | None, phone: str | None, handle: str | None, anonymous: bool
) -> None:
    customer = CustomerIdentity(email=email, phone=phone, handle=handle, anonymous=anonymous)
    keys = identity_keys(customer)
    assert keys == identity_keys_before(customer)
    assert all(type(key) is IdentityKey for key in keys)
