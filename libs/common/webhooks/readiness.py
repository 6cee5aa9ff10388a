"""Readiness of a webhook service: nothing configured means nothing to serve.

An ingest service without integrations answers every webhook 404; it says so
at start (a warning) and on ``/readyz`` (503, ``checks.integrations =
"failing: NoIntegrationsConfigured"``) so an orchestrator never routes traffic
to it and an operator sees why.
"""

from __future__ import annotations

from collections.abc import Callable

from libs.common.health import ReadinessCheck


class NoIntegrationsConfigured(RuntimeError):
    """Readiness: an ingest service with nothing to ingest is not ready for traffic."""


def integrations_check(count: Callable[[], int]) -> ReadinessCheck:
    async def integrations_configured() -> bool:
        if count() == 0:
            raise NoIntegrationsConfigured
        return True

    return integrations_configured
