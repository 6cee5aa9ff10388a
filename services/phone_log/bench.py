"""The names `bench/webhook_load.py --target phone` loads; the builders live in
``bench/phone_payloads.py`` (imported only when the benchmark runs)."""

from __future__ import annotations

from typing import Any


def service_env(topic: str) -> dict[str, str]:
    from bench.phone_payloads import service_env as build_env

    return build_env(topic)


def build_request(seq: int, base_url: str, *, provider: str = "cti") -> Any:
    from bench.phone_payloads import build_request as build

    return build(seq, base_url, provider=provider)
