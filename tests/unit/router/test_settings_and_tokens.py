from datetime import timedelta

import pytest
from pydantic import ValidationError

from services.router.service.api_keys import Role, hash_key, new_key, role_allows
from services.router.service.csat import CsatSigner, InvalidToken
from services.router.settings import RouterSettings
from tests.unit.router.factories import T0


def test_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("ROUTER_STATE_DIR", str(tmp_path))
    settings = RouterSettings()
    assert settings.http_port == 8080
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'router.db'}"
    assert settings.creates_dev_key and settings.rules_path.exists()


def test_nonsense_is_refused():
    with pytest.raises(ValidationError):
        RouterSettings(database_url="mysql://x")
    with pytest.raises(ValidationError):
        RouterSettings(http_port=0)
    with pytest.raises(ValidationError):
        RouterSettings(csat_secret="short")
    with pytest.raises(ValidationError, match="not a readable file"):
        RouterSettings(rules_path="/nonexistent/rules.yaml")
    postgres = RouterSettings(database_url="postgresql+asyncpg://u@h/db")
    assert not postgres.is_sqlite and not postgres.creates_dev_key


def test_csat_token_roundtrip_tamper_and_expiry():
    signer = CsatSigner(b"k" * 32, valid_for=timedelta(days=1))
    token = signer.sign("conv-1", T0)
    assert signer.verify(token, T0) == "conv-1"
    with pytest.raises(InvalidToken):
        signer.verify(token.replace("conv-1", "conv-2"), T0)
    with pytest.raises(InvalidToken):
        signer.verify(token, T0 + timedelta(days=2))
    with pytest.raises(InvalidToken):
        CsatSigner(b"x" * 32).verify(token, T0)


def test_api_keys_are_random_hashed_and_ranked():
    a, b = new_key(), new_key()
    assert a != b and a.startswith("odk_") and len(hash_key(a)) == 64
    assert role_allows(Role.ADMIN, Role.SUPERVISOR) and not role_allows(Role.AGENT, Role.SUPERVISOR)
