"""The router's enum members and stored values (``libs.common.enum_members``): routing
turns a conversation's stored channel, priority and status back into members several
times per interaction, and stores ~8 values per interaction."""

from __future__ import annotations

from libs.common.enum_members import member_of, values_of
from libs.common.events.interaction import Channel, Direction, InteractionKind
from libs.common.events.routing import Priority
from services.router.domain.contacts import IdentityKind
from services.router.domain.lifecycle import ConversationStatus

channel_of = member_of(Channel)
priority_of = member_of(Priority)
status_of = member_of(ConversationStatus)
CHANNEL_VALUES: dict[Channel, str] = values_of(Channel)  # type: ignore[assignment]
DIRECTION_VALUES: dict[Direction, str] = values_of(Direction)  # type: ignore[assignment]
KIND_VALUES: dict[InteractionKind, str] = values_of(InteractionKind)  # type: ignore[assignment]
PRIORITY_VALUES: dict[Priority, str] = values_of(Priority)  # type: ignore[assignment]
IDENTITY_KIND_VALUES: dict[IdentityKind, str] = values_of(IdentityKind)  # type: ignore[assignment]
