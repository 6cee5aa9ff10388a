"""Quarantined phone webhooks re-parsed with today's parser (issue #18).

The listing, the ledger and the exactly-once replay are shared with
chat_ingest (``libs.common.webhooks.replay``); this is phone_log's parser.
The dead-letter record names the provider and integration, not the route, so
Twilio's two callbacks are told apart by their fields (a recording callback
carries ``RecordingSid``). What the route added from the URL is not kept:
``?From/To/Direction`` hints of a Twilio recording callback and FreeSWITCH's
``?uuid`` — a replayed event goes without them.
"""

from __future__ import annotations

from libs.common.cloudevents import CloudEvent
from libs.common.webhooks import MalformedPayload
from libs.common.webhooks.parsing import parse_form
from libs.common.webhooks.replay import QuarantinedWebhook
from services.phone_log.calls import CallFacts, PayloadError
from services.phone_log.intake import asterisk_line, event_context_for, event_for, freeswitch_line
from services.phone_log.integrations import (
    AsteriskIntegration,
    FreeswitchIntegration,
)
from services.phone_log.providers import asterisk, cti, freeswitch, twilio
from services.phone_log.routes import form_fields, form_or_json
from services.phone_log.state import PhoneLogState

SERVICE = "phone_log"


def reparse(item: QuarantinedWebhook, runtime: PhoneLogState) -> list[CloudEvent]:
    """Raises MalformedPayload if still unreadable, UnknownIntegration if unconfigured."""
    integration = runtime.integration(item.provider, item.integration_id)
    try:
        facts = _facts(item, runtime, integration)
        if facts is None:
            return []
        context = event_context_for(integration, runtime.settings, item.failed_at)
        return [event_for(facts, context)]
    except PayloadError as exc:
        raise MalformedPayload(
            str(exc), provider=item.provider, integration=item.integration_id
        ) from None


def _facts(item: QuarantinedWebhook, runtime: PhoneLogState, integration) -> CallFacts | None:  # type: ignore[no-untyped-def]
    body, content_type = item.body, item.content_type
    match item.provider:
        case "twilio":
            fields = form_fields(parse_form(body))
            if "RecordingSid" in fields:
                return twilio.parse_recording_callback(fields)
            return twilio.parse_status_callback(fields)
        case "asterisk":
            assert isinstance(integration, AsteriskIntegration)
            line = asterisk_line(integration, runtime.settings)
            return asterisk.parse_cdr(form_or_json(body, content_type), line)
        case "freeswitch":
            assert isinstance(integration, FreeswitchIntegration)
            decoded = freeswitch.decode_body(body, content_type)
            return freeswitch.parse_cdr(decoded, freeswitch_line(integration), uuid_param=None)
        case "cti":
            return cti.parse_event(form_or_json(body, content_type), integration_id=integration.id)
    raise MalformedPayload(f"no replay parser for provider {item.provider!r}")
