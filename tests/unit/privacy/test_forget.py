"""The forget command's core: publish first, then every reachable store, one report."""

from __future__ import annotations

from datetime import UTC, datetime

from libs.common.events.privacy import ContactErased
from libs.common.privacy.erasure import StoreReport, erasure_request
from libs.common.privacy.identifiers import IdentifierHasher, IdentifierKind
from tools.privacy.forget import forget, load_erasers, render

HASHER = IdentifierHasher(b"k" * 32)


class FakeStore:
    """Holds hashes; erasing removes them (a plain fake, injected)."""

    name = "fake"

    def __init__(self, held: set[str], calls: list[str]) -> None:
        self.held = held
        self.calls = calls

    async def erase(self, request: ContactErased) -> list[StoreReport]:
        self.calls.append("erase")
        wanted = request.hashes(IdentifierKind.EMAIL)
        found = self.held & wanted
        checked = len(self.held)
        self.held -= found
        return [StoreReport("fake.rows", checked, len(found))]


async def test_publishes_then_erases_and_a_second_run_says_nothing_was_left():
    calls: list[str] = []
    alice = HASHER.email("alice@example.com")
    store = FakeStore({alice, HASHER.email("bob@example.com")}, calls)
    request = erasure_request(
        HASHER,
        identifiers=[(IdentifierKind.EMAIL, "alice@example.com")],
        contact_id=None,
        requested_by="cli",
        erased_at=datetime.now(UTC),
    )

    async def publish(event: ContactErased) -> None:
        calls.append("publish")

    first = await forget(request, publish=publish, erasers=[store], elsewhere=["router"])
    assert calls == ["publish", "erase"]
    assert first.published and first.erased == 1 and store.held == {HASHER.email("bob@example.com")}
    table = "\n".join(render(first, topic="support.privacy.v1"))
    assert "fake.rows" in table and "router" in table and "not on this machine" in table
    assert "nothing left" not in table

    second = await forget(request, publish=None, erasers=[store])
    assert second.erased == 0 and not second.published
    assert "nothing left to erase here" in "\n".join(render(second, topic="t"))


def test_stores_without_state_here_are_listed_as_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setenv("PRIVACY_HASH_KEY", "k" * 32)
    monkeypatch.setenv("EMAIL_INGEST_STATE_DIR", str(tmp_path / "none"))
    erasers, elsewhere = load_erasers()
    assert erasers == [] and elsewhere == ["email_ingest"]


async def test_a_contact_id_alone_says_what_it_cannot_reach_yet():
    request = erasure_request(
        HASHER, identifiers=[], contact_id="ct_42", requested_by="cli", erased_at=datetime.now(UTC)
    )
    report = await forget(request, publish=None, erasers=[])
    assert "no identifier given" in "\n".join(render(report, topic="t"))
