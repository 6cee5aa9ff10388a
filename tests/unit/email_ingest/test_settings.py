from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from services.email_ingest.mailboxes import PostAction, TlsMode
from services.email_ingest.settings import EmailIngestSettings

GOOD = {"id": "support-kr", "host": "imap.example.com", "username": "u", "password": "p"}


def test_defaults_need_no_environment(monkeypatch):
    settings = EmailIngestSettings()
    assert settings.all_mailboxes() == []
    assert settings.idle_renew_s < 29 * 60
    assert settings.max_message_bytes == 25 * 1024 * 1024


def test_mailboxes_from_one_json_env_var(monkeypatch):
    monkeypatch.setenv("EMAIL_INGEST_MAILBOXES", json.dumps([GOOD]))
    monkeypatch.setenv("EMAIL_INGEST_OWN_ADDRESSES", "Help@Desk.example, ops@desk.example")
    settings = EmailIngestSettings()
    (mailbox,) = settings.all_mailboxes()
    assert mailbox.tls is TlsMode.IMPLICIT and mailbox.effective_port == 993
    assert mailbox.folders == ["INBOX"] and mailbox.post_action is PostAction.KEEP
    assert settings.own_addresses == ["help@desk.example", "ops@desk.example"]


def test_mailboxes_from_a_yaml_file(tmp_path, monkeypatch):
    path = tmp_path / "mailboxes.yaml"
    path.write_text(
        "mailboxes:\n"
        "  - id: en\n    host: outlook.office365.com\n    username: help@x.com\n"
        "    auth: xoauth2\n    oauth2_token_file: /run/secrets/token\n"
        "    post_action: move\n    move_to: Processed\n    routing: {queue: english}\n"
    )
    monkeypatch.setenv("EMAIL_INGEST_MAILBOXES_FILE", str(path))
    (mailbox,) = EmailIngestSettings().all_mailboxes()
    assert mailbox.move_to == "Processed" and mailbox.routing.queue == "english"


@pytest.mark.parametrize(
    "override",
    [
        {"tls": "plain"},  # plain IMAP to a remote host
        {"post_action": "move"},  # nowhere to move to
        {"password": None},  # no credentials
        {"auth": "xoauth2"},  # no token source
        {"id": "has space"},
        {"folders": []},
    ],
)
def test_nonsense_is_refused_at_start(override):
    with pytest.raises(ValidationError):
        EmailIngestSettings(mailboxes=[{**GOOD, **override}])


def test_plain_is_fine_on_loopback():
    settings = EmailIngestSettings(mailboxes=[{**GOOD, "host": "127.0.0.1", "tls": "plain"}])
    assert settings.all_mailboxes()[0].effective_port == 143


def test_duplicate_ids_are_refused():
    with pytest.raises(ValidationError, match="duplicate"):
        EmailIngestSettings(mailboxes=[GOOD, GOOD])


def test_subject_reference_needs_one_group():
    with pytest.raises(ValidationError):
        EmailIngestSettings(subject_reference_pattern=r"\[#C-\d+\]")


def test_idle_renew_stays_below_29_minutes():
    with pytest.raises(ValidationError):
        EmailIngestSettings(idle_renew_s=30 * 60)


def test_plain_to_a_remote_host_needs_allow_plaintext_and_is_warned_about(caplog):
    from services.email_ingest.bootstrap import warn_plaintext_mailboxes

    remote = {**GOOD, "host": "mail.internal", "tls": "plain", "allow_plaintext": True}
    local = {**GOOD, "id": "local", "host": "127.0.0.1", "tls": "plain"}
    settings = EmailIngestSettings(mailboxes=[remote, local])
    remote_box, local_box = settings.all_mailboxes()
    assert remote_box.effective_port == 143
    assert remote_box.sends_credentials_in_clear and not local_box.sends_credentials_in_clear

    with caplog.at_level("WARNING", logger="services.email_ingest.bootstrap"):
        warn_plaintext_mailboxes(settings.all_mailboxes())
    (record,) = caplog.records
    assert "support-kr" in record.getMessage() and "mail.internal" in record.getMessage()


def test_allow_plaintext_error_names_the_setting():
    with pytest.raises(ValidationError, match="allow_plaintext"):
        EmailIngestSettings(mailboxes=[{**GOOD, "tls": "plain"}])
