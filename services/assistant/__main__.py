"""``python -m services.assistant``: answer assistant turns until SIGTERM."""

from __future__ import annotations

from libs.common.lifecycle import run_until_stopped
from libs.common.logging import configure_logging
from services.assistant.bootstrap import run
from services.assistant.settings import AssistantSettings


def main() -> None:
    settings = AssistantSettings()
    configure_logging(settings.service_name, level=settings.log_level, fmt=settings.log_format)
    run_until_stopped(lambda stop: run(settings, stop))


if __name__ == "__main__":
    main()
