"""The router's enum members and stored values (``libs.common.enum_members``): routing
turns a conversation's stored channel, priority and status back into members several
times per interaction, and stores ~8 values per interaction."""

from __future__ import annotations

from libs.common.enum_members import member_of, values_of
from libs.common.events.interaction import Channel, Direction, InteractionKind
from libs.common.events.routing import Priority, SlaMetric
from services.router.domain.contacts import IdentityKind
from services.router.domain.lifecycle import ConversationStatus, LifecycleTrigger

channel_of = member_of(Channel)
priority_of = member_of(Priority)
status_of = member_of(ConversationStatus)
CHANNEL_VALUES: dict[Channel, str] = values_of(Channel)  # type: ignore[assignment]
DIRECTION_VALUES: dict[Direction, str] = values_of(Direction)  # type: ignore[assignment]
KIND_VALUES: dict[InteractionKind, str] = values_of(InteractionKind)  # type: ignore[assignment]
PRIORITY_VALUES: dict[Priority, str] = values_of(Priority)  # type: ignore[assignment]
IDENTITY_KIND_VALUES: dict[IdentityKind, str] = values_of(IdentityKind)  # type: ignore[assignment]

# The members the decision modules compare with, as module globals: on Python 3.11 a member
# read through its class (``Direction.INBOUND``) takes EnumType.__getattr__'s slow path,
# ~100 ns against ~1 for a global, and routing read ~29 a routed interaction. A
# ``from … import`` binds a global of the importing module, as fast.
CHAT, EMAIL = Channel.CHAT, Channel.EMAIL
INBOUND, OUTBOUND = Direction.INBOUND, Direction.OUTBOUND
CALL_ANSWERED, CALL_ENDED = InteractionKind.CALL_ANSWERED, InteractionKind.CALL_ENDED
DELIVERY_STATUS, VOICEMAIL = InteractionKind.DELIVERY_STATUS, InteractionKind.VOICEMAIL
RESOLVED = ConversationStatus.RESOLVED
AGENT_RESPONSE = LifecycleTrigger.AGENT_RESPONSE
CUSTOMER_MESSAGE = LifecycleTrigger.CUSTOMER_MESSAGE
REOPEN_TRIGGER = LifecycleTrigger.REOPEN
FIRST_RESPONSE, NEXT_RESPONSE = SlaMetric.FIRST_RESPONSE, SlaMetric.NEXT_RESPONSE
RESOLUTION = SlaMetric.RESOLUTION
