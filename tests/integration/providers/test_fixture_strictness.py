"""The fixtures refuse what the real APIs refuse (else the sender tests prove nothing).

Each case starts from the request our production ``build_request`` makes
(accepted, see test_senders) and breaks one thing the reference requires.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from libs.common.events.base import utc_now
from libs.common.webhooks.signatures import verify_hmac_sha256
from libs.providers import channeltalk, kakao, line, slack, telegram, twilio, whatsapp
from libs.providers.integrations import Provider
from libs.providers.outbound import HttpRequest
from tests.provider_fakes import ProviderFakes
from tests.provider_fakes.messages import reply
from tests.provider_fakes.whatsapp import WhatsAppFake

pytestmark = pytest.mark.integration

Breaker = Callable[[HttpRequest], HttpRequest]

MODULES = {
    Provider.TELEGRAM: telegram.outbound,
    Provider.WHATSAPP: whatsapp.outbound,
    Provider.TWILIO: twilio.outbound,
    Provider.LINE: line.outbound,
    Provider.SLACK: slack.outbound,
    Provider.CHANNELTALK: channeltalk.outbound,
}


@pytest.fixture(scope="module")
async def fakes() -> AsyncIterator[ProviderFakes]:
    async with ProviderFakes() as running:
        yield running


def without_header(name: str) -> Breaker:
    def breaker(request: HttpRequest) -> HttpRequest:
        headers = {k: v for k, v in request.headers.items() if k.lower() != name.lower()}
        return request.model_copy(update={"headers": headers})

    return breaker


def without_field(name: str) -> Breaker:
    def breaker(request: HttpRequest) -> HttpRequest:
        if request.form_body is not None:
            form = {k: v for k, v in request.form_body.items() if k != name}
            return request.model_copy(update={"form_body": form})
        body = copy.deepcopy(request.json_body)
        body.pop(name)
        return request.model_copy(update={"json_body": body})

    return breaker


def with_field(name: str, value: Any) -> Breaker:
    def breaker(request: HttpRequest) -> HttpRequest:
        return request.model_copy(update={"json_body": {**request.json_body, name: value}})

    return breaker


def as_json(request: HttpRequest) -> HttpRequest:
    return request.model_copy(update={"json_body": request.form_body, "form_body": None})


def token_in_path_replaced(request: HttpRequest) -> HttpRequest:
    return request.model_copy(update={"url": request.url.replace("/bot123456:", "/bot999999:")})


# (provider, breaker, expected HTTP status, a fragment of the documented error body)
CASES = [
    (Provider.TELEGRAM, token_in_path_replaced, 401, "Unauthorized"),
    (Provider.TELEGRAM, without_field("chat_id"), 400, "chat_id is empty"),
    (Provider.TELEGRAM, without_field("text"), 400, "message text is empty"),
    (Provider.WHATSAPP, without_header("Authorization"), 401, '"code":190'),
    (Provider.WHATSAPP, without_field("messaging_product"), 400, '"code":100'),
    (Provider.WHATSAPP, without_field("to"), 400, "to is required"),
    (Provider.WHATSAPP, with_field("surprise", 1), 400, "Unexpected key"),
    (Provider.TWILIO, without_header("Authorization"), 401, '"code":20003'),
    (Provider.TWILIO, without_field("To"), 400, '"code":21604'),
    (Provider.TWILIO, without_field("From"), 400, '"code":21603'),
    (Provider.TWILIO, without_field("Body"), 400, '"code":21602'),
    (Provider.TWILIO, as_json, 400, '"code":21602'),
    (Provider.LINE, without_header("Authorization"), 401, "Authentication failed"),
    (Provider.LINE, without_field("messages"), 400, "Size must be between 1 and 5"),
    (Provider.LINE, without_field("to"), 400, "'to'"),
    (Provider.SLACK, without_header("Authorization"), 200, '"error":"not_authed"'),
    (Provider.SLACK, without_field("channel"), 200, '"error":"channel_not_found"'),
    (Provider.SLACK, without_field("text"), 200, '"error":"no_text"'),
    (Provider.CHANNELTALK, without_header("x-access-secret"), 401, "unauthorized"),
    (Provider.CHANNELTALK, without_field("blocks"), 422, "blocks or plainText"),
]


async def perform(request: HttpRequest) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.request(
            request.method,
            request.url,
            headers=request.headers,
            json=request.json_body if request.form_body is None else None,
            data=request.form_body,
        )


@pytest.mark.parametrize(("provider", "breaker", "status", "fragment"), CASES)
async def test_fixture_refuses_a_request_the_api_would_refuse(
    provider: Provider, breaker: Breaker, status: int, fragment: str, fakes: ProviderFakes
) -> None:
    fakes.reset()
    message = reply(provider, last_inbound=utc_now())
    if provider is Provider.WHATSAPP:
        fakes.whatsapp.customer_wrote(message.path.address)
    request = MODULES[provider].build_request(message, fakes.integration(provider), now=utc_now())
    response = await perform(breaker(request))
    assert response.status_code == status
    assert fragment.replace(" ", "") in response.text.replace(" ", "")
    fake = getattr(fakes, provider.value)
    assert not fake.accepted and len(fake.refused) == 1


async def test_kakao_callback_refuses_a_bad_skill_response_and_a_second_use(
    fakes: ProviderFakes,
) -> None:
    fakes.reset()
    url, _ = fakes.kakao.issue_callback()
    bad = HttpRequest(url=url, json_body={"version": "2.0", "template": {"outputs": []}})
    assert (await perform(bad)).status_code == 400
    url, _ = fakes.kakao.issue_callback()
    good = HttpRequest(url=url, json_body=kakao.outbound.skill_response("ok"))
    assert (await perform(good)).json()["status"] == "SUCCESS"
    again = await perform(good)
    assert again.status_code == 400 and again.json()["status"] == "FAIL"


async def test_whatsapp_status_webhook_is_signed_like_meta(fakes: ProviderFakes) -> None:
    body, headers = fakes.whatsapp.status_webhook(
        [fakes.whatsapp.status("wamid.X", "delivered", "821012345678")]
    )
    assert verify_hmac_sha256(
        WhatsAppFake().app_secret, body, headers["x-hub-signature-256"], prefix="sha256="
    )
