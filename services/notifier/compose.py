"""What a notice sends: the exact mail or webhook request, built from templates.

Pure apart from the clock: rendering (Jinja2), message building
(:mod:`services.notifier.mail`) and webhook bodies
(:mod:`services.notifier.webhooks`). A broken template or an address no server
will accept raises :class:`PermanentDeliveryError` — retrying cannot fix it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from libs.common.events import (
    AgentReplyRequested,
    ConversationResolved,
    RoutingEvent,
    utc_now,
)
from libs.common.events.assistant import AssistantReplyRequested
from libs.common.records import slot_constructor
from libs.providers.outbound import OutboundMessage
from services.notifier.chat import (
    CSAT_PAYLOAD_PREFIX,
    assistant_buttons,
    csat_buttons,
    idempotency_key,
)
from services.notifier.csat import rating_links
from services.notifier.decisions import ChatNotice, MailNotice
from services.notifier.errors import PermanentDeliveryError
from services.notifier.mail import (
    InvalidAddress,
    MailIdentity,
    MailMeta,
    OutgoingMail,
    Threading,
    build_mail,
    customer_threading,
    staff_threading,
)
from services.notifier.rendering import Renderer, RenderError, slack_escape, template_context
from services.notifier.webhook_targets import WebhookKind, WebhookTarget
from services.notifier.webhooks import WebhookRequest, signed_json_request, slack_request

SLACK_TEMPLATE = "webhook_summary"

#: ``OutboundMessage(**fields)`` without the keyword packing and ``BaseModel.__init__`` in
#: Python (the purpose given as its string, made its enum member by pydantic-core, not by
#: ``EnumType.__call__`` in Python): the same validator, the same object.
_new_message = OutboundMessage.__pydantic_validator__.validate_python


@dataclass(frozen=True, slots=True)
class ComposeConfig:
    identity: MailIdentity
    csat_base_url: str
    csat_secret: str
    summary_locale: str = "en"


#: a mail's metadata without its generated __init__ (records.py)
_mail_meta = slot_constructor(MailMeta)


class Composer:
    def __init__(
        self,
        config: ComposeConfig,
        renderer: Renderer,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._config = config
        self._renderer = renderer
        self._now = clock

    def mail(self, event_id: str, event: RoutingEvent, notice: MailNotice) -> OutgoingMail:
        try:
            context = notice_context(event, notice, self._config)
            rendered = self._renderer.render(notice.template, notice.locale, context)
            return build_mail(self._config.identity, self._meta(event_id, event, notice), rendered)
        except (RenderError, InvalidAddress) as exc:
            raise PermanentDeliveryError(str(exc)) from exc

    def chat_message(
        self, event_id: str, event: RoutingEvent, notice: ChatNotice, *, quick_replies: bool
    ) -> OutboundMessage:
        """The customer's chat message: the agent's words, or a rendered ack/survey."""
        buttons = (
            csat_buttons({}, CSAT_PAYLOAD_PREFIX)
            if notice.purpose == "csat_survey" and quick_replies
            else []
        )
        reply_id = event.reply_id if isinstance(event, AgentReplyRequested) else None
        if isinstance(event, AssistantReplyRequested):
            text = event.text  # the article's answer, already in the customer's language
            buttons = assistant_buttons(event.quick_replies) if quick_replies else []
        elif isinstance(event, AgentReplyRequested):
            text = event.text
        else:
            context = template_context(
                event, recipient_name=None, brand=self._config.identity.from_name
            )
            try:
                text = self._renderer.render_text(
                    notice.template, notice.locale, {**context, "quick_replies": bool(buttons)}
                ).strip()
            except RenderError as exc:
                raise PermanentDeliveryError(str(exc)) from exc
        message: OutboundMessage = _new_message(
            {
                "idempotency_key": idempotency_key(event_id, notice.template, reply_id),
                "purpose": notice.purpose,  # to its OutboundPurpose by the validator
                "text": text,
                "quick_replies": buttons,
                "path": notice.path,
                "locale": notice.locale,
                "customer_last_inbound_at": event.conversation.customer_last_inbound_at,
            }
        )
        return message

    def webhook(self, event_id: str, event: RoutingEvent, target: WebhookTarget) -> WebhookRequest:
        if target.kind is WebhookKind.SLACK:
            return slack_request(target, text=self._slack_text(event), event_id=event_id)
        return signed_json_request(target, event=event, event_id=event_id, now=self._now())

    def _meta(self, event_id: str, event: RoutingEvent, notice: MailNotice) -> MailMeta:
        return _mail_meta(
            event_id=event_id,
            reference=event.conversation.reference,
            template=notice.template,
            locale=notice.locale,
            recipient=notice.recipient,
            recipient_name=notice.recipient_name,
            auto_submitted=notice.auto_submitted,
            threading=threading_for(event, notice, self._config.identity.domain),
            date=self._now(),
            sender_name=self._sender_name(event),
        )

    def _sender_name(self, event: RoutingEvent) -> str | None:
        """Replies come from the agent who wrote them, at our address: "이서연 (Support)"."""
        if isinstance(event, AgentReplyRequested) and event.agent.name:
            return f"{event.agent.name} ({self._config.identity.from_name})"
        return None

    def _slack_text(self, event: RoutingEvent) -> str:
        brand = self._config.identity.from_name
        context = template_context(event, recipient_name=None, brand=brand)
        try:
            text = self._renderer.render_text(SLACK_TEMPLATE, self._config.summary_locale, context)
        except RenderError as exc:
            raise PermanentDeliveryError(str(exc)) from exc
        return slack_escape(text.strip())


def notice_context(
    event: RoutingEvent, notice: MailNotice, config: ComposeConfig
) -> dict[str, object]:
    """Template variables of one mail notice; CSAT mails get signed rating links."""
    links = None
    if isinstance(event, ConversationResolved):
        links = rating_links(
            config.csat_base_url,
            config.csat_secret,
            event.conversation.conversation_id,
            event.csat_token,
        )
    return template_context(
        event,
        recipient_name=notice.recipient_name,
        brand=config.identity.from_name,
        rating_links=links,
    )


def threading_for(event: RoutingEvent, notice: MailNotice, domain: str) -> Threading:
    conv = event.conversation
    if not notice.in_customer_thread:
        return staff_threading(reference=conv.reference, domain=domain)
    parent, chain = conv.last_message_id, conv.references
    if isinstance(event, AgentReplyRequested):
        parent = event.in_reply_to or parent
        chain = event.references or chain
    return customer_threading(reference=conv.reference, domain=domain, parent=parent, chain=chain)
