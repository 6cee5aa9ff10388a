"""Instructions of each step of a web-chat request in chat_ingest's app, under callgrind.

``bench.webhook_callgrind`` counts a whole request; this counts one step of it at a time,
over the same signed requests (``bench.webhook_load``'s web-chat target), so that a change
to one step is measured without the rest: the steps' inputs are made first (outside the
count), then ``--count`` of one step run inside ``operator.call``::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python -m bench.webhook_parts_callgrind --part parse [--count 1000]
    # "Collected : N" on stderr; the difference of two counts / their difference:
    # instructions a request of that step

Steps (``--part``): ``verify`` (the signature), ``parse`` (the body validated and
normalised: the ChatEvent; ``validate`` and ``normalise`` its two halves), ``encode``
(its CloudEvent's headers and JSON, by the services' writer:
``write_interactions_by_orjson``), ``ack`` (the WebhookAck the ingest returns),
``answer`` (webchat's answer: the visitor token, the WebchatAck, the JSON response).
"""

from __future__ import annotations

import argparse
import json
import operator
from typing import Any

from starlette.datastructures import Headers, QueryParams

from bench.webhook_load import chat_target
from libs.common.cloudevents import encode
from libs.common.events.base import utc_now
from libs.common.gc_tuning import collect_young_less_often
from libs.common.webhooks.publish import write_interactions_by_orjson
from libs.providers.integrations import IntegrationRegistry, Provider
from libs.providers.registry import PROVIDERS
from libs.providers.webchat.inbound import WebchatMessage, normalise
from libs.providers.webhooks import json_payload, webhook_input
from services.chat_ingest.ingest import webhook_ack
from services.chat_ingest.routes import respond
from services.chat_ingest.settings import ChatIngestSettings
from services.chat_ingest.state import ChatIngestState

PARTS = ("verify", "parse", "validate", "normalise", "encode", "ack", "answer")


def _inputs(count: int) -> list[dict[str, Any]]:
    """Each request's inputs to every step, made by the steps before it."""
    target = chat_target(None)
    settings = ChatIngestSettings.model_validate(
        {"integrations": json.loads(target.service_env("t")["CHAT_INGEST_INTEGRATIONS"])}
    )
    state = ChatIngestState(settings, IntegrationRegistry(settings.served_integrations()))
    spec = PROVIDERS[Provider.WEBCHAT].inbound
    integration = state.registry.get(Provider.WEBCHAT, "bench")
    made = []
    for seq in range(count):
        request = target.build_request(seq, "")
        raw = [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
        raw.append((b"content-length", str(len(request.content)).encode()))
        webhook = webhook_input(request.content, Headers(raw=raw), QueryParams(""), "", utc_now())
        context = state.context(integration, webhook.received_at)
        parsed = spec.parse(webhook, context, state.options)
        event = parsed.events[0]
        ack = webhook_ack(1, 0, 0, [event.id])
        made.append(
            {
                "spec": spec,
                "integration": integration,
                "options": state.options,
                "webhook": webhook,
                "context": context,
                "parsed": parsed,
                "event": event.cloud_event(),
                "ack": ack,
            }
        )
    return made


def _verify(inputs: list[dict[str, Any]]) -> None:
    for i in inputs:
        i["spec"].verify(i["integration"], i["webhook"], i["options"])


def _parse(inputs: list[dict[str, Any]]) -> None:
    for i in inputs:
        i["spec"].parse(i["webhook"], i["context"], i["options"])


def _validate(inputs: list[dict[str, Any]]) -> None:
    for i in inputs:
        json_payload(WebchatMessage, i["webhook"])


def _normalise(inputs: list[dict[str, Any]]) -> None:
    for i in inputs:
        normalise(i["parsed"].payload[0], i["context"])


def _encode(inputs: list[dict[str, Any]]) -> None:
    for i in inputs:
        encode(i["event"])


def _ack(inputs: list[dict[str, Any]]) -> None:
    for i in inputs:
        webhook_ack(1, 0, 0, [i["event"].id])


def _answer(inputs: list[dict[str, Any]]) -> None:
    for i in inputs:
        respond(i["spec"].answer(i["parsed"], i["ack"], i["integration"], i["options"]))


STEPS = {
    "verify": _verify,
    "parse": _parse,
    "validate": _validate,
    "normalise": _normalise,
    "encode": _encode,
    "ack": _ack,
    "answer": _answer,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=PARTS, required=True)
    parser.add_argument("--count", type=int, default=1000, help="requests counted")
    args = parser.parse_args()
    collect_young_less_often()  # as the service's __main__: no collections it does not make
    write_interactions_by_orjson()  # as the service's Publisher: its interactions' JSON writer
    warm, measured = _inputs(200), _inputs(args.count)
    step = STEPS[args.part]
    step(warm)
    operator.call(step, measured)
    print(f"{args.part}: {args.count} requests")


if __name__ == "__main__":
    main()
