"""Keyed identifier hashes: normalised like the customer key, keyed, kind-separated."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from libs.common.privacy.identifiers import (
    IdentifierHasher,
    IdentifierKind,
    InvalidIdentifier,
    PrivacySettings,
    normalise,
)

KEY = b"k" * 32


@pytest.mark.parametrize(
    ("kind", "given", "normalised"),
    [
        (IdentifierKind.EMAIL, "  Alice.Kim@Example.CO.KR ", "alice.kim@example.co.kr"),
        (IdentifierKind.PHONE, "+82 10-1234-5678", "+821012345678"),
        (IdentifierKind.PHONE, "0082 (10) 1234.5678", "+821012345678"),
        (IdentifierKind.HANDLE, "Telegram:123456", "telegram:123456"),
        (IdentifierKind.HANDLE, "slack:U0ABCdef", "slack:U0ABCdef"),  # the id keeps its case
    ],
)
def test_identifiers_are_normalised_like_the_customer_key(kind, given, normalised):
    assert normalise(kind, given) == normalised


@pytest.mark.parametrize(
    ("kind", "given"),
    [
        (IdentifierKind.EMAIL, "not-an-address"),
        (IdentifierKind.PHONE, "010-1234-5678"),  # no country code: not E.164
        (IdentifierKind.HANDLE, "123456"),
    ],
)
def test_what_cannot_be_normalised_is_refused(kind, given):
    with pytest.raises(InvalidIdentifier):
        normalise(kind, given)


def test_the_hash_is_keyed_and_separates_kinds():
    hasher = IdentifierHasher(KEY)
    digest = hasher.email("Alice@Example.com")
    assert digest == hasher.email("alice@example.com")
    assert len(digest) == 64 and "alice" not in digest
    assert IdentifierHasher(b"x" * 32).email("alice@example.com") != digest
    assert hasher.digest(IdentifierKind.HANDLE, "mail:alice@example.com") != digest
    assert hasher.key_id == IdentifierHasher(KEY).key_id != IdentifierHasher(b"x" * 32).key_id
    assert KEY.decode() not in hasher.key_id


def test_settings_refuse_a_short_key_and_leave_hashing_off_without_one(monkeypatch):
    monkeypatch.delenv("PRIVACY_HASH_KEY", raising=False)
    assert PrivacySettings().hasher() is None
    monkeypatch.setenv("PRIVACY_HASH_KEY", "")  # as an env file writes "unset"
    assert PrivacySettings().hasher() is None
    monkeypatch.setenv("PRIVACY_HASH_KEY", "short")
    with pytest.raises(ValidationError, match="at least 32"):
        PrivacySettings()
    monkeypatch.setenv("PRIVACY_HASH_KEY", "s" * 40)
    settings = PrivacySettings()
    assert "s" * 40 not in repr(settings)
    assert settings.hasher() is not None
