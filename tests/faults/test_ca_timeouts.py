"""`apply --timeout` is a deadline for everything one certificate does, network calls
included: a CA that hangs on the directory, or on a POST, ends the run in time with a
named error (the acme library's own timeout is a fixed 30 s per request)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

from tests.faults.fake_acme import FakeAcme, apply, write_project


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    """A server of its own that keeps answering while one handler hangs."""
    server = HTTPServer(host="localhost", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def timed_apply(root: Path, *args: str) -> tuple[float, str, int]:
    started = time.monotonic()
    res = apply(root, *args, timeout=30)
    return time.monotonic() - started, res.stdout + res.stderr, res.returncode


def test_a_directory_that_never_answers_ends_within_the_timeout(
        silent_port: int, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{silent_port}/dir"
    root = write_project(tmp_path / "ops", url, ["a", "b"])
    elapsed, out, code = timed_apply(root, "--timeout", "5")
    assert code == 1
    assert elapsed < 7, f"took {elapsed:.1f} s"
    # the table cell holds a short reason; the failure is printed in full below it
    assert re.search(rf"a \(issue\) failed: CA {re.escape(url)}: the directory request timed "
                     rf"out: no answer to GET {re.escape(url)} within [45]\.\d s \(what was "
                     r"left of --timeout\)", out), out
    # b waited for a's connection, but not past its own deadline, and did not try again
    (b_line,) = [line for line in out.splitlines() if line.startswith("b (issue) failed: ")]
    assert "CA fake: --timeout ran out while another certificate was connecting to it" \
        in b_line or b_line.endswith("(what was left of --timeout) (not retried in this run)"), \
        out


def test_a_post_that_never_answers_ends_within_the_timeout(
        threaded_server: HTTPServer, tmp_path: Path) -> None:
    release = threading.Event()
    ca = FakeAcme(threaded_server)

    def hang(request: Request) -> Response:
        release.wait(20)
        return Response(status=500)

    ca.order = hang
    root = write_project(tmp_path / "ops", ca.directory_url, ["a"])
    try:
        elapsed, out, code = timed_apply(root, "--timeout", "5")
    finally:
        release.set()
    assert code == 1
    assert elapsed < 7, f"took {elapsed:.1f} s"
    order_url = threaded_server.url_for("/order")
    assert (f"CA {ca.directory_url}: the new order timed out: no answer to POST {order_url} "
            "within") in out, out
    assert "(what was left of --timeout)" in out
    assert ca.requests("/acct") == 1  # the account lookup came first, inside the deadline
