"""issue #18: forget a customer → email_ingest, running against a real Dovecot and
broker, erases every trace of her (its consumer of support.privacy.v1); the
other customer's mail stays; a second run is harmless and says so."""

from __future__ import annotations

import asyncio

import pytest

from libs.common.cloudevents import decode
from libs.common.privacy.identifiers import PrivacySettings
from tests.helpers.waiting import eventually
from tests.integration.email_ingest.helpers import (
    count_at_least,
    mailbox_config,
    reader,
    running_service,
    service_settings,
)
from tests.integration.privacy.helpers import HASH_KEY, cli_env, omnidesk, scan_state, table
from tests.unit.email_ingest.privacy_helpers import customer_mail

pytestmark = pytest.mark.integration

ID_CARD = "alice's ID card scan"
ALICE = ["alice.kim@example.co.kr", "Alice Kim", "김앨리스", "passport number M12345678", ID_CARD]
BOB = ["bob.lee@example.com", "Bob Lee", "where is my KRW deposit"]
ID_PHOTO = b"\xff\xd8\xff\xe0 " + ID_CARD.encode()


async def test_forget_alice_leaves_no_trace_in_email_ingest_and_keeps_bob(
    dovecot, imap_user, kafka_topics, tmp_path
):
    state = tmp_path / "email_ingest"
    mailbox = mailbox_config(dovecot, imap_user)
    settings = service_settings(
        kafka_topics, state, [mailbox], privacy=PrivacySettings(hash_key=HASH_KEY)
    )
    alice_text = f"{ALICE[2]}: my {ALICE[3]}, please check"
    async with (
        reader(kafka_topics, kafka_topics.topics.interactions) as interactions,
        reader(kafka_topics, kafka_topics.topics.privacy) as privacy,
        running_service(settings),
    ):
        await dovecot.append(
            imap_user,
            customer_mail(1, name=ALICE[1], address=ALICE[0], text=alice_text, attachment=ID_PHOTO),
        )
        await dovecot.append(imap_user, customer_mail(2, name=BOB[1], address=BOB[0], text=BOB[2]))
        await interactions.until(count_at_least(2))
        await eventually(lambda: scan_state(state, [])["email_ingest sqlite mail_blob"][0] == 5)
        before = scan_state(state, ALICE)
        assert before["email_ingest blob files"][1] == 2  # her raw mail and her ID photo

        # Run where email_ingest's state is not: the request travels on the topic.
        elsewhere = cli_env(kafka_topics, state_dir=tmp_path / "not-here")
        first = await omnidesk("privacy", "forget", "--email", ALICE[0].upper(), env=elsewhere)
        assert first.code == 0, first.output
        assert f"published on {kafka_topics.topics.privacy}" in first.output
        assert "email_ingest" in first.output and "not on this machine" in first.output

        (record,) = await privacy.until(count_at_least(1))
        wire = (record.key or b"") + record.value + b"".join(v for _k, v in record.headers)
        assert not any(n.lower().encode() in wire.lower() for n in ALICE)
        request = decode(list(record.headers), record.value).data
        assert record.key.decode() == request.tombstone_id and request.requested_by == "cli"

        await eventually(lambda: scan_state(state, ALICE)["email_ingest blob files"][1] == 0)
        after = scan_state(state, ALICE)
        bob = scan_state(state, BOB)
        print("\n" + table(before, "alice (before)"))
        print(table(after, "alice (after)"))
        print(table(bob, "bob (after)"))
        assert all(hits == 0 for _checked, hits in after.values()), after
        assert bob["email_ingest blob files"][1] == 1  # bob's raw mail is untouched
        assert after["email_ingest sqlite handled_message"][0] == 2  # alice's row is a marker

        # Again, this time where the state is: it erases nothing and says so.
        here = cli_env(kafka_topics, state_dir=state)
        second = await omnidesk("privacy", "forget", "--email", ALICE[0], env=here)
        assert second.code == 0, second.output
        print(second.output)
        assert "email_ingest.handled_message" in second.output
        assert "nothing left to erase here" in second.output
        await privacy.until(count_at_least(2))
        assert scan_state(state, BOB)["email_ingest blob files"][1] == 1
    final = scan_state(state, ALICE)  # the service stopped: the WAL is checkpointed into the db
    assert all(hits == 0 for _checked, hits in final.values()), final


async def test_with_no_mailbox_left_the_mail_kept_so_far_is_still_erased(kafka_topics, tmp_path):
    from services.email_ingest.bootstrap import run_service
    from tests.unit.email_ingest.privacy_helpers import HASH_KEY as key
    from tests.unit.email_ingest.privacy_helpers import Desk

    state = tmp_path / "email_ingest"
    desk = Desk(state)  # mail handled while the mailbox was still configured
    await desk.handle(customer_mail(1, name=ALICE[1], address=ALICE[0], text=ALICE[3]))
    await desk.handle(customer_mail(2, name=BOB[1], address=BOB[0], text=BOB[2]))
    desk.checkpoints.close()
    settings = service_settings(kafka_topics, state, [], privacy=PrivacySettings(hash_key=key))
    stop = asyncio.Event()
    service = asyncio.create_task(run_service(settings, stop))
    try:
        env = cli_env(kafka_topics, state_dir=tmp_path / "not-here", PRIVACY_HASH_KEY=key)
        run = await omnidesk("privacy", "forget", "--email", ALICE[0], env=env)
        assert run.code == 0, run.output
        await eventually(lambda: scan_state(state, ALICE)["email_ingest blob files"][1] == 0)
        assert scan_state(state, BOB)["email_ingest blob files"][1] == 1
    finally:
        stop.set()
        await asyncio.wait_for(service, 60)
