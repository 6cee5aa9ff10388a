"""The suite's invariants, as a pure function over what was observed.

Observed: the accepted inputs (from the load generator), the records of the
interactions, routing and notifications topics, and what the SMTP server
received. Definitions:

- **lost input**: accepted (2xx / APPEND OK) but no interaction event carries its
  provider id.
- **duplicated input**: two or more *distinct* ce_ids for one input (the same
  ce_id written twice is a redelivery the consumers dedupe on; it is counted,
  not failed).
- **unrouted interaction** (lost): an interaction without an InteractionRouted.
- **duplicated routing**: two or more distinct InteractionRouted ce_ids for one
  interaction id.
- **lost notification**: a mail the notifier's own plan calls for (per routing
  event, recipient, template) that has no ``sent``/``suppressed`` outcome, or
  whose ``sent`` outcome's Message-ID never reached the SMTP server.
- **duplicated notification**: two distinct ``sent`` outcomes for one (routing
  event id, recipient, template), or the SMTP server receiving one Message-ID
  (deterministic per that triple) more than once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from tests.faults.load import Input


@dataclass(frozen=True)
class InteractionSeen:
    ce_id: str
    provider: str
    provider_id: str
    at: float  # Kafka record timestamp, seconds


@dataclass(frozen=True)
class RoutedSeen:
    ce_id: str
    interaction_id: str
    at: float


@dataclass(frozen=True)
class NoticeExpected:
    routing_event_id: str
    recipient: str
    template: str
    at: float  # when the routing event was published


@dataclass(frozen=True)
class OutcomeSeen:
    ce_id: str
    routing_event_id: str
    recipient: str
    template: str
    status: str  # sent | suppressed | failed
    channel: str
    message_id: str | None


@dataclass(frozen=True)
class MailReceived:
    message_id: str
    recipients: tuple[str, ...]
    at: float


@dataclass
class Observation:
    interactions: list[InteractionSeen] = field(default_factory=list)
    routed: list[RoutedSeen] = field(default_factory=list)
    notices: list[NoticeExpected] = field(default_factory=list)
    outcomes: list[OutcomeSeen] = field(default_factory=list)
    mails: list[MailReceived] = field(default_factory=list)


@dataclass
class Verdict:
    sent: int = 0
    accepted: int = 0
    refused: int = 0  # never accepted: the provider gave up (not ours to lose)
    lost_inputs: list[str] = field(default_factory=list)
    duplicated_inputs: list[str] = field(default_factory=list)
    unrouted: list[str] = field(default_factory=list)
    duplicated_routing: list[str] = field(default_factory=list)
    notices: int = 0
    lost_notifications: list[str] = field(default_factory=list)
    duplicated_notifications: list[str] = field(default_factory=list)
    redelivered: int = 0  # same ce_id seen more than once (deduped downstream)

    @property
    def lost(self) -> int:
        return len(self.lost_inputs) + len(self.unrouted) + len(self.lost_notifications)

    @property
    def duplicated(self) -> int:
        return (
            len(self.duplicated_inputs)
            + len(self.duplicated_routing)
            + len(self.duplicated_notifications)
        )

    @property
    def pending(self) -> bool:
        """Something is still missing (it may yet arrive)."""
        return self.lost > 0

    def summary(self) -> str:
        parts = [
            f"accepted {self.accepted}/{self.sent}",
            f"lost inputs {self.lost_inputs[:5]}",
            f"duplicated inputs {self.duplicated_inputs[:5]}",
            f"unrouted {self.unrouted[:5]}",
            f"duplicated routing {self.duplicated_routing[:5]}",
            f"lost notifications {self.lost_notifications[:5]}",
            f"duplicated notifications {self.duplicated_notifications[:5]}",
        ]
        return "; ".join(parts)


def check(inputs: Iterable[Input], seen: Observation, *, since: float = 0.0) -> Verdict:
    """Inputs of one scenario against everything observed; notices from ``since`` on."""
    verdict = Verdict()
    ids_by_input = _interaction_ids(seen.interactions)
    ours: set[str] = set()
    for item in inputs:
        verdict.sent += 1
        if not item.accepted:
            verdict.refused += 1
            continue
        verdict.accepted += 1
        ce_ids = ids_by_input.get((item.provider, item.provider_id), set())
        label = f"{item.kind}#{item.seq}"
        if not ce_ids:
            verdict.lost_inputs.append(label)
        elif len(ce_ids) > 1:
            verdict.duplicated_inputs.append(label)
        ours |= ce_ids
    _check_routing(ours, seen.routed, verdict)
    _check_notifications(seen, since, verdict)
    verdict.redelivered = _redeliveries(seen)
    return verdict


def _interaction_ids(seen: Iterable[InteractionSeen]) -> dict[tuple[str, str], set[str]]:
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for event in seen:
        ids[(event.provider, bare_id(event.provider_id))].add(event.ce_id)
    return ids


def _check_routing(ours: set[str], routed: Iterable[RoutedSeen], verdict: Verdict) -> None:
    routing_ids: dict[str, set[str]] = defaultdict(set)
    for event in routed:
        if event.interaction_id in ours:
            routing_ids[event.interaction_id].add(event.ce_id)
    for interaction_id in sorted(ours):
        found = routing_ids.get(interaction_id, set())
        if not found:
            verdict.unrouted.append(interaction_id)
        elif len(found) > 1:
            verdict.duplicated_routing.append(interaction_id)


def _check_notifications(seen: Observation, since: float, verdict: Verdict) -> None:
    outcomes: dict[tuple[str, str, str], list[OutcomeSeen]] = defaultdict(list)
    for outcome in seen.outcomes:
        outcomes[_notice_key(outcome)].append(outcome)
    arrivals = Counter(bare_id(mail.message_id) for mail in seen.mails)
    expected = {_notice_key(n) for n in seen.notices if n.at >= since}
    verdict.notices = len(expected)
    for key in sorted(expected):
        found = outcomes.get(key, [])
        label = "/".join(key)
        sent = {o.ce_id: o for o in found if o.status == "sent"}
        if len(sent) > 1:
            verdict.duplicated_notifications.append(label)
        mail_ids = {
            bare_id(o.message_id) for o in sent.values() if o.channel == "smtp" and o.message_id
        }
        if any(arrivals[m] > 1 for m in mail_ids):
            verdict.duplicated_notifications.append(f"{label} (smtp)")
        if not sent and not any(o.status == "suppressed" for o in found):
            verdict.lost_notifications.append(label)
        elif any(arrivals[m] == 0 for m in mail_ids):
            verdict.lost_notifications.append(f"{label} (not received)")


def _redeliveries(seen: Observation) -> int:
    counts = Counter(e.ce_id for e in seen.interactions)
    counts.update(e.ce_id for e in seen.routed)
    counts.update(e.ce_id for e in seen.outcomes)
    return sum(n - 1 for n in counts.values() if n > 1)


def _notice_key(item: NoticeExpected | OutcomeSeen) -> tuple[str, str, str]:
    return (item.routing_event_id, item.recipient.lower(), item.template)


def bare_id(message_id: str) -> str:
    return message_id.strip().strip("<>")


# -- recovery -------------------------------------------------------------------


def intake_recovered_at(
    inputs: Iterable[Input],
    seen: Observation,
    fault_at: float,
    kinds: frozenset[str] | None = None,
) -> float | None:
    """When the first input (of ``kinds``) sent after the fault was accepted *and* routed."""
    ids_by_input = _interaction_ids(seen.interactions)
    routed_at: dict[str, float] = {}
    for event in seen.routed:
        routed_at[event.interaction_id] = min(event.at, routed_at.get(event.interaction_id, 1e18))
    done: list[float] = []
    for item in inputs:
        if item.first_sent_at < fault_at or item.accepted_at is None:
            continue
        if kinds is not None and item.kind not in kinds:
            continue
        ids = ids_by_input.get((item.provider, item.provider_id), ())
        times = [routed_at[i] for i in ids if i in routed_at]
        if times:
            done.append(max(item.accepted_at, min(times)))
    return min(done) if done else None


def notify_recovered_at(seen: Observation, fault_at: float) -> float | None:
    """When the first mail for a routing event published after the fault arrived."""
    published = {n.routing_event_id: n.at for n in seen.notices}
    event_of = {o.message_id: o.routing_event_id for o in seen.outcomes if o.message_id is not None}
    arrivals = [
        mail.at
        for mail in seen.mails
        if published.get(event_of.get(mail.message_id, ""), 0.0) >= fault_at
    ]
    return min(arrivals) if arrivals else None


def phantom_interactions(inputs: Iterable[Input], seen: Observation) -> list[str]:
    """Interaction events no input of the suite explains (a poison turned into an event)."""
    known = {(item.provider, item.provider_id) for item in inputs}
    return [e.ce_id for e in seen.interactions if (e.provider, bare_id(e.provider_id)) not in known]
