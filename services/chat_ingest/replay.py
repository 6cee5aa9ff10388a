"""Quarantined chat webhooks re-parsed with today's parser (issue #18).

The listing, the ledger and the exactly-once replay are shared with
phone_log (``libs.common.webhooks.replay``); this module is chat's parser.
"""

from __future__ import annotations

from libs.common.cloudevents import CloudEvent
from libs.common.webhooks.replay import QuarantinedWebhook
from libs.providers.inbound import IngestContext, normalised
from libs.providers.integrations import IntegrationRegistry, Provider
from libs.providers.registry import PROVIDERS
from libs.providers.webhooks import InboundOptions, Parsed, WebhookInput

SERVICE = "chat_ingest"


def reparse(
    item: QuarantinedWebhook,
    registry: IntegrationRegistry,
    options: InboundOptions,
    *,
    region: str,
) -> list[CloudEvent]:
    """The body through today's parser (the signature was checked when it arrived).

    Raises MalformedPayload if it is still unreadable, UnknownIntegration if
    the integration is no longer configured."""
    provider = Provider(item.provider)
    integration = registry.get(provider, item.integration_id)
    spec = PROVIDERS[provider].inbound
    webhook = WebhookInput(
        body=item.body,
        headers={"content-type": item.content_type},
        query={},
        url="",
        received_at=item.failed_at,
    )
    context = IngestContext(
        integration_id=integration.id,
        received_at=item.failed_at,
        region=integration.default_region or region,
        routing=integration.routing,
        agent_ids=integration.agent_ids,
    )
    parsed: Parsed = normalised(spec.parse, webhook, context, options)
    return [event.cloud_event() for event in parsed.events]
