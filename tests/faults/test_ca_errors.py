"""CA failures read in words (HTTP status, URL, the problem document's type and
detail), never as a `Response` repr or a library's internal text: a wrong directory
path, an http:// URL for an https CA (real Pebble), a page that is not JSON, a 503
from a proxy, a problem document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Response

from certplan.ca import AcmeClient
from certplan.model.errors import AcmeError
from tests.faults.fake_acme import FakeAcme, apply, write_project
from tests.servers.pebble import PebbleServer, start_pebble

pytestmark = pytest.mark.integration

NOT_FOUND = ("<!doctype html><html><head><title>404 Not Found</title><style>body{}</style>"
             "</head><body><h1>Not Found</h1><p>No such page.</p></body></html>")


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleServer]:
    server = start_pebble(tmp_path_factory.mktemp("pebble"))
    yield server
    server.stop()


def connect_error(url: str) -> str:
    with pytest.raises(AcmeError) as caught:
        AcmeClient.connect(url, ec.generate_private_key(ec.SECP256R1())).ensure_account(
            "ops@example.test", agree_tos=True)
    text = str(caught.value)
    assert "<Response" not in text and "Unexpected response Content-Type" not in text
    return text


def test_wrong_directory_path_names_status_url_and_page(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/dirx").respond_with_data(NOT_FOUND, status=404,
                                                         content_type="text/html")
    url = httpserver.url_for("/dirx")
    assert connect_error(url) == (
        f'CA {url}: the directory request failed: HTTP 404 NOT FOUND from GET {url} '
        f'(text/html: "404 Not Found Not Found No such page."): check the URL')


def test_http_url_for_an_https_ca(pebble: PebbleServer) -> None:
    url = pebble.directory_url.replace("https://", "http://")
    text = connect_error(url)
    assert text.startswith(f"CA {url}: the directory request failed: HTTP 400 Bad Request "
                           f"from GET {url} (")
    assert "Client sent an HTTP request to an HTTPS server." in text
    assert text.endswith("(the server may expect https://)")


def test_a_page_that_is_not_json(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/dir").respond_with_data(
        "<html><body>Welcome to our portal</body></html>", content_type="text/html")
    url = httpserver.url_for("/dir")
    assert connect_error(url) == (
        f'CA {url}: the directory request failed: HTTP 200 OK from GET {url} (text/html: '
        '"Welcome to our portal") is not valid JSON: is this the ACME directory URL?')


def test_invalid_json_that_says_it_is_json(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/dir").respond_with_data('{"newNonce": ',
                                                        content_type="application/json")
    url = httpserver.url_for("/dir")
    assert connect_error(url) == (
        f'CA {url}: the directory request failed: HTTP 200 OK from GET {url} '
        '(application/json: "{"newNonce":") is not valid JSON')


def test_json_that_is_not_a_directory(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/dir").respond_with_json({"status": "up"})
    url = httpserver.url_for("/dir")
    assert connect_error(url) == (
        f'CA {url}: unexpected answer during the directory request: Directory field '
        '"newNonce" not found')


def test_503_from_a_proxy_without_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/dir").respond_with_data(
        "<html><body><h1>503 Service Unavailable</h1>No server is available to handle this "
        "request.</body></html>", status=503, content_type="text/html")
    url = httpserver.url_for("/dir")
    assert connect_error(url) == (
        f'CA {url}: the directory request failed: HTTP 503 SERVICE UNAVAILABLE from GET '
        f'{url} (text/html: "503 Service Unavailable No server is available to handle this '
        'request.")')


def test_problem_document_names_type_detail_status_and_url(httpserver: HTTPServer) -> None:
    ca = FakeAcme(httpserver)
    httpserver.clear()
    httpserver.expect_request("/dir").respond_with_json(ca.directory)
    httpserver.expect_request("/nonce", method="HEAD").respond_with_handler(
        lambda request: Response(status=200, headers=ca.nonce_header()))
    httpserver.expect_request("/acct", method="POST").respond_with_handler(
        lambda request: ca.problem("unauthorized", "account key is on a deny list", 403))
    url = httpserver.url_for("/dir")
    assert connect_error(url) == (
        f"CA {url} refused the account lookup: unauthorized: account key is on a deny list "
        f"(HTTP 403 FORBIDDEN from POST {httpserver.url_for('/acct')})")


def test_apply_reports_a_wrong_directory_path_in_words(httpserver: HTTPServer,
                                                       tmp_path: Path) -> None:
    httpserver.expect_request("/acme/directory").respond_with_data(
        NOT_FOUND, status=404, content_type="text/html")
    url = httpserver.url_for("/acme/directory")
    root = write_project(tmp_path / "ops", url, ["www"])
    res = apply(root)
    assert res.returncode == 1
    assert (f"www (issue) failed: CA {url}: the directory request failed: HTTP 404 NOT FOUND "
            f"from GET {url}") in res.stdout, res.stdout
    assert "<Response" not in res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    assert not (root / ".certplan" / "ratelimits").exists()  # an error, not a rate limit
