"""A CA that speaks just enough ACME over pytest-httpserver to reach newOrder, and
answers it the way a test asks (rate limited, hanging, ...); plus a certplan project
pointed at it, driven through the CLI as its own process (as cron runs it)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

REPO = Path(__file__).resolve().parents[2]
PROBLEM = "application/problem+json"
Answer = Callable[[Request], Response]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class FakeAcme:
    """Directory, HEAD newNonce and newAccount (the account always exists); newOrder
    answers with `order` (set by the test). Every request is in `server.log`."""

    def __init__(self, server: HTTPServer, order: Answer | None = None) -> None:
        self.server = server
        self.nonces = 0
        self.order: Answer = order or (lambda request: self.problem(
            "serverInternal", "no order answer set", 500))
        self.on_directory: Answer | None = None  # instead of the directory, if set
        self.directory = {name: server.url_for(path) for name, path in (
            ("newNonce", "/nonce"), ("newAccount", "/acct"), ("newOrder", "/order"),
            ("revokeCert", "/revoke"))}
        server.expect_request("/dir").respond_with_handler(self.answer_directory)
        server.expect_request("/nonce", method="HEAD").respond_with_handler(
            lambda request: Response(status=200, headers=self.nonce_header()))
        server.expect_request("/acct", method="POST").respond_with_handler(
            lambda request: self.reply({"status": "valid"}, 200,
                                       Location=server.url_for("/acct/1")))
        server.expect_request("/order", method="POST").respond_with_handler(
            lambda request: self.order(request))

    @property
    def directory_url(self) -> str:
        return self.server.url_for("/dir")

    def answer_directory(self, request: Request) -> Response:
        if self.on_directory is not None:
            return self.on_directory(request)
        return Response(json.dumps(self.directory), content_type="application/json")

    def nonce_header(self) -> dict[str, str]:
        self.nonces += 1
        return {"Replay-Nonce": _b64(f"nonce-{self.nonces}".encode())}

    def reply(self, body: dict[str, Any], status: int, content_type: str = "application/json",
              **headers: str) -> Response:
        return Response(json.dumps(body), status=status, content_type=content_type,
                        headers={**self.nonce_header(), **headers})

    def problem(self, kind: str, detail: str, status: int, **headers: str) -> Response:
        return self.reply({"type": f"urn:ietf:params:acme:error:{kind}", "detail": detail},
                          status, content_type=PROBLEM, **headers)

    def requests(self, path: str | None = None) -> int:
        """How many requests reached the CA (to `path` only, if given)."""
        return sum(1 for request, _ in self.server.log if path is None or request.path == path)


def write_project(root: Path, directory_url: str, names: list[str]) -> Path:
    """A project using CA "fake" at `directory_url`, one http-01 certificate per name."""
    root.mkdir(parents=True)
    (root / "certplan.toml").write_text("\n".join([
        "[defaults]", 'ca = "fake"', 'email = "ops@example.test"', "agree_tos = true", "",
        "[ca.fake]", f'directory = "{directory_url}"', ""]))
    webroot = root.parent / "webroot"
    webroot.mkdir(exist_ok=True)
    (root / "specs").mkdir()
    (root / "specs" / "site.toml").write_text("\n".join(
        "\n".join(["[[certificate]]", f'name = "{name}"', f'domains = ["{name}.example.test"]',
                   "[certificate.challenge]", 'type = "http-01"', f'webroot = "{webroot}"', ""])
        for name in names))
    return root


def certplan(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "certplan", "-C", str(root), *args],
                          cwd=REPO, text=True, capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def apply(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return certplan(root, "apply", "--auto-approve", *args, timeout=timeout)
