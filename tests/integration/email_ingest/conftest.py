"""A real Dovecot for the whole email_ingest integration suite; one user per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tools.testing.dovecot import DovecotServer


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    # No skip: without dovecot-imapd installed this raises DovecotNotInstalled and
    # every test here errors, which is what CI must see.
    with DovecotServer() as server:
        yield server


@pytest.fixture
def imap_user(dovecot: DovecotServer) -> str:
    user = f"desk{uuid.uuid4().hex[:8]}"
    dovecot.add_user(user, f"pw-{user}")
    return user
