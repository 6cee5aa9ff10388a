"""Who hears about a routing event, with which template: pure functions.

A routing event becomes a :class:`Plan`: mail notices (recipient, template,
locale, RFC 3834 marking), webhook notices, and suppressions with the reason
(auto-submitted/bulk/list/bounce senders, our own address, nobody to tell).

Automatic customer mail follows RFC 3834: acknowledgements are
``auto-replied`` and rate-limited per sender; CSAT surveys are
``auto-generated``; agent replies are written by a person and carry neither.
Mail to agents and supervisors is ``auto-generated`` so their out-of-office
replies do not come back to us.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from libs.common.events import (
    AgentRef,
    AgentReplyRequested,
    CallbackRequested,
    Channel,
    ConversationAssigned,
    ConversationEscalated,
    ConversationOpened,
    ConversationResolved,
    ConversationSnapshot,
    ConversationTransferred,
    Flags,
    ReplyFailed,
    ReplyPath,
    RoutingEvent,
    SlaBreached,
    SlaWarning,
)
from libs.common.events.assistant import AssistantReplyRequested
from libs.common.events.registry import EVENT_TYPES
from libs.common.records import slot_constructor
from libs.providers.integrations import Provider
from libs.providers.registry import PROVIDERS
from services.notifier.webhook_targets import WebhookTarget


class Audience(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    SUPERVISOR = "supervisor"


#: Notices meant for the agent first (the supervisor hears when there is no agent).
AGENT_FIRST = frozenset({"agent_callback", "agent_reply_failed"})

#: Tag of conversations the router offered to the assistant (router service/assistant_flow).
ASSISTANT_TAG = "assistant"

AUTO_REPLIED = "auto-replied"
AUTO_GENERATED = "auto-generated"


@dataclass(frozen=True, slots=True)
class PlanConfig:
    locales: tuple[str, ...] = ("en", "ko")
    default_locale: str = "en"
    own_addresses: frozenset[str] = frozenset()
    own_domain: str | None = None
    webhook_targets: tuple[WebhookTarget, ...] = ()


@dataclass(frozen=True, slots=True)
class MailNotice:
    template: str
    recipient: str
    recipient_name: str | None
    audience: Audience
    locale: str
    auto_submitted: str | None  # RFC 3834 value, None for mail a person wrote
    rate_limited: bool = False  # at most one per sender per window
    in_customer_thread: bool = False  # In-Reply-To/References of the customer's mail


@dataclass(frozen=True, slots=True)
class ChatNotice:
    """A message to the customer on their own chat channel (reply path of the conversation)."""

    template: str
    purpose: str  # agent_reply | acknowledgement | csat_survey | assistant_answer
    path: ReplyPath
    locale: str
    rate_limited: bool = False  # acknowledgements: at most one per customer per window

    @property
    def recipient(self) -> str:
        return f"{self.path.provider}:{self.path.integration}:{self.path.address}"


@dataclass(frozen=True, slots=True)
class WebhookNotice:
    target: WebhookTarget

    @property
    def template(self) -> str:
        return f"webhook.{self.target.kind.value}"

    @property
    def recipient(self) -> str:
        return self.target.name


@dataclass(frozen=True, slots=True)
class Suppression:
    template: str
    recipient: str
    locale: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    mails: list[MailNotice] = field(default_factory=list)
    webhooks: list[WebhookNotice] = field(default_factory=list)
    suppressed: list[Suppression] = field(default_factory=list)
    chats: list[ChatNotice] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.mails or self.webhooks or self.suppressed or self.chats)


Decision = MailNotice | ChatNotice | Suppression | None

# The records a plan is made of, built without their generated __init__ (records.py):
# each call site gives every field.
_mail_notice = slot_constructor(MailNotice)
_chat_notice = slot_constructor(ChatNotice)
_webhook_notice = slot_constructor(WebhookNotice)
_suppression = slot_constructor(Suppression)
_plan = slot_constructor(Plan)


#: Routing events a plan may hold a mail, chat message or suppression for (the cases
#: of ``_mail_decisions`` and ``_chat_decision``); webhook targets add their own types.
NOTICE_TYPES = frozenset(
    model.ce_type
    for model in (
        ConversationOpened,
        ConversationResolved,
        AgentReplyRequested,
        AssistantReplyRequested,
        ConversationAssigned,
        ConversationTransferred,
        ReplyFailed,
        CallbackRequested,
        SlaWarning,
        SlaBreached,
        ConversationEscalated,
    )
)


def silent_types(config: PlanConfig) -> frozenset[str]:
    """Routing event types whose plan is always empty (e.g. ``interaction.routed``, most of
    a backlog's events): the consumer commits them without reading their body."""
    routing = {ce for ce, model in EVENT_TYPES.items() if issubclass(model, RoutingEvent)}
    hooked = {ce for target in config.webhook_targets for ce in target.event_types}
    return frozenset(routing - NOTICE_TYPES - hooked)


def plan_notifications(event: RoutingEvent, config: PlanConfig) -> Plan:
    # One pass sorting the decisions by kind, in their order (not a list and three
    # comprehensions over it: a function object each in 3.11), the Plan's fields given
    # in order.
    mails: list[MailNotice] = []
    suppressed: list[Suppression] = []
    chats: list[ChatNotice] = []
    for decision in (*_mail_decisions(event, config), _chat_decision(event, config)):
        if isinstance(decision, MailNotice):
            mails.append(decision)
        elif isinstance(decision, Suppression):
            suppressed.append(decision)
        elif isinstance(decision, ChatNotice):
            chats.append(decision)
    return _plan(mails, webhooks_for(event.ce_type, config.webhook_targets), suppressed, chats)


def _chat_decision(event: RoutingEvent, config: PlanConfig) -> Decision:
    """Chat and phone customers are answered on their own channel, through its reply path."""
    conv = event.conversation
    if conv.channel is Channel.EMAIL:
        return None
    # An opened conversation's three cases under one class check: every class pattern is
    # an isinstance, and a pydantic model's is ABCMeta.__instancecheck__, a Python call,
    # for each event that is not one (a conversation.assigned tried all three).
    if isinstance(event, ConversationOpened):
        if ASSISTANT_TAG in conv.tags:
            return None  # the assistant answers at once; an acknowledgement would contradict it
        if conv.reply_path and _acknowledged_by_webhook(conv.reply_path):
            locale = choose_locale((conv.language, conv.customer.locale), config)
            return _suppression(
                "chat_ack",
                conv.reply_path.address,
                locale,
                f"{conv.reply_path.provider}: the webhook's own answer acknowledged the "
                "customer; the single-use callback is kept for the agent's reply",
            )
        return _customer_chat(conv, "chat_ack", "acknowledgement", config, rate_limited=True)
    match event:
        case ConversationResolved():
            return _customer_chat(conv, "chat_csat", "csat_survey", config)
        case AssistantReplyRequested(language=language):
            notice = _customer_chat(conv, "assistant_answer", "assistant_answer", config)
            if isinstance(notice, ChatNotice):
                return replace(notice, locale=choose_locale((language,), config))
            return notice
        case AgentReplyRequested():
            return _customer_chat(conv, "customer_reply", "agent_reply", config)
        case _:
            return None


def _acknowledged_by_webhook(path: ReplyPath) -> bool:
    """chat_ingest's webhook answer (Kakao: ``useCallback`` and a waiting text) already
    acknowledged the customer; an acknowledgement through the single-use callback would
    spend the only way the agent can answer."""
    if not path.callback_url or path.provider not in PROVIDERS:
        return False
    return PROVIDERS[Provider(path.provider)].capabilities.acknowledged_by_webhook_answer


def _customer_chat(
    conv: ConversationSnapshot,
    template: str,
    purpose: str,
    config: PlanConfig,
    *,
    rate_limited: bool = False,
) -> Decision:
    locale = choose_locale((conv.language, conv.customer.locale), config)
    if conv.reply_path is None:
        return _suppression(
            template, Audience.CUSTOMER.value, locale, "no reply path on this channel"
        )
    automatic = purpose != "agent_reply"
    flagged = [name for name in _FLAG_NAMES if getattr(conv.customer_flags, name)]
    if automatic and flagged:
        return _suppression(
            template, conv.reply_path.address, locale, "sender flagged " + ",".join(flagged)
        )
    return _chat_notice(template, purpose, conv.reply_path, locale, rate_limited)


def webhooks_for(event_type: str, targets: Iterable[WebhookTarget]) -> list[WebhookNotice]:
    return [_webhook_notice(t) for t in targets if event_type in t.event_types]


def _mail_decisions(event: RoutingEvent, config: PlanConfig) -> list[Decision]:
    conv = event.conversation
    match event:
        case ConversationOpened():
            return [_customer_mail(conv, "customer_ack", config, AUTO_REPLIED, rate_limited=True)]
        case ConversationResolved():
            return [_customer_mail(conv, "customer_csat", config, AUTO_GENERATED)]
        case AgentReplyRequested():
            return [_customer_mail(conv, "customer_reply", config, None)]
        case ConversationAssigned(agent=agent):
            return [_staff_mail(agent, "agent_assigned", Audience.AGENT, config)]
        case ConversationTransferred(to_agent=to_agent):
            return [_staff_mail(to_agent, "agent_transferred", Audience.AGENT, config)]
        case ReplyFailed(agent=agent):
            return [_escalation_mail(agent, conv.supervisor, "agent_reply_failed", config)]
        case CallbackRequested():
            return [_escalation_mail(conv.assignee, conv.supervisor, "agent_callback", config)]
        case SlaWarning():
            return _sla_warning_mails(conv, config)
        case SlaBreached():
            return [
                _escalation_mail(conv.supervisor, conv.assignee, "supervisor_sla_breached", config)
            ]
        case ConversationEscalated(supervisor=supervisor):
            first = supervisor or conv.supervisor
            return [_escalation_mail(first, conv.assignee, "supervisor_escalated", config)]
        case _:
            return []


def _customer_mail(
    conv: ConversationSnapshot,
    template: str,
    config: PlanConfig,
    auto_submitted: str | None,
    *,
    rate_limited: bool = False,
) -> Decision:
    if conv.channel is not Channel.EMAIL:
        return None  # chat and phone customers are answered on their own channel
    locale = choose_locale((conv.language, conv.customer.locale), config)
    address = conv.customer.email
    if not address:
        return _suppression(template, Audience.CUSTOMER.value, locale, "customer has no email")
    if auto_submitted is not None:
        reason = automatic_mail_block_reason(address, conv.customer_flags, config)
        if reason:
            return _suppression(template, address, locale, reason)
    return _mail_notice(
        template=template,
        recipient=address,
        recipient_name=conv.customer.display_name,
        audience=Audience.CUSTOMER,
        locale=locale,
        auto_submitted=auto_submitted,
        rate_limited=rate_limited,
        in_customer_thread=True,
    )


def _sla_warning_mails(conv: ConversationSnapshot, config: PlanConfig) -> list[Decision]:
    """A warning goes to the assignee, who can still answer in time, and to the supervisor."""
    template = "supervisor_sla_warning"
    supervisor = _escalation_mail(conv.supervisor, conv.assignee, template, config)
    assignee = conv.assignee
    if assignee is None or (conv.supervisor and conv.supervisor.agent_id == assignee.agent_id):
        return [supervisor]
    if conv.supervisor is None:
        return [supervisor]  # the fallback already chose the assignee
    return [_staff_mail(assignee, template, Audience.AGENT, config), supervisor]


def _escalation_mail(
    first: AgentRef | None, fallback: AgentRef | None, template: str, config: PlanConfig
) -> Decision:
    """Time-critical notices: if the first choice is missing, tell the other one.

    An SLA warning with no supervisor configured still reaches the assignee
    (and a callback with no assignee the supervisor) rather than nobody.
    """
    primary = Audience.AGENT if template in AGENT_FIRST else Audience.SUPERVISOR
    secondary = Audience.SUPERVISOR if primary is Audience.AGENT else Audience.AGENT
    if first is not None:
        return _staff_mail(first, template, primary, config)
    if fallback is not None:
        return _staff_mail(fallback, template, secondary, config)
    return _suppression(
        template, primary.value, config.default_locale, f"no {primary} or {secondary}"
    )


def _staff_mail(
    who: AgentRef | None, template: str, audience: Audience, config: PlanConfig
) -> Decision:
    if who is None:
        return _suppression(template, audience.value, config.default_locale, f"no {audience}")
    locale = choose_locale((who.locale,), config)
    if not who.email:
        return _suppression(template, f"{audience}:{who.agent_id}", locale, "no email address")
    return _mail_notice(
        template=template,
        recipient=who.email,
        recipient_name=who.name,
        audience=audience,
        locale=locale,
        auto_submitted=AUTO_GENERATED,
        rate_limited=False,
        in_customer_thread=False,
    )


def automatic_mail_block_reason(address: str, flags: Flags, config: PlanConfig) -> str | None:
    """Why no automatic mail may go to this sender (RFC 3834 §2), or None."""
    flagged = [name for name in _FLAG_NAMES if getattr(flags, name)]
    if flagged:
        return "sender flagged " + ",".join(flagged)
    lowered = address.lower()
    if lowered in config.own_addresses:
        return "own address"
    if config.own_domain and lowered.endswith("@" + config.own_domain.lower()):
        return "own domain"
    local_part = lowered.split("@", 1)[0]
    if local_part in _NO_REPLY_LOCAL_PARTS or local_part.startswith(("owner-", "bounce")):
        return f"automated mailbox {local_part}"
    return None


_FLAG_NAMES = (
    "auto_submitted",
    "auto_reply",
    "out_of_office",
    "bulk",
    "mailing_list",
    "bounce",
    "loop",
)

#: RFC 3834 §2: never auto-respond to these senders.
_NO_REPLY_LOCAL_PARTS = frozenset(
    {"mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply", "donotreply"}
)


def choose_locale(candidates: Iterable[str | None], config: PlanConfig) -> str:
    """First candidate whose language has templates (``ko-KR`` → ``ko``)."""
    for candidate in candidates:
        if not candidate:
            continue
        language = candidate.replace("_", "-").split("-", 1)[0].lower()
        if language in config.locales:
            return language
    return config.default_locale


def rate_window_cutoff(now: datetime, window_minutes: int) -> datetime | None:
    """Automatic replies sent after this instant count against the sender; None: no limit."""
    if window_minutes <= 0:
        return None
    return now - timedelta(minutes=window_minutes)


def rate_window_allows(
    previous_sent_at: datetime | None, now: datetime, window_minutes: int
) -> bool:
    cutoff = rate_window_cutoff(now, window_minutes)
    return cutoff is None or previous_sent_at is None or previous_sent_at <= cutoff
