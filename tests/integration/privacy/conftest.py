"""The email_ingest suite's real Dovecot (one user per test) for the privacy tests."""

from tests.integration.email_ingest.conftest import dovecot, imap_user

__all__ = ["dovecot", "imap_user"]
