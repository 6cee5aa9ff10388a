"""STARTTLS and implicit TLS with AUTH, against aiosmtpd with a throwaway certificate."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from services.notifier.bootstrap import (
    build_composer,
    build_handler,
    handler_config,
    open_adapters,
)
from services.notifier.decisions import plan_notifications
from services.notifier.errors import TransientDeliveryError
from services.notifier.samples import sample_events, snapshot
from services.notifier.settings import SmtpTls
from tools.testing.system import free_port

from .conftest import RecordingHandler, notifier_settings

pytestmark = [
    pytest.mark.integration,
    # Implicit TLS server: aiosmtpd cannot tell that the connection is already TLS.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


class Credentials:
    def __init__(self) -> None:
        self.logins: list[str] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)


def start_server(mode: SmtpTls, certificate, credentials: Credentials):
    handler = RecordingHandler()
    port = free_port()
    context = server_context(certificate)
    options = {"authenticator": credentials, "auth_required": True}
    if mode is SmtpTls.STARTTLS:
        options |= {"tls_context": context, "require_starttls": True}
    else:
        # aiosmtpd only counts STARTTLS as TLS; this whole connection is TLS already.
        options |= {"ssl_context": context, "auth_require_tls": False}
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller, handler, port


@pytest.mark.parametrize("mode", [SmtpTls.STARTTLS, SmtpTls.IMPLICIT])
async def test_tls_and_auth_deliver_korean_mail(mode, certificate, kafka_topics, tmp_path):
    credentials = Credentials()
    controller, handler, port = start_server(mode, certificate, credentials)
    settings = notifier_settings(
        kafka_topics,
        tmp_path,
        smtp_port=port,
        smtp_tls=mode,
        smtp_user="notifier",
        smtp_password="s3cret",
        smtp_ca_file=certificate[0],
    )
    try:
        async with open_adapters(settings) as adapters:
            handler_ = build_handler(settings, adapters)
            events = sample_events(snapshot(language="ko"))
            await handler_.handle("ev-tls-1", events["support.conversation.opened"])
            await handler_.handle("ev-tls-2", events["support.conversation.resolved"])
            assert adapters.smtp.connections_opened == 1  # TLS + AUTH once, reused
    finally:
        controller.stop()
    assert credentials.logins == ["notifier"]
    subjects = [m.message["Subject"] for m in handler.received]
    assert subjects[0] == "[#C-1234] 문의가 접수되었습니다: 출금이 안 됩니다"
    assert len(subjects) == 2


async def test_untrusted_certificate_is_a_transient_failure(certificate, kafka_topics, tmp_path):
    credentials = Credentials()
    controller, handler, port = start_server(SmtpTls.IMPLICIT, certificate, credentials)
    settings = notifier_settings(
        kafka_topics, tmp_path, smtp_port=port, smtp_tls=SmtpTls.IMPLICIT, send_attempts=1
    )
    event = sample_events()["support.conversation.opened"]
    [notice] = plan_notifications(event, handler_config(settings).plan).mails
    try:
        async with open_adapters(settings) as adapters:
            mail = build_composer(settings).mail("ev-tls-3", event, notice)
            with pytest.raises(TransientDeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
                await adapters.smtp.send(mail)
    finally:
        controller.stop()
    assert handler.received == [] and credentials.logins == []
