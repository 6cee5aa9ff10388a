"""SLA policies, queues and business-hours calendars (YAML, validated)."""

from __future__ import annotations

from datetime import date
from functools import cached_property
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from libs.common.events.interaction import Channel
from libs.common.events.routing import Priority
from libs.common.timezones import known_timezone
from services.router.domain.escalation import DEFAULT_LADDER, EscalationStep
from services.router.domain.public_holidays import country_holidays
from services.router.domain.sla import WEEKDAYS, BusinessCalendar, SlaTargets, parse_interval


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HolidaySource(_Strict):
    country: str = Field(..., description="ISO 3166 code for the `holidays` library, e.g. KR.")
    subdivision: str | None = None


class CalendarConfig(_Strict):
    timezone: str = "UTC"
    always_open: bool = False
    hours: dict[str, list[str]] = Field(default_factory=dict, description="mon: [09:00-18:00]")
    holidays: HolidaySource | None = None
    closed_dates: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_timezone(value)

    @model_validator(mode="after")
    def _valid_hours(self) -> CalendarConfig:
        unknown = set(self.hours) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"unknown weekdays {sorted(unknown)}; use {WEEKDAYS}")
        for intervals in self.hours.values():
            for text in intervals:
                parse_interval(text)
        if not self.always_open and not any(self.hours.values()):
            raise ValueError("a calendar needs opening hours or always_open: true")
        if self.holidays:
            country_holidays(self.holidays.country, subdiv=self.holidays.subdivision)
        return self


class QueueConfig(_Strict):
    name: str
    description: str = ""
    supervisor: str | None = Field(None, description="Agent id of the queue's supervisor.")


class PolicyMatch(_Strict):
    queues: list[str] = Field(default_factory=list)
    priorities: list[Priority] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)


class PolicyConfig(_Strict):
    name: str
    match: PolicyMatch = Field(default_factory=PolicyMatch)
    calendar: str
    first_response_minutes: int | None = Field(None, gt=0)
    next_response_minutes: int | None = Field(None, gt=0)
    resolution_minutes: int | None = Field(None, gt=0)
    warning_fraction: float = Field(0.8, gt=0, lt=1)
    escalation: list[EscalationStep] = Field(default_factory=lambda: list(DEFAULT_LADDER))
    assistant: bool = Field(
        False, description="New chat conversations go to the assistant first (issue #13)."
    )

    def targets(self) -> SlaTargets:
        return self.sla_targets

    @cached_property
    def sla_targets(self) -> SlaTargets:
        """Built once: the policy is immutable and every clock started asks for them."""
        return SlaTargets(
            self.first_response_minutes,
            self.next_response_minutes,
            self.resolution_minutes,
            self.warning_fraction,
        )


class PolicySet(_Strict):
    calendars: dict[str, CalendarConfig]
    queues: list[QueueConfig]
    policies: list[PolicyConfig]

    @model_validator(mode="after")
    def _references_exist(self) -> PolicySet:
        queue_names = {q.name for q in self.queues}
        for policy in self.policies:
            if policy.calendar not in self.calendars:
                raise ValueError(f"policy {policy.name}: unknown calendar {policy.calendar!r}")
            for step in policy.escalation:
                if step.move_to_queue and step.move_to_queue not in queue_names:
                    raise ValueError(f"policy {policy.name}: unknown queue {step.move_to_queue!r}")
        if not self.policies or self.policies[-1].match != PolicyMatch():
            raise ValueError("the last policy must match everything (an empty `match`)")
        return self

    @cached_property
    def calendar_objects(self) -> dict[str, BusinessCalendar]:
        return {name: build_calendar(name, cfg) for name, cfg in self.calendars.items()}

    def queue(self, name: str) -> QueueConfig | None:
        return self.queues_by_name.get(name)

    @cached_property
    def queues_by_name(self) -> dict[str, QueueConfig]:
        """Queues by name (every routing event's snapshot looks its queue up); the
        first of a repeated name, as a search in order would find it."""
        found: dict[str, QueueConfig] = {}
        for queue in self.queues:
            found.setdefault(queue.name, queue)
        return found

    def policy_for(self, queue: str, priority: str, channel: str) -> PolicyConfig:
        """``select_policy`` for stored values (see ``policy_and_calendar``)."""
        return self.policy_and_calendar(queue, priority, channel)[0]

    def policy_and_calendar(
        self, queue: str, priority: str, channel: str
    ) -> tuple[PolicyConfig, BusinessCalendar]:
        """``select_policy`` for stored values and the policy's calendar, worked out once
        per combination: routing one interaction asks several times (each clock, the
        assistant offer, the acknowledgement) and a policy set has few (queue, priority,
        channel) combinations. The set is immutable (a reload builds a new one), so the
        memo never goes stale."""
        key = (queue, priority, channel)
        found = self.selected_policies.get(key)
        if found is None:
            policy = select_policy(
                self, queue=queue, priority=Priority(priority), channel=Channel(channel)
            )
            found = (policy, self.calendar_objects[policy.calendar])
            self.selected_policies[key] = found
        return found

    @cached_property
    def selected_policies(
        self,
    ) -> dict[tuple[str, str, str], tuple[PolicyConfig, BusinessCalendar]]:
        """The memo of ``policy_and_calendar``."""
        return {}

    def opening_terms(self, queue: str, priority: str, channel: str) -> OpeningTerms:
        """``OpeningTerms`` of ``policy_and_calendar``'s pair, worked out once per
        combination like it (routing reads them for every new conversation)."""
        key = (queue, priority, channel)
        terms = self.opening_terms_memo.get(key)
        if terms is None:
            policy, calendar = self.policy_and_calendar(queue, priority, channel)
            terms = OpeningTerms(
                policy,
                calendar,
                f"{policy.name}: {calendar.hours_description}",
                policy.first_response_minutes,
                policy.calendar,
                policy.assistant,
            )
            self.opening_terms_memo[key] = terms
        return terms

    @cached_property
    def opening_terms_memo(self) -> dict[tuple[str, str, str], OpeningTerms]:
        """The memo of ``opening_terms``."""
        return {}


class OpeningTerms(NamedTuple):
    """What a new conversation's ConversationOpened takes from its policy and calendar:
    each read of a policy's field is a pydantic model's attribute read, and the note
    was formatted for every new conversation."""

    policy: PolicyConfig
    calendar: BusinessCalendar
    business_hours_note: str
    first_response_minutes: int | None
    calendar_name: str
    #: the policy offers chats to the assistant (``assistant_flow.offered_to_assistant``
    #: decides with the conversation's values; asked only where this is true)
    assistant: bool


def build_calendar(name: str, config: CalendarConfig) -> BusinessCalendar:
    weekly = {
        WEEKDAYS.index(day): tuple(sorted(parse_interval(t) for t in intervals))
        for day, intervals in config.hours.items()
    }
    closed = frozenset(config.closed_dates)
    source = config.holidays
    public = country_holidays(source.country, subdiv=source.subdivision) if source else None

    def is_holiday(day: date) -> bool:
        return day in closed or (public is not None and day in public)

    return BusinessCalendar(
        name=name,
        timezone=config.timezone,
        weekly=weekly,
        is_holiday=is_holiday,
        always_open=config.always_open,
    )


def select_policy(
    policies: PolicySet, *, queue: str, priority: Priority, channel: Channel
) -> PolicyConfig:
    """The first policy whose match fits; the last one matches everything."""
    for policy in policies.policies:
        m = policy.match
        if (
            (not m.queues or queue in m.queues)
            and (not m.priorities or priority in m.priorities)
            and (not m.channels or channel in m.channels)
        ):
            return policy
    return policies.policies[-1]
