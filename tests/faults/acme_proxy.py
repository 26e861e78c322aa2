"""A TLS proxy in front of a real Pebble (pytest-httpserver), which can lose answers.

Every request is forwarded to Pebble with the proxy's own Host header, so Pebble
writes the proxy's URLs into its answers and checks the JWS `url` against them: the
client speaks to the proxy exactly as to a CA. `mode` decides what the key change
request (RFC 8555 7.3.5, `/rollover-account-key` at Pebble) meets:

    "pass"       forwarded and answered
    "slow"       forwarded (Pebble changes the key), the answer held back `delay` s;
                 an answer that is not 200 (badNonce: nothing changed) is passed at once
    "lost"       not forwarded; the client waits `delay` s for nothing
    "down"       like "slow", and every later request is answered 503
"""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.servers.pebble import PebbleServer

KEY_CHANGE = "/rollover-account-key"
_KEPT_HEADERS = ("Content-Type", "Location", "Link", "Replay-Nonce", "Retry-After")


@dataclass
class AcmeProxy:
    server: HTTPServer
    pebble: PebbleServer
    mode: str = "pass"
    delay: float = 4.5
    key_changes: int = 0  # key change requests Pebble received
    seen: list[str] = field(default_factory=list)
    _down: bool = False
    # set while no key change is on its way to Pebble: other requests wait for it, so
    # that a lookup after the client's timeout sees what Pebble did, however loaded
    # the machine is
    _settled: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._settled.set()

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.server.port}/dir"

    def handle(self, request: Request) -> Response:
        self.seen.append(f"{request.method} {request.path}")
        if request.path != KEY_CHANGE:
            self._settled.wait(30)
        if self._down:
            return Response("down for maintenance", status=503)
        if request.path == KEY_CHANGE and self.mode != "pass":
            if self.mode == "lost":
                time.sleep(self.delay)
                return Response("lost", status=504)
            self._settled.clear()
            try:
                answer = self._forward(request)
                if answer.status_code != 200:
                    # Pebble changed nothing (a badNonce, say): the client must see it
                    # at once and retry, as it would without the proxy
                    return answer
                self.key_changes += 1
                self._down = self.mode == "down"
            finally:
                self._settled.set()
            time.sleep(self.delay)
            return answer
        if request.path == KEY_CHANGE:
            self.key_changes += 1
        return self._forward(request)

    def _forward(self, request: Request) -> Response:
        base = self.pebble.directory_url.rsplit("/dir", 1)[0]
        url = base + request.full_path.rstrip("?")
        headers = {"Host": f"127.0.0.1:{self.server.port}"}
        if request.content_type:
            headers["Content-Type"] = request.content_type
        got = requests.request(request.method, url, data=request.get_data(), headers=headers,
                               verify=self.pebble.ca_bundle, timeout=30)
        kept = {k: v for k, v in got.headers.items() if k in _KEPT_HEADERS}
        return Response(got.content, status=got.status_code, headers=kept)


@pytest.fixture
def acme_proxy(pebble: PebbleServer) -> Iterator[AcmeProxy]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pebble.ca_bundle, str(pebble.workdir / "listener.key"))
    server = HTTPServer(host="127.0.0.1", ssl_context=context, threaded=True)
    proxy = AcmeProxy(server, pebble)
    server.expect_request(re.compile(".*")).respond_with_handler(proxy.handle)
    server.start()
    try:
        yield proxy
    finally:
        server.clear()
        if server.is_running():
            server.stop()
