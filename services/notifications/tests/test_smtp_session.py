"""The SMTP session against a real aiosmtpd server: STARTTLS with a verified certificate,
AUTH, and a wrong password that makes every delivery wait instead of failing."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from notifications.adapters.composer import Outgoing
from notifications.adapters.mailer import ConnectionMailError, Mailer
from uskalla_devstack.servers import free_port
from uskalla_mailsink import MailStore

from .conftest import Service


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Keeper:
    def __init__(self, store: MailStore) -> None:
        self.store = store
        self.tls: list[bool] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.tls.append(session.ssl is not None)
        self.store.save(envelope.original_content or envelope.content, list(envelope.rcpt_tos))
        return "250 OK"


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"uskalla", b"s3cret")
    return AuthResult(success=ok)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Controller, Keeper, Path]]:
    import ssl

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    keeper = Keeper(MailStore(tmp_path / "mail"))
    controller = Controller(
        keeper,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    yield controller, keeper, cert
    controller.stop()


def message(service: Service, to: str) -> Any:
    composer = service.runtime.extra["services"].deliveries.composer
    item = Outgoing(
        id=__import__("uuid").uuid4(),
        kind="sign_in",
        email=to,
        language="en",
        cause="c",
        message_id="<m@uskalla.test>",
        context={"name": "T", "token": service.seal("x"), "valid_minutes": 15},
    )
    return composer.compose(item)


def test_starttls_and_auth(service: Service, tls_server: tuple[Controller, Keeper, Path]) -> None:
    controller, keeper, cert = tls_server
    settings = service.runtime.extra["settings"]
    settings.smtp_port = controller.port
    settings.smtp_starttls, settings.smtp_ca_file = True, str(cert)
    settings.smtp_username, settings.smtp_password = "uskalla", "s3cret"
    with Mailer(settings) as mailer:
        mailer.send(message(service, "a@example.fi"))
        mailer.send(message(service, "b@example.fi"))  # the same session, reused
    assert keeper.tls == [True, True]
    assert len(keeper.store.messages()) == 2


def test_wrong_password_or_untrusted_certificate_waits(
    service: Service, tls_server: tuple[Controller, Keeper, Path]
) -> None:
    controller, keeper, cert = tls_server
    settings = service.runtime.extra["settings"]
    settings.smtp_port = controller.port
    settings.smtp_starttls, settings.smtp_ca_file = True, str(cert)
    settings.smtp_username, settings.smtp_password = "uskalla", "wrong"
    settings.smtp_timeout = 5
    with pytest.raises(ConnectionMailError), Mailer(settings) as mailer:
        mailer.send(message(service, "a@example.fi"))
    settings.smtp_password, settings.smtp_ca_file = "s3cret", None  # the system CAs do not know it
    with (
        pytest.raises(ConnectionMailError, match="CERTIFICATE_VERIFY_FAILED"),
        Mailer(settings) as m,
    ):
        m.send(message(service, "a@example.fi"))
    assert keeper.store.messages() == []
