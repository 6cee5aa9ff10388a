"""The router's store fixtures (SQLite AND PostgreSQL, a movable clock) for the assistant flow."""

from tests.integration.router.conftest import (  # noqa: F401 - fixtures re-exported
    MovableClock,
    clock,
    ctx,
    database_url,
    postgres_server,
    store_settings,
)
