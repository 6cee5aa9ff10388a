"""Kafka TLS and SASL settings reach aiokafka intact (KafkaSettings.client_options)."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from libs.common.settings import KafkaSettings

PASSWORD = "scram-password-do-not-log"


def _write_cert(folder: Path, name: str, *, ca: bool) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    ca, _ = _write_cert(tmp_path, "test-ca", ca=True)
    cert, key = _write_cert(tmp_path, "client", ca=False)
    _, other_key = _write_cert(tmp_path, "other", ca=False)
    return {"ca": ca, "cert": cert, "key": key, "other_key": other_key}


def test_plaintext_passes_no_tls_and_no_sasl():
    options = KafkaSettings().client_options()
    assert options["security_protocol"] == "PLAINTEXT"
    assert "ssl_context" not in options
    assert not {k for k in options if k.startswith("sasl")}


def test_ssl_verifies_the_broker_with_the_given_ca(pki):
    options = KafkaSettings(security_protocol="SSL", ssl_cafile=str(pki["ca"])).client_options()
    context = options["ssl_context"]
    assert options["security_protocol"] == "SSL"
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.cert_store_stats()["x509_ca"] >= 1
    assert not {k for k in options if k.startswith("sasl")}


def test_mutual_tls_loads_the_client_certificate(pki):
    settings = KafkaSettings(
        security_protocol="SSL",
        ssl_cafile=str(pki["ca"]),
        ssl_certfile=str(pki["cert"]),
        ssl_keyfile=str(pki["key"]),
    )
    assert isinstance(settings.client_options()["ssl_context"], ssl.SSLContext)


def test_a_key_that_does_not_match_the_certificate_fails_at_start(pki):
    settings = KafkaSettings(
        security_protocol="SSL",
        ssl_cafile=str(pki["ca"]),
        ssl_certfile=str(pki["cert"]),
        ssl_keyfile=str(pki["other_key"]),
    )
    with pytest.raises(ssl.SSLError):
        settings.client_options()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_passes_tls_and_credentials(pki, mechanism):
    options = KafkaSettings(
        security_protocol="SASL_SSL",
        sasl_mechanism=mechanism,
        sasl_username="omnidesk",
        sasl_password=PASSWORD,
        ssl_cafile=str(pki["ca"]),
    ).client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["ssl_context"].verify_mode is ssl.CERT_REQUIRED
    assert options["sasl_mechanism"] == mechanism
    assert options["sasl_plain_username"] == "omnidesk"
    assert options["sasl_plain_password"] == PASSWORD


def test_sasl_plaintext_defaults_to_plain_without_tls():
    options = KafkaSettings(
        security_protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password="p"
    ).client_options()
    assert options["sasl_mechanism"] == "PLAIN"
    assert "ssl_context" not in options


def test_settings_come_from_the_environment(monkeypatch, pki):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "b1.example:9093, b2.example:9093")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "omnidesk")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(pki["ca"]))
    options = KafkaSettings().client_options()
    assert options["bootstrap_servers"] == "b1.example:9093,b2.example:9093"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_password"] == PASSWORD
    assert options["ssl_context"].cert_store_stats()["x509_ca"] >= 1


def test_the_password_is_not_shown(pki):
    settings = KafkaSettings(
        security_protocol="SASL_SSL", sasl_username="u", sasl_password=PASSWORD
    )
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings)
    assert PASSWORD not in settings.model_dump_json()


def test_unknown_protocols_and_mechanisms_are_refused():
    with pytest.raises(ValidationError):
        KafkaSettings(security_protocol="TLS")
    with pytest.raises(ValidationError):
        KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="GSSAPI-ish")


async def test_every_aiokafka_client_accepts_the_options(pki):
    options = KafkaSettings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="omnidesk",
        sasl_password=PASSWORD,
        ssl_cafile=str(pki["ca"]),
    ).client_options()
    producer = AIOKafkaProducer(**options, enable_idempotence=True)
    consumer = AIOKafkaConsumer("t", **options, group_id="g")
    admin = AIOKafkaAdminClient(**options)
    # The connection layer each client builds (aiokafka's AIOKafkaClient) holds them.
    for client in (producer.client, consumer._client, admin._client):
        assert client._security_protocol == "SASL_SSL"
        assert client._ssl_context is options["ssl_context"]
        assert client._sasl_mechanism == "SCRAM-SHA-512"
        assert client._sasl_plain_username == "omnidesk"
        assert client._sasl_plain_password == PASSWORD
    await producer.stop()
    await consumer.stop()
    await admin.close()
