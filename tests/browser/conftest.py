"""Headless Debian chromium driven by Playwright (``executable_path``; no browser download)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tools.testing.system import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"chromium not installed ({CHROMIUM}); apt-get install chromium")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


class _Accept:
    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        return "250 OK"


@pytest.fixture(scope="module")
def smtp_port() -> Iterator[int]:
    port = free_port()
    controller = Controller(_Accept(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


@pytest.fixture
async def browser_session(tmp_path: Path) -> AsyncIterator[Callable]:
    """``await browser_session(name)``: a fresh chromium profile (its own cookies) per person."""
    from playwright.async_api import async_playwright

    contexts = []
    async with async_playwright() as playwright:

        async def open_session(name: str):  # type: ignore[no-untyped-def]
            context = await playwright.chromium.launch_persistent_context(
                str(tmp_path / f"profile-{name}"),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_FLAGS,
                viewport={"width": 1280, "height": 900},
            )
            contexts.append(context)
            return context.pages[0] if context.pages else await context.new_page()

        yield open_session
        for context in contexts:
            await context.close()
