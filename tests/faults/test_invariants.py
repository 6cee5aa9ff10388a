"""The checker itself, on plain data: what counts as lost, duplicated, redelivered."""

from __future__ import annotations

from tests.faults.invariants import (
    InteractionSeen,
    MailReceived,
    NoticeExpected,
    Observation,
    OutcomeSeen,
    RoutedSeen,
    check,
    intake_recovered_at,
    phantom_interactions,
)
from tests.faults.load import Input


def _input(seq: int, *, accepted: bool = True) -> Input:
    item = Input(seq, "telegram", "telegram", f"u:{seq}", "t", first_sent_at=100.0 + seq)
    item.accepted_at = 100.5 + seq if accepted else None
    return item


def _seen(*seqs: int) -> Observation:
    seen = Observation()
    for seq in seqs:
        seen.interactions.append(InteractionSeen(f"i{seq}", "telegram", f"u:{seq}", 101.0 + seq))
        seen.routed.append(RoutedSeen(f"r{seq}", f"i{seq}", 102.0 + seq))
    return seen


def _mail(seen: Observation, event: str, *, outcome_ids: tuple[str, ...], arrivals: int) -> None:
    seen.notices.append(NoticeExpected(event, "Lee@desk.example", "agent_assigned", 103.0))
    for ce_id in outcome_ids:
        seen.outcomes.append(
            OutcomeSeen(ce_id, event, "lee@desk.example", "agent_assigned", "sent", "smtp", "<m1>")
        )
    seen.mails.extend(MailReceived("<m1>", ("lee@desk.example",), 104.0) for _ in range(arrivals))


def test_every_input_once_is_clean():
    seen = _seen(1, 2)
    _mail(seen, "r1", outcome_ids=("o1",), arrivals=1)
    verdict = check([_input(1), _input(2)], seen)
    assert (verdict.lost, verdict.duplicated, verdict.accepted, verdict.notices) == (0, 0, 2, 1)


def test_accepted_without_an_event_is_lost_but_a_refused_input_is_not():
    verdict = check([_input(1), _input(2), _input(3, accepted=False)], _seen(1))
    assert verdict.lost_inputs == ["telegram#2"]
    assert verdict.refused == 1


def test_a_second_ce_id_for_one_input_is_a_duplicate_the_same_id_twice_is_not():
    seen = _seen(1)
    seen.interactions.append(InteractionSeen("i1", "telegram", "u:1", 105.0))
    assert check([_input(1)], seen).duplicated == 0
    assert check([_input(1)], seen).redelivered == 1
    seen.interactions.append(InteractionSeen("i1-bis", "telegram", "u:1", 106.0))
    verdict = check([_input(1)], seen)
    assert verdict.duplicated_inputs == ["telegram#1"]
    assert verdict.unrouted == ["i1-bis"]


def test_two_routing_decisions_for_one_interaction_are_a_duplicate():
    seen = _seen(1)
    seen.routed.append(RoutedSeen("r1-bis", "i1", 110.0))
    assert check([_input(1)], seen).duplicated_routing == ["i1"]


def test_notifications_lost_failed_or_received_twice():
    seen = _seen(1)
    _mail(seen, "r1", outcome_ids=(), arrivals=0)
    assert len(check([_input(1)], seen).lost_notifications) == 1
    seen = _seen(1)
    _mail(seen, "r1", outcome_ids=("o1",), arrivals=2)
    assert len(check([_input(1)], seen).duplicated_notifications) == 1
    seen = _seen(1)
    _mail(seen, "r1", outcome_ids=("o1", "o2"), arrivals=1)
    assert len(check([_input(1)], seen).duplicated_notifications) == 1


def test_notices_before_the_cursor_belong_to_an_earlier_scenario():
    seen = _seen(1)
    _mail(seen, "r1", outcome_ids=(), arrivals=0)
    assert check([_input(1)], seen, since=200.0).lost == 0


def test_recovery_counts_only_inputs_sent_after_the_fault():
    seen = _seen(1, 5)
    assert intake_recovered_at([_input(1), _input(5)], seen, fault_at=103.0) == 107.0


def test_an_event_no_input_explains_is_a_phantom():
    seen = _seen(1, 2)
    assert phantom_interactions([_input(1)], seen) == ["i2"]
