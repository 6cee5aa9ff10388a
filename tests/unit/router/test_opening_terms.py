"""``PolicySet.opening_terms``: what ConversationOpened takes from a new conversation's
policy and calendar, read once per combination, is what reading the policy and calendar
each time gave."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from libs.common.events.interaction import Channel
from libs.common.events.routing import Priority
from services.router.configuration import SAMPLE_DIR, load_config

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
    policy, calendar = CONFIG.policies.policy_and_calendar(queue, priority, channel)
    terms = CONFIG.policies.opening_terms(queue, priority, channel)
    assert terms.policy is policy and terms.calendar is calendar
    assert terms.business_hours_note == f"{policy.name}: {calendar.hours_description}"
    assert terms.first_response_minutes == policy.first_response_minutes
    assert terms.calendar_name == policy.calendar
    assert terms.assistant is policy.assistant
    assert CONFIG.policies.opening_terms(queue, priority, channel) is terms  # once


def test_a_reloaded_policy_set_has_terms_of_its_own() -> None:
    """The memo lives with its policy set (immutable; a reload builds a new one)."""
    first = CONFIG.policies.opening_terms("general", "normal", "chat")
    reloaded = load_config(
        SAMPLE_DIR / "rules.yaml", SAMPLE_DIR / "policies.yaml", SAMPLE_DIR / "agents.yaml"
    )
    again = reloaded.policies.opening_terms("general", "normal", "chat")
    assert again is not first
    assert again.policy is reloaded.policies.policy_and_calendar("general", "normal", "chat")[0]
