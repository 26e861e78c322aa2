"""The standalone http-01 validator: certplan answers the CA's requests itself.

One built-in HTTP server per listen address for a whole apply run, shared by every
order that needs it (tokens keyed by their request path), so that certificates
issued in parallel do not each try to bind the same port. With a `StandalonePool`
(apply passes one) the server starts with the first challenge and stops when the
run ends (`StandalonePool.close`); without one, a validator runs its own server
from present() until its last challenge is cleaned up.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from certplan.model.challenge import Challenge
from certplan.model.errors import ChallengeError
from certplan.validators.http01 import (
    CHALLENGE_PATH,
    SELF_CHECK_TIMEOUT,
    check_token,
    make_resolver,
    self_check,
)

Listen = tuple[str, int]


def _where(listen: Listen) -> str:
    host, port = listen
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    answers: dict[str, str]  # request path -> key authorization


class _V6Server(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        answer = self.server.answers.get(self.path.split("?", 1)[0])
        body = answer.encode("ascii") if answer is not None else b"not found\n"
        self.send_response(200 if answer is not None else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return  # library code never prints


class StandaloneServer:
    """One listening socket and the answers it serves; thread-safe."""

    def __init__(self, listen: Listen):
        self.listen = listen
        self._answers: dict[str, str] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.starts = 0  # how often a socket was bound (one per run when shared)

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def empty(self) -> bool:
        with self._lock:
            return not self._answers

    def add(self, challenges: list[Challenge]) -> None:
        """Serve these challenges, starting the server if it is not up (ChallengeError
        naming the address when it cannot listen)."""
        with self._lock:
            if self._server is None:
                self._start(challenges)
            for ch in challenges:
                self._answers[CHALLENGE_PATH + check_token(ch)] = ch.key_authorization

    def remove(self, challenges: list[Challenge]) -> None:
        """Stop serving exactly these answers (another order's stay)."""
        with self._lock:
            for ch in challenges:
                path = CHALLENGE_PATH + ch.token
                if self._answers.get(path) == ch.key_authorization:
                    del self._answers[path]

    def _start(self, challenges: list[Challenge]) -> None:
        host, port = self.listen
        cls = _V6Server if ":" in host else _Server
        try:
            server = cls((host, port), _Handler)
        except OSError as exc:
            raise ChallengeError({ch.domain: f"standalone: cannot listen on "
                                  f"{_where(self.listen)}: {exc.strerror or exc}"
                                  for ch in challenges}) from None
        server.answers = self._answers
        self._server = server
        self.starts += 1
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"certplan-http01-{port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)


class StandalonePool:
    """The standalone servers of one run, one per listen address."""

    def __init__(self) -> None:
        self._servers: dict[Listen, StandaloneServer] = {}
        self._lock = threading.Lock()

    def server(self, listen: Listen) -> StandaloneServer:
        with self._lock:
            if listen not in self._servers:
                self._servers[listen] = StandaloneServer(listen)
            return self._servers[listen]

    def close(self) -> None:
        """Stop every server (the end of the run)."""
        with self._lock:
            servers = list(self._servers.values())
        for server in servers:
            server.stop()


class StandaloneValidator:
    """Serves tokens from a built-in HTTP server on `listen` (shared through `pool`)."""

    challenge_type = "http-01"

    def __init__(self, listen: Listen = ("0.0.0.0", 80), *, self_check: bool = True,
                 port: int = 80, resolvers: list[str] | None = None,
                 self_check_timeout: float = SELF_CHECK_TIMEOUT,
                 pool: StandalonePool | None = None):
        self.listen = listen
        self.self_check = self_check
        self.self_check_timeout = self_check_timeout
        self.port = port
        self.resolvers = list(resolvers or [])
        self.pool = pool
        self._server = pool.server(listen) if pool is not None else StandaloneServer(listen)

    @property
    def running(self) -> bool:
        return self._server.running

    def present(self, challenges: list[Challenge]) -> None:
        self._server.add(challenges)

    def check(self, challenges: list[Challenge], deadline: float) -> None:
        if not self.self_check:
            return
        deadline = min(deadline, time.monotonic() + self.self_check_timeout)
        self_check(challenges, deadline, port=self.port, resolve=make_resolver(self.resolvers),
                   where=lambda ch: f"certplan's standalone server on {_where(self.listen)}")

    def cleanup(self, challenges: list[Challenge]) -> None:
        self._server.remove(challenges)
        if self.pool is None and self._server.empty:
            self._server.stop()  # its own server: down with the last challenge
