"""The router API, fuzzed from its own OpenAPI document with a valid admin key: no 5xx.

The router runs as its own process (``python -m services.router``) on SQLite in
a tmp dir and the real broker; schemathesis sends bounded, derandomised
examples of every operation over loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from libs.common.kafka.admin import create_topics
from libs.common.settings import KafkaSettings
from services.router.service.api_keys import Role
from tests.security.router_api import router_api
from tools.testing.ready import wait_ready_blocking
from tools.testing.system import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "odk_fuzz-admin-key-0123456789abcdef"
FUZZ = settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # report, do not spend the budget shrinking
)


@contextlib.contextmanager
def router_process(kafka: KafkaSettings, state: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_TOPIC_INTERACTIONS": kafka.topics.interactions,
        "KAFKA_TOPIC_ROUTING": kafka.topics.routing,
        "KAFKA_TOPIC_NOTIFICATIONS": kafka.topics.notifications,
        "KAFKA_TOPIC_DEADLETTER": kafka.topics.deadletter,
        "ROUTER_DATABASE_URL": f"sqlite+aiosqlite:///{state / 'router.db'}",
        "ROUTER_STATE_DIR": str(state),
        "ROUTER_HTTP_PORT": str(port),
        "ROUTER_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
        "ROUTER_DEV_MODE": "false",
        "ROUTER_CSAT_SECRET": "fuzz-csat-secret-0123456789",
        "ROUTER_CONSUMER_GROUP": f"router-fuzz-{port}",
        "ROUTER_LOG_LEVEL": "WARNING",
    }
    log = (state / "router.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.router"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready_blocking(base_url, process=process, name="router", timeout_s=90)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_openapi_generated_requests_with_an_admin_key_never_5xx(kafka_settings, tmp_path):
    asyncio.run(create_topics(kafka_settings))
    with router_process(kafka_settings, tmp_path) as base_url:
        headers = {"X-API-Key": ADMIN_KEY}
        agents = httpx.get(base_url + "/agents", headers=headers).json()
        known_ids = {"agent_id": agents[0]["id"], "name": "general"}
        schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 20
        statuses: dict[str, set[int]] = {}
        failures: list[str] = []

        for operation in operations:

            @FUZZ
            @given(case=operation.as_strategy(), known=st.booleans())
            def check(case, known: bool) -> None:  # type: ignore[no-untyped-def]
                if known:
                    for name, value in known_ids.items():
                        if name in (case.path_parameters or {}):
                            case.path_parameters[name] = value
                response = case.call(base_url=base_url, headers=headers, timeout=30)
                label = f"{case.method} {case.path}"
                statuses.setdefault(label, set()).add(response.status_code)
                if response.status_code >= 500:
                    failures.append(f"{label} -> {response.status_code}: {case.as_curl_command()}")

            check()

    assert failures == []
    reached = {s for found in statuses.values() for s in found}
    assert (200 in reached and 422 in reached) or 400 in reached, statuses


async def test_huge_offset_is_refused_not_500(kafka_topics, tmp_path):
    """Found by this fuzzing: an offset past 2**63 was a 500 on SQLite."""
    async with router_api(kafka_topics, tmp_path) as api:
        response = await api.client.get(
            "/conversations", params={"offset": str(2**63)}, headers=api.auth(Role.ADMIN)
        )
    assert response.status_code < 500, response.text
