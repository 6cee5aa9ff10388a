"""A console sign-in for the demo's supervisor, made through the router's key API."""

from __future__ import annotations

import httpx

DEMO_SUPERVISOR = "lead-kim"  # Kim Seo-yeon, supervisor of every demo queue (agents.yaml)


async def supervisor_sign_in(router_url: str, admin_key: str) -> str:
    """A new supervisor API key acting as the demo's supervisor; the console takes it."""
    async with httpx.AsyncClient(base_url=router_url, timeout=10) as client:
        answer = await client.post(
            "/api-keys",
            json={"role": "supervisor", "name": "demo console", "agent_id": DEMO_SUPERVISOR},
            headers={"X-API-Key": admin_key},
        )
        answer.raise_for_status()
        return answer.json()["key"]
