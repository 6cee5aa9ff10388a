from __future__ import annotations

import sys

import pytest

from services.email_ingest.credentials import CredentialError, read_secret
from services.email_ingest.mailboxes import MailboxConfig

BASE = {"id": "m", "host": "imap.example.com", "username": "u"}


async def test_password_inline_file_and_command(tmp_path):
    assert await read_secret(MailboxConfig(**BASE, password="inline")) == "inline"
    path = tmp_path / "pw"
    path.write_text("from-file\n")
    assert await read_secret(MailboxConfig(**BASE, password_file=path)) == "from-file"
    command = f"{sys.executable} -c \"print('from-command')\""
    assert await read_secret(MailboxConfig(**BASE, password_command=command)) == "from-command"


async def test_oauth2_token_is_read_fresh_each_time(tmp_path):
    path = tmp_path / "token"
    config = MailboxConfig(**BASE, auth="xoauth2", oauth2_token_file=path)
    path.write_text("ya29.first")
    assert await read_secret(config) == "ya29.first"
    path.write_text("ya29.second")
    assert await read_secret(config) == "ya29.second"


async def test_failing_sources_raise_credential_errors(tmp_path):
    with pytest.raises(CredentialError):
        await read_secret(MailboxConfig(**BASE, password_file=tmp_path / "missing"))
    failing = f'{sys.executable} -c "import sys; sys.exit(3)"'
    with pytest.raises(CredentialError):
        await read_secret(MailboxConfig(**BASE, auth="xoauth2", oauth2_token_command=failing))
