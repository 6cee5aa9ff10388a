"""notifier: routing events in, mail and webhooks out, each effect recorded once.

Consumes ``support.routing.v1``, decides who hears about what
(:mod:`services.notifier.decisions`), renders per-locale templates, sends
through SMTP and outgoing webhooks, and publishes a ``NotificationOutcome``
on ``support.notifications.v1`` for every sent, suppressed or failed notice.
"""
