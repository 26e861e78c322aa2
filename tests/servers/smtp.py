"""A real SMTP server on a free loopback port (aiosmtpd): STARTTLS with a
self-signed certificate for 127.0.0.1, AUTH LOGIN/PLAIN checked against one user,
every message kept as received."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.servers.pebble import write_listener_cert
from tests.servers.ports import free_port


@dataclass
class SmtpServer:
    port: int
    ca_bundle: Path  # the self-signed certificate the server presents
    user: str
    password: str
    messages: list[tuple[str, list[str], Message]] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)  # (user, accepted)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              message_from_bytes(envelope.original_content)))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = data.login.decode()
        ok = user == self.user and data.password.decode() == self.password
        self.logins.append((user, ok))
        return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(workdir: Path, user: str, password: str) -> Iterator[SmtpServer]:
    workdir.mkdir(parents=True, exist_ok=True)
    cert, key = write_listener_cert(workdir)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer(free_port(), cert, user, password)
    controller = Controller(server, hostname="127.0.0.1", port=server.port, tls_context=context,
                            require_starttls=True, authenticator=server.authenticate,
                            auth_require_tls=True)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
