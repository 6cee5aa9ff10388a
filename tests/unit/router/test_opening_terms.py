"""``interactions._opening_terms``: what ConversationOpened takes from a new
conversation's policy and calendar, read once per ``policy_of`` pair, is what reading
the policy and calendar each time gave."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from libs.common.events.interaction import Channel
from libs.common.events.routing import Priority
from services.router.configuration import SAMPLE_DIR, load_config
from services.router.service import interactions as flow

CONFIG = load_config(
    SAMPLE_DIR / "rules.yaml", SAMPLE_DIR / "policies.yaml", SAMPLE_DIR / "agents.yaml"
)
QUEUES = [queue.name for queue in CONFIG.policies.queues] + ["no-such-queue"]


@given(
    queue=st.sampled_from(QUEUES),
    priority=st.sampled_from([p.value for p in Priority]),
    channel=st.sampled_from([c.value for c in Channel]),
)
def test_the_terms_are_the_policys_and_calendars(queue: str, priority: str, channel: str) -> None:
    selected = CONFIG.policies.policy_and_calendar(queue, priority, channel)
    policy, calendar = selected
    terms = flow._opening_terms(selected)
    assert terms.selected is selected
    assert terms.business_hours_note == f"{policy.name}: {calendar.hours_description}"
    assert terms.first_response_minutes == policy.first_response_minutes
    assert terms.calendar_name == policy.calendar
    assert terms.assistant is policy.assistant
    assert flow._OPENING_TERMS[id(selected)] is terms


def test_a_pair_of_another_policy_set_is_not_taken_for_a_known_one() -> None:
    """An entry holds its pair: a pair made later (a reload's) never shares its id;
    and the memo is bounded, cleared when full."""
    first = flow._opening_terms(CONFIG.policies.policy_and_calendar("general", "normal", "chat"))
    reloaded = load_config(
        SAMPLE_DIR / "rules.yaml", SAMPLE_DIR / "policies.yaml", SAMPLE_DIR / "agents.yaml"
    )
    again = reloaded.policies.policy_and_calendar("general", "normal", "chat")
    assert again is not first.selected
    assert flow._opening_terms(again).selected is again
    for _ in range(flow._OPENING_TERMS_MAX + 1):
        flow._opening_terms((again[0], again[1]))  # a new pair each time
    assert len(flow._OPENING_TERMS) <= flow._OPENING_TERMS_MAX
