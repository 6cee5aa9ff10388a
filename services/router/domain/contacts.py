"""Who the customer is: identity keys and explicit merge rules.

Rules (tested in tests/unit/router/test_contacts.py):

1. Every interaction yields identity keys: the email, the E.164 phone, the chat
   handle — and the phone inside a handle such as ``whatsapp:+8210…``.
2. No key known → a new contact owning all keys.
3. Every known key belongs to one contact → that contact; the unknown keys are
   attached to it (a chat that shows both an email and a phone links them).
4. Known keys belong to different contacts → a conflict: nothing is merged or
   attached; the contact of the strongest key (email, then phone, then handle)
   is used and the conflict is reported.
5. An anonymous caller matches nobody and is given a fresh contact without keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import NamedTuple

from libs.common.events.interaction import CustomerIdentity

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
#: what a phone number is written with besides digits; compiled once, not looked up in
#: ``re``'s cache per call (``re.sub`` with a pattern string: ~1.3 → ~0.85 µs a number)
_PHONE_NOISE = re.compile(r"[\s\-().]")


class IdentityKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    HANDLE = "handle"


#: Stronger keys win a conflict.
KIND_STRENGTH = (IdentityKind.EMAIL, IdentityKind.PHONE, IdentityKind.HANDLE)
#: the kinds read once (``IdentityKind.EMAIL`` is a slow read on Python 3.11: EnumType's
#: __getattr__, ~100 ns against ~1 for a global)
_EMAIL, _PHONE, _HANDLE = KIND_STRENGTH


class IdentityKey(NamedTuple):
    """Immutable and ordered (kind, then value) like the frozen dataclass it was, but
    hashed in C: a key is hashed ~10 times per routed interaction (the batch's owner
    lookups, resolution, attaching), and the dataclass's generated ``__hash__`` was a
    Python call each time."""

    kind: IdentityKind
    value: str


class ContactResolution(NamedTuple):
    """Immutable like the frozen dataclass it was, built cheaper (one per routed
    interaction)."""

    contact_id: str | None  # None: create a new contact
    attach: tuple[IdentityKey, ...] = ()
    conflict: bool = False
    reason: str = ""

    @property
    def creates_contact(self) -> bool:
        return self.contact_id is None


def normalise_phone(raw: str | None) -> str | None:
    if not raw:
        return None
    # a number stored as E.164 already (a chat's, a call's: most of them) is itself: no
    # strip, substitution and match (ASCII digits only: ``\d`` takes other scripts'
    # digits too, which go the general way); ``normalise_phone_by_pattern`` is the
    # reference ``tests/unit/router/test_contacts.py`` holds it equal to
    if (
        raw[0] == "+"
        and 8 <= len(raw) <= 16
        and raw[1] != "0"
        and raw.isascii()
        and raw[1:].isdigit()
    ):
        return raw
    return normalise_phone_by_pattern(raw)


def normalise_phone_by_pattern(raw: str) -> str | None:
    """``normalise_phone`` of a non-empty number by the patterns: noise removed, a
    leading 00 written +, then E.164 or nothing."""
    digits = _PHONE_NOISE.sub("", raw.strip())
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    return digits if _E164.match(digits) else None


def identity_keys(customer: CustomerIdentity) -> tuple[IdentityKey, ...]:
    fields = customer.__dict__  # field reads (intake.py)
    if fields["anonymous"]:
        return ()
    email, handle = fields["email"], fields["handle"]
    phone = normalise_phone(fields["phone"])
    if not handle:
        # most customers: an email or a phone, of different kinds (nothing to dedupe);
        # the keys made by ``tuple.__new__``, not the named tuple's ``__new__`` (a
        # Python function)
        if email:
            key = _new_tuple(IdentityKey, (_EMAIL, email.strip().lower()))
            return (key, _new_tuple(IdentityKey, (_PHONE, phone))) if phone else (key,)
        return (_new_tuple(IdentityKey, (_PHONE, phone)),) if phone else ()
    keys: list[IdentityKey] = []
    if email:
        keys.append(IdentityKey(_EMAIL, email.strip().lower()))
    if phone:
        keys.append(IdentityKey(_PHONE, phone))
    handle = handle.strip()
    keys.append(IdentityKey(_HANDLE, handle))
    handle_phone = normalise_phone(handle.split(":", 1)[-1]) if ":" in handle else None
    if handle_phone and handle_phone != phone:
        keys.append(IdentityKey(_PHONE, handle_phone))
    return tuple(dict.fromkeys(keys))


_new_tuple = tuple.__new__


def resolve_contact(
    keys: tuple[IdentityKey, ...], owners: Mapping[IdentityKey, str]
) -> ContactResolution:
    """Decide the contact for ``keys``, given which contact owns each known key."""
    if len(keys) == 1:
        # most customers show one key (a mail's address, a chat's number): one look-up,
        # the resolution built positionally, no dict, tuple and set of the general way
        owner = owners.get(keys[0])
        if owner is None:
            return ContactResolution(None, keys, False, "new customer")
        return ContactResolution(owner, (), False, "matched")
    return resolve_contact_by_rules(keys, owners)


def resolve_contact_by_rules(
    keys: tuple[IdentityKey, ...], owners: Mapping[IdentityKey, str]
) -> ContactResolution:
    """``resolve_contact`` by the rules above for any number of keys: what its one-key
    way is held equal to (``tests/unit/router/test_contacts.py``)."""
    if not keys:
        return ContactResolution(None, reason="anonymous: fresh contact")
    known = {key: owners[key] for key in keys if key in owners}
    if not known:
        return ContactResolution(None, attach=keys, reason="new customer")
    unknown = tuple(key for key in keys if key not in owners)
    contacts = set(known.values())
    if len(contacts) == 1:
        (contact_id,) = contacts
        reason = "matched" if not unknown else "matched; new identities attached"
        return ContactResolution(contact_id, attach=unknown, reason=reason)
    strongest = min(known, key=lambda k: (KIND_STRENGTH.index(k.kind), k.value))
    return ContactResolution(
        known[strongest],
        conflict=True,
        reason=f"identities belong to {len(contacts)} contacts; not merged, used {strongest.kind}",
    )
