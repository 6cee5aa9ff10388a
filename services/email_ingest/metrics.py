"""Metrics of email_ingest (beside the shared plumbing series)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

MESSAGES = Counter(
    "omnidesk_email_messages_total",
    "Mail handled, by outcome (published, duplicate, quarantined).",
    ["mailbox", "outcome"],
)
CONNECTION_FAILURES = Counter(
    "omnidesk_email_connection_failures_total",
    "IMAP sessions that failed or dropped (followed by a reconnect with backoff).",
    ["mailbox", "folder"],
)
RESYNCS = Counter(
    "omnidesk_email_uidvalidity_resyncs_total",
    "UIDVALIDITY changes that triggered a resync of a folder.",
    ["mailbox", "folder"],
)
POST_ACTION_FAILURES = Counter(
    "omnidesk_email_post_action_failures_total",
    "Post-actions (flag/move/delete) that failed and wait for the next session.",
    ["mailbox"],
)
CONNECTED = Gauge(
    "omnidesk_email_folder_connected",
    "1 while a folder's IMAP session is selected and watching.",
    ["mailbox", "folder"],
)
LAST_SYNC = Gauge(
    "omnidesk_email_last_sync_timestamp_seconds",
    "When a folder was last searched for new mail (Unix time).",
    ["mailbox", "folder"],
)
MAILBOX_STOPPED = Gauge(
    "omnidesk_email_folder_stopped",
    "1 while a folder stopped for a refused OAuth2 grant (see /readyz and the log).",
    ["mailbox", "folder"],
)
ERASED = Counter(
    "omnidesk_email_erased_total",
    "Rows and blob files erased on erasure requests, by store.",
    ["store"],
)
PRUNED = Counter(
    "omnidesk_email_pruned_total",
    "Rows and blob files removed by the retention job, by store.",
    ["store"],
)
