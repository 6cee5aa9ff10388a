"""phone_log's webhook fast path (direct dispatch) and FastAPI's own routing answer alike.

Every phone route is dispatched directly (headers are read from the request, so
no route needs FastAPI's dependency solving); the answers, the events published
and the provider label on rejections must be the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
import pytest

from libs.common.webhooks import fast_routes
from libs.common.webhooks.metrics import WEBHOOK_REJECTIONS
from services.phone_log.bootstrap import create_app
from services.phone_log.routes import webhook_router
from tests.helpers.phone_log import (
    ASTERISK_TOKEN,
    BASE_URL,
    CTI_TOKEN,
    basic_auth,
    signed_twilio,
    test_settings,
)
from tests.helpers.phone_log_samples import (
    asterisk_cdr,
    asterisk_form,
    cti_event,
    cti_form,
    freeswitch_body,
    freeswitch_cdr,
    twilio_recording,
    twilio_status,
)
from tests.unit.phone_log.helpers import RecordingProducer

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class Post:
    path: str
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _twilio() -> Iterator[Post]:
    status = "/twilio/kr-main/voice/status"
    good = signed_twilio(status, twilio_status("no-answer"))
    yield Post(status, **good)
    yield Post(status, **good)  # a retry: duplicate
    yield Post(status, good["content"], {**good["headers"], "X-Twilio-Signature": "forged"})
    yield Post(status, good["content"], FORM)  # unsigned
    yield Post("/twilio/nobody/voice/status", **good)
    recording = "/twilio/kr-main/voice/recording?From=%2B821012345678&To=%2B82212345678"
    yield Post(recording, **signed_twilio(recording, twilio_recording()))


def _asterisk() -> Iterator[Post]:
    headers = {**FORM, "X-Omnidesk-Token": ASTERISK_TOKEN}
    yield Post("/asterisk/pbx-seoul/cdr", asterisk_form(asterisk_cdr()), headers)
    yield Post("/asterisk/pbx-seoul/cdr", asterisk_form(asterisk_cdr()), FORM)  # no token
    yield Post("/asterisk/pbx-seoul/cdr", b"%%%", headers)  # authenticated, unreadable


def _freeswitch() -> Iterator[Post]:
    body, content_type = freeswitch_body(freeswitch_cdr(), "base64")
    headers = {"Authorization": basic_auth(), "Content-Type": content_type}
    path = "/freeswitch/fs-seoul/cdr?uuid=f3b2a1c0-5d4e-4f6a-8b7c-9d0e1f2a3b4c"
    yield Post(path, body, headers)
    yield Post(path, body, {**headers, "Authorization": basic_auth(password="wrong")})
    yield Post(path, b"cdr=%%%", headers)


def _cti() -> Iterator[Post]:
    path = f"/cti/cti-main/{CTI_TOKEN}"
    yield Post(path, cti_form(cti_event("newCall")), FORM)
    yield Post(path, cti_form(cti_event("hangup", cause="normalClearing")), FORM)
    yield Post("/cti/cti-main/wrong-token", cti_form(cti_event("newCall")), FORM)
    yield Post(path, urlencode({"event": "nonsense"}).encode(), FORM)
    yield Post(path, b'{"event": ', {"Content-Type": "application/json"})


PROVIDERS = {"twilio": _twilio, "asterisk": _asterisk, "freeswitch": _freeswitch, "cti": _cti}


async def _answers(fast_path: bool, posts: list[Post]) -> tuple[list[tuple[int, str]], list[str]]:
    producer = RecordingProducer()
    app = create_app(test_settings(fast_path=fast_path), producer=producer)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            responses = [
                await client.post(p.path, content=p.content, headers=p.headers) for p in posts
            ]
    published = [event.id for _, event, _ in producer.sent]
    return [(r.status_code, r.text) for r in responses], published


def test_every_phone_webhook_route_is_dispatched_directly():
    assert len(fast_routes([webhook_router()])) == len(webhook_router().routes) == 5


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
async def test_fast_and_slow_paths_answer_alike(provider: str):
    posts = list(PROVIDERS[provider]())
    rejected_before = _rejections(provider)
    fast = await _answers(True, posts)
    rejected_fast = _rejections(provider) - rejected_before
    slow = await _answers(False, posts)
    rejected_slow = _rejections(provider) - rejected_before - rejected_fast
    assert fast == slow
    statuses = [status for status, _ in fast[0]]
    assert 200 in statuses and any(status in (400, 401, 404) for status in statuses)
    assert fast[1], "the good requests were published"
    assert rejected_fast == rejected_slow > 0  # rejections labelled with the provider either way


def _rejections(provider: str) -> float:
    """Rejections counted under ``provider`` so far, summed over reasons and statuses."""
    total = 0.0
    for metric in WEBHOOK_REJECTIONS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("provider") == provider:
                total += sample.value
    return total
