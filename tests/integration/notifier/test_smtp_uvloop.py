"""The SMTP pool on uvloop, the loop ``python -m services.notifier`` runs on
(``NOTIFIER_EVENT_LOOP``): plain with pipelining, STARTTLS and implicit TLS with AUTH,
against aiosmtpd. The pool takes the handshaken transport over from aiosmtplib
(``transport.set_protocol``), which uvloop's transports implement on their own."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
import uvloop

from services.notifier.bootstrap import build_composer, handler_config
from services.notifier.decisions import plan_notifications
from services.notifier.samples import sample_events, snapshot
from services.notifier.settings import NotifierSettings, SmtpTls
from services.notifier.smtp import SmtpConfig, SmtpPool
from services.notifier.smtp_sink import OffersPipelining, PipelinedRepliesController
from tools.testing.system import free_port

from .conftest import RecordingHandler
from .test_smtp_tls import Credentials, certificate, start_server  # noqa: F401 (fixture)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


class PipeliningRecorder(RecordingHandler, OffersPipelining):
    """Keeps every mail, and offers PIPELINING as Postfix does."""


def korean_mails(count: int) -> list:
    settings = NotifierSettings(
        mail_domain="desk.example", from_address="support@desk.example", state_dir="/tmp"
    )
    composer = build_composer(settings)
    events = sample_events(snapshot(language="ko"))
    event = events["support.conversation.assigned"]
    [notice] = plan_notifications(event, handler_config(settings).plan).mails
    return [composer.mail(f"ev-uvloop-{n}", event, notice) for n in range(count)]


def on_uvloop(config: SmtpConfig, mails: list) -> tuple[type, int]:
    """Send ``mails`` at once through a pool on a fresh uvloop loop; the loop's type and
    the connections opened."""

    async def send_all() -> tuple[type, int]:
        pool = SmtpPool(config)
        try:
            await asyncio.gather(*(pool.send(mail) for mail in mails))
        finally:
            await pool.close()
        return type(asyncio.get_running_loop()), pool.connections_opened

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(send_all())


def test_pipelined_mails_on_uvloop():
    handler = PipeliningRecorder()
    port = free_port()
    controller = PipelinedRepliesController(handler, hostname="127.0.0.1", port=port)
    controller.start()
    mails = korean_mails(12)
    try:
        loop_type, opened = on_uvloop(SmtpConfig(host="127.0.0.1", port=port, pool_size=1), mails)
    finally:
        controller.stop()
    assert loop_type is uvloop.Loop
    assert opened == 1  # one connection, every mail pipelined on it
    assert [r.raw for r in handler.received] == [m.raw for m in mails]  # byte for byte, in order
    assert {r.rcpt_tos[0] for r in handler.received} == {mails[0].recipient}


@pytest.mark.parametrize("mode", [SmtpTls.STARTTLS, SmtpTls.IMPLICIT])
def test_tls_and_auth_on_uvloop(mode, certificate):  # noqa: F811 (the fixture)
    credentials = Credentials()
    controller, handler, port = start_server(mode, certificate, credentials)
    config = SmtpConfig(
        host="127.0.0.1",
        port=port,
        tls=mode,
        user="notifier",
        password="s3cret",
        ca_file=str(certificate[0]),
        pool_size=1,
    )
    mails = korean_mails(3)
    try:
        loop_type, opened = on_uvloop(config, mails)
    finally:
        controller.stop()
    assert loop_type is uvloop.Loop and opened == 1
    assert credentials.logins == ["notifier"]
    assert [r.raw for r in handler.received] == [m.raw for m in mails]


LOOP_OF = """
import asyncio
from services.notifier.bootstrap import use_event_loop
from services.notifier.settings import NotifierSettings

use_event_loop(NotifierSettings().event_loop)

async def loop_type():
    return type(asyncio.get_running_loop()).__module__

print(asyncio.run(loop_type()))
"""


@pytest.mark.parametrize(
    ("setting", "module"), [(None, "uvloop"), ("asyncio", "asyncio.unix_events")]
)
def test_the_service_loop_is_uvloop_unless_asked_for_asyncio(setting, module, tmp_path):
    env = {"NOTIFIER_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    if setting is not None:
        env["NOTIFIER_EVENT_LOOP"] = setting
    done = subprocess.run(
        [sys.executable, "-c", LOOP_OF], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [module]
