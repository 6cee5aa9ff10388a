"""Router API: no key → 401, a wrong role → 403, a revoked key → 401 — on every route."""

from __future__ import annotations

import re

import pytest

from services.router.service.api_keys import Role
from tests.security.router_api import RouterApi, router_api

pytestmark = pytest.mark.integration

#: Routes meant to be reachable without a key: probes and the customer's signed CSAT link.
PUBLIC = re.compile(r"^/(healthz|readyz|metrics|csat)(/|$)")


@pytest.fixture
async def api(kafka_topics, tmp_path):
    async with router_api(kafka_topics, tmp_path) as running:
        yield running


async def operations(api: RouterApi) -> list[tuple[str, str, dict]]:
    spec = (await api.client.get("/openapi.json")).json()
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


async def test_every_private_operation_declares_the_key_and_refuses_without_it(api):
    private = [op for op in await operations(api) if not PUBLIC.match(op[1])]
    assert len(private) >= 15
    answers = {}
    for method, path, operation in private:
        assert operation.get("security"), f"{method} {path} declares no API key"
        response = await api.client.request(method, concrete(path), json={})
        answers[f"{method} {path}"] = response.status_code
    assert set(answers.values()) == {401}, answers


async def test_unknown_and_malformed_keys_are_refused(api):
    for key in ["odk_wrong", "", " ", "odk_" + "A" * 5000, api.keys[Role.ADMIN] + "x"]:
        response = await api.client.get("/agents", headers={"X-API-Key": key})
        assert response.status_code == 401, (key[:20], response.text)


async def test_a_lower_role_gets_403(api):
    agent, supervisor = api.auth(Role.AGENT), api.auth(Role.SUPERVISOR)
    new_agent = {"id": "agent-x", "name": "X", "queues": ["general"]}
    new_key = {"role": "admin", "name": "escalate-myself"}
    assert (await api.client.get("/reports/metrics", headers=agent)).status_code == 403
    assert (await api.client.post("/agents", json=new_agent, headers=supervisor)).status_code == 403
    assert (await api.client.post("/api-keys", json=new_key, headers=agent)).status_code == 403
    assert (await api.client.post("/api-keys", json=new_key, headers=supervisor)).status_code == 403
    assert (await api.client.get("/reports/metrics", headers=supervisor)).status_code == 200


async def test_a_revoked_key_gets_401(api):
    issued = await api.client.post(
        "/api-keys", json={"role": "supervisor", "name": "leaver"}, headers=api.auth(Role.ADMIN)
    )
    assert issued.status_code == 201
    key = {"X-API-Key": issued.json()["key"]}
    assert (await api.client.get("/reports/metrics", headers=key)).status_code == 200

    revoked = await api.client.delete(
        f"/api-keys/{issued.json()['id']}", headers=api.auth(Role.ADMIN)
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    listed = (await api.client.get("/api-keys", headers=api.auth(Role.ADMIN))).json()
    assert all("key" not in row for row in listed)  # hashes and keys never leave

    assert (await api.client.get("/reports/metrics", headers=key)).status_code == 401
    assert (await api.client.get("/agents", headers=key)).status_code == 401
    supervisor = api.auth(Role.SUPERVISOR)
    revoke = await api.client.delete(f"/api-keys/{issued.json()['id']}", headers=supervisor)
    assert revoke.status_code == 403  # only admins revoke
