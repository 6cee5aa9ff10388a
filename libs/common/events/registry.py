"""Which model reads which CloudEvents ``type``."""

from __future__ import annotations

from libs.common.events.assistant import ASSISTANT_EVENT_TYPES
from libs.common.events.base import EventModel
from libs.common.events.interaction import INTERACTION_CE_TYPES, Interaction
from libs.common.events.notification import NotificationOutcome
from libs.common.events.privacy import ContactErased
from libs.common.events.routing import ROUTING_EVENT_TYPES


class UnknownEventType(LookupError):
    pass


def _build() -> dict[str, type[EventModel]]:
    registry: dict[str, type[EventModel]] = dict.fromkeys(
        INTERACTION_CE_TYPES.values(), Interaction
    )
    for model in (
        *ROUTING_EVENT_TYPES,
        NotificationOutcome,
        *ASSISTANT_EVENT_TYPES,
        ContactErased,
    ):
        registry[model.ce_type] = model
    return registry


EVENT_TYPES: dict[str, type[EventModel]] = _build()


def model_for(ce_type: str) -> type[EventModel]:
    try:
        return EVENT_TYPES[ce_type]
    except KeyError:
        raise UnknownEventType(f"no model for CloudEvents type {ce_type!r}") from None


def exportable_models() -> dict[str, type]:
    """One entry per distinct model, named after it, for JSON Schema export."""
    from libs.common.events.deadletter import DeadLetter

    models: dict[str, type] = {m.__name__: m for m in EVENT_TYPES.values()}
    models[DeadLetter.__name__] = DeadLetter
    return dict(sorted(models.items()))
