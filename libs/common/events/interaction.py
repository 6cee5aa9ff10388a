"""The unified interaction: body of ``support.interactions.v1`` (architecture §3).

One model for email, chat and phone, so the router has a single input type.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints, model_validator

from libs.common.events.base import EventModel, UtcDatetime, ValueEnum, ValueModel

#: The plain-text body is capped so one huge mail cannot bloat the topic.
MAX_TEXT_CHARS = 32_000


class Channel(ValueEnum):
    EMAIL = "email"
    CHAT = "chat"
    PHONE = "phone"


class Direction(ValueEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class InteractionKind(ValueEnum):
    MESSAGE = "message"
    CALL_STARTED = "call_started"
    CALL_ANSWERED = "call_answered"
    CALL_ENDED = "call_ended"
    CALL_MISSED = "call_missed"
    VOICEMAIL = "voicemail"
    DELIVERY_STATUS = "delivery_status"


#: CloudEvents ``type`` for each kind of interaction.
INTERACTION_CE_TYPES: dict[InteractionKind, str] = {
    InteractionKind.MESSAGE: "support.message.received",
    InteractionKind.CALL_STARTED: "support.call.started",
    InteractionKind.CALL_ANSWERED: "support.call.answered",
    InteractionKind.CALL_ENDED: "support.call.ended",
    InteractionKind.CALL_MISSED: "support.call.missed",
    InteractionKind.VOICEMAIL: "support.call.voicemail",
    InteractionKind.DELIVERY_STATUS: "support.message.status",
}


#: Stripped and lower-cased by pydantic-core itself: a ``model_validator`` doing the same
#: was a Python call in every interaction's and every routing event's validation
#: (~0.3 µs each).
NormalisedEmail = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True)]


class CustomerIdentity(ValueModel):
    """Who the customer is, as far as the channel tells us."""

    email: NormalisedEmail | None = Field(None, description="Lower-cased email address.")
    phone: str | None = Field(None, description="E.164 phone number, e.g. +821012345678.")
    handle: str | None = Field(None, description="Chat identity as `provider:user-id`.")
    display_name: str | None = None
    locale: str | None = Field(None, description="BCP 47 tag if the channel tells it, e.g. ko-KR.")
    anonymous: bool = Field(False, description="Caller withheld their number / no identity.")

    def key(self) -> str | None:
        """Partition key: email, else E.164 phone, else chat handle."""
        return self.email or self.phone or self.handle


class ThreadHints(ValueModel):
    """What the router needs to thread this into a conversation."""

    provider_thread_id: str | None = Field(
        None, description="Chat thread/conversation id, call group id (linkedid, parent CallSid)."
    )
    message_id: str | None = Field(None, description="RFC 5322 Message-ID, without brackets.")
    in_reply_to: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    subject_token: str | None = Field(None, description="Our subject token, e.g. C-1234.")


class MessageBody(ValueModel):
    text: str = Field("", description="The new text, plain, size-capped.")
    quoted: str | None = Field(None, description="Quoted reply history, separated from the text.")
    signature: str | None = None
    truncated: bool = Field(False, description="The text was cut at the size cap.")
    from_html: bool = Field(False, description="The text was converted from HTML.")
    language: str | None = Field(None, description="Detected language (ISO 639-1) if known.")

    @model_validator(mode="after")
    def _cap(self) -> MessageBody:
        if len(self.text) > MAX_TEXT_CHARS:
            self.text = self.text[:MAX_TEXT_CHARS]
            self.truncated = True
        if self.quoted and len(self.quoted) > MAX_TEXT_CHARS:
            self.quoted = self.quoted[:MAX_TEXT_CHARS]
            self.truncated = True
        return self


class Attachment(ValueModel):
    """A descriptor only: the bytes live in the blob store (or at the provider URL)."""

    name: str | None = None
    content_type: str = "application/octet-stream"
    size: int | None = Field(None, ge=0)
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    inline: bool = Field(False, description="Inline image (Content-ID) rather than an attachment.")
    content_id: str | None = None
    url: str | None = Field(None, description="Provider media URL for chat attachments.")


class CallDetails(ValueModel):
    call_id: str
    group_id: str | None = Field(None, description="Groups the legs of one call.")
    from_number: str | None = Field(None, description="E.164 or extension as given.")
    to_number: str | None = None
    direction: Direction = Direction.INBOUND
    status: str = Field(..., description="Provider status mapped to our vocabulary.")
    provider_status: str | None = Field(None, description="The provider's own status word.")
    started_at: UtcDatetime | None = None
    answered_at: UtcDatetime | None = None
    ended_at: UtcDatetime | None = None
    duration_seconds: int | None = Field(None, ge=0)
    billable_seconds: int | None = Field(None, ge=0)
    hangup_cause: str | None = None
    recording_url: str | None = None
    recording_duration_seconds: int | None = Field(None, ge=0)
    answered_by: str | None = Field(None, description="Agent or extension that answered.")
    queue: str | None = None
    callback_requested: bool = Field(
        False, description="A missed inbound call: someone must call the customer back."
    )
    number_invalid: bool = Field(
        False,
        description="The customer's number is not a dialable phone number (kept as given, "
        "e.g. 'not-a-number' or '+1'): no call-back is requested for it.",
    )


class BounceInfo(ValueModel):
    failed_recipients: list[str] = Field(default_factory=list)
    original_message_id: str | None = None
    status: str | None = Field(None, description="DSN status code, e.g. 5.1.1.")
    action: str | None = None
    diagnostic: str | None = None


class Flags(ValueModel):
    auto_submitted: bool = Field(False, description="RFC 3834 Auto-Submitted other than `no`.")
    auto_reply: bool = False
    out_of_office: bool = False
    bulk: bool = Field(False, description="Precedence bulk/junk or marketing mail.")
    mailing_list: bool = False
    loop: bool = Field(False, description="Our own outgoing mail came back.")
    bounce: bool = False
    spam_verdict: str | None = Field(None, description="Verdict from upstream headers, if any.")

    @property
    def automated(self) -> bool:
        """Mail that must never start SLA clocks or receive an automatic reply."""
        # the fields from the instance's dict, not 7 attribute reads (a pydantic model's
        # __getattr__ keeps them unspecialised) and a tuple for any(): ~400 → ~215 ns
        # a call, ~2 per routed interaction
        v = self.__dict__
        return bool(
            v["auto_submitted"]
            or v["auto_reply"]
            or v["out_of_office"]
            or v["bulk"]
            or v["mailing_list"]
            or v["loop"]
            or v["bounce"]
        )


class RoutingHints(ValueModel):
    """Defaults configured on the integration, carried to the router."""

    queue: str | None = None
    language: str | None = None
    brand: str | None = None
    priority: str | None = None
    tags: list[str] = Field(default_factory=list)


class ReplyPath(ValueModel):
    """How to answer the customer on the provider they used (set by the ingest service).

    The router keeps the latest one per conversation and hands it to the
    notifier with every outbound request; short-lived parts carry their expiry.
    """

    provider: str
    integration: str
    address: str = Field(
        ...,
        description="Recipient on the provider: Telegram chat id, WhatsApp wa_id, E.164 number, "
        "LINE userId, Slack channel, Channel Talk userChat id, Kakao user key, web-chat visitor.",
    )
    thread: str | None = Field(None, description="Slack thread_ts, Telegram message_thread_id, …")
    reply_token: str | None = Field(None, description="LINE replyToken (single use).")
    reply_token_expires_at: UtcDatetime | None = None
    callback_url: str | None = Field(None, description="Kakao skill callbackUrl.")
    callback_expires_at: UtcDatetime | None = None


class DeliveryState(ValueEnum):
    """Fate of one outbound message, in the order a provider reports it."""

    QUEUED = "queued"
    RETRYING = "retrying"
    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class DeliveryReceipt(ValueModel):
    """A provider's status report about one of *our* outbound messages."""

    provider_message_id: str = Field(..., description="The id the provider gave our message.")
    state: DeliveryState
    error_code: str | None = None
    error_detail: str | None = None


class Interaction(EventModel):
    """Something a customer (or an agent, via a provider) did on one channel."""

    ce_type: ClassVar[str] = "support.message.received"

    channel: Channel
    provider: Annotated[str, Field(description="imap, twilio, whatsapp, telegram, slack, …")]
    integration: str = Field(..., description="Configured integration or mailbox id.")
    direction: Direction = Direction.INBOUND
    kind: InteractionKind = InteractionKind.MESSAGE
    occurred_at: UtcDatetime = Field(..., description="When it happened, per the provider.")
    received_at: UtcDatetime = Field(..., description="When omnidesk received it.")
    customer: CustomerIdentity
    customer_key: str = Field("", description="Partition key; derived from customer if empty.")
    thread: ThreadHints = Field(default_factory=ThreadHints)
    subject: str | None = None
    body: MessageBody = Field(default_factory=MessageBody)
    attachments: list[Attachment] = Field(default_factory=list)
    call: CallDetails | None = None
    flags: Flags = Field(default_factory=Flags)
    bounce: BounceInfo | None = None
    routing_hints: RoutingHints = Field(default_factory=RoutingHints)
    provider_message_id: str | None = Field(None, description="The provider's own id.")
    reply_path: ReplyPath | None = Field(
        None, description="How to answer on this channel; None where it has no reply path."
    )
    receipt: DeliveryReceipt | None = Field(
        None, description="kind=delivery_status: the status of one of our outbound messages."
    )
    raw_ref: str | None = Field(
        None, description="Where the raw input is kept, e.g. blob sha256 or mailbox/UID."
    )

    @model_validator(mode="after")
    def _derive_key(self) -> Interaction:
        if not self.customer_key:
            key = self.customer.key()
            if key is None:
                raise ValueError("an interaction needs a customer email, phone or handle")
            self.customer_key = key
        return self

    def event_type(self) -> str:
        return INTERACTION_CE_TYPES[self.kind]
