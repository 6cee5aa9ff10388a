"""Keyed hashes of customer identifiers, so stores can find a contact's rows
without any topic or log carrying the identifier itself.

``support.privacy.v1`` is compacted: its latest record per contact is kept for
ever. An erasure request that named the e-mail address in clear would keep the
very identifier it asks to forget. So the request carries HMAC-SHA256 digests
under a deployment secret (``PRIVACY_HASH_KEY``) shared by the services; each
store hashes what it holds (at write time, next to the row) and matches.

The identifier is normalised first, the same way the interaction's customer
key is (architecture §3): lower-cased e-mail address, E.164 phone number,
``provider:user-id`` handle. The kind is part of the hashed text, so an
e-mail and a handle that happen to read alike never collide.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from enum import StrEnum

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Shorter keys are refused: an HMAC key is as strong as its entropy.
MIN_KEY_CHARS = 32
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


class IdentifierKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    HANDLE = "handle"


class InvalidIdentifier(ValueError):
    """An identifier that cannot be normalised (and so could never match)."""


class PrivacySettings(BaseSettings):
    """The hashing secret every service holding personal data shares."""

    # An env file's "PRIVACY_HASH_KEY=" means unset, as everywhere in omnidesk.
    model_config = SettingsConfigDict(env_prefix="PRIVACY_", extra="ignore", env_ignore_empty=True)

    hash_key: SecretStr | None = Field(
        None,
        description=(
            "Secret of the keyed identifier hashes (HMAC-SHA256), the same in every service;"
            f" at least {MIN_KEY_CHARS} characters. Without it erasure by identifier is off."
            " Changing it orphans the hashes stored so far."
        ),
    )

    @field_validator("hash_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_KEY_CHARS:
            raise ValueError(f"PRIVACY_HASH_KEY needs at least {MIN_KEY_CHARS} characters")
        return value

    def hasher(self) -> IdentifierHasher | None:
        if self.hash_key is None:
            return None
        return IdentifierHasher(self.hash_key.get_secret_value().encode())


def normalise(kind: IdentifierKind, value: str) -> str:
    text = value.strip()
    if kind is IdentifierKind.EMAIL:
        if "@" not in text or any(c.isspace() for c in text):
            raise InvalidIdentifier(f"not an e-mail address: {value!r}")
        return text.lower()
    if kind is IdentifierKind.PHONE:
        phone = _PHONE_SEPARATORS.sub("", text)
        if phone.startswith("00"):
            phone = "+" + phone[2:]
        if not _E164.match(phone):
            raise InvalidIdentifier(f"not an E.164 phone number (+<country><number>): {value!r}")
        return phone
    provider, sep, user = text.partition(":")
    if not sep or not provider or not user:
        raise InvalidIdentifier(f"not a provider:user-id handle: {value!r}")
    return f"{provider.lower()}:{user}"


class IdentifierHasher:
    """HMAC-SHA256 over ``<kind>:<normalised identifier>``, hex."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        #: Names the key without revealing it: a store hashing under another key
        #: would match nothing, so it refuses the request instead of "erasing" nothing.
        self.key_id = hashlib.sha256(b"omnidesk-privacy-key-id\x00" + key).hexdigest()[:16]

    def digest(self, kind: IdentifierKind, value: str) -> str:
        text = f"{kind.value}:{normalise(kind, value)}".encode()
        return hmac.new(self._key, text, hashlib.sha256).hexdigest()

    def keyed(self, label: str, value: str) -> str:
        """HMAC of an internal id (e.g. a contact id that is itself derived from an
        identifier): a tombstone made from it cannot be recomputed without the key."""
        return hmac.new(self._key, f"{label}:{value}".encode(), hashlib.sha256).hexdigest()

    def email(self, address: str) -> str:
        return self.digest(IdentifierKind.EMAIL, address)
