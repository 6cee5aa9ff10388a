"""The mails of the benchmarks' two mixes, byte for byte as they were written before the
per-message work of issue #16 (stop 25) was cut: a SHA-256 of every mail's bytes, with a
fixed clock. A change of these bytes is a change of what agents and customers receive —
make it on purpose, and say so where the digest is updated."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bench.notify_instructions import pipeline_events
from bench.notify_throughput import backlog_events
from libs.common.events import RoutingEvent
from services.notifier.bootstrap import build_renderer, compose_config, handler_config
from services.notifier.compose import Composer
from services.notifier.decisions import plan_notifications
from services.notifier.settings import NotifierSettings

AT = datetime(2026, 11, 30, 5, 0, 0, 123456, tzinfo=UTC)

#: Computed on a06c7c0 (before this stop's changes) and unchanged since.
PINNED = {
    "pipeline": (90, 30, "31bb1172ba6356e693cba867a22173ef56f2381467f9d39af1484c139fd1748c"),
    "backlog": (150, 75, "cdf0de3247136732777b47eb134eb4990edb5cc88b6f991a3b86cc099e82db8e"),
}
MIXES = {"pipeline": pipeline_events, "backlog": backlog_events}


@pytest.mark.parametrize("mix", sorted(PINNED))
def test_the_mixes_mails_are_the_same_bytes_as_before(mix, tmp_path):
    count, mails, digest = PINNED[mix]
    settings = NotifierSettings(
        state_dir=tmp_path, mail_domain="desk.example", from_address="support@desk.example"
    )
    composer = Composer(compose_config(settings), build_renderer(settings), clock=lambda: AT)
    plan = handler_config(settings).plan
    events: Iterator[RoutingEvent] = MIXES[mix](count)
    written = hashlib.sha256()
    made = 0
    for n, event in enumerate(events):
        for notice in plan_notifications(event, plan).mails:
            written.update(composer.mail(f"ev-{n}", event, notice).raw)
            made += 1
    assert (made, written.hexdigest()) == (mails, digest)
