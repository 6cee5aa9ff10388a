"""The IMAP adapter: sessions with bounded commands, FETCH parsing."""
