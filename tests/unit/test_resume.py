"""engine.resume: the open order recorded in state (from git) is only asked of the CA
that certplan.toml names: its URL must be on that CA's host."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from certplan.engine.resume import resume_open_order
from certplan.model.crypto import generate_key, key_to_pem, make_csr
from certplan.model.records import PendingOrder
from certplan.store.keystore import Keystore
from tests.unit.test_plan import desired, record

D = desired()
DIRECTORY = D.directories[0]


class Client:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def fetch_order(self, url: str, csr_pem: bytes) -> Any:
        self.asked.append(url)
        raise AssertionError("not reached in these tests")


def _setup(tmp_path: Path, url: str) -> tuple[Keystore, Any]:
    keystore = Keystore(tmp_path / "ks")
    key_pem = key_to_pem(generate_key(D.spec.key))
    keystore.store_pending_key(D.spec.name, key_pem)
    from certplan.model.crypto import load_key
    csr = make_csr(load_key(key_pem), list(D.spec.domains))
    pending = PendingOrder(url=url, ca=D.spec.ca[0], directory=DIRECTORY,
                           created_at=datetime(2026, 5, 31, tzinfo=UTC),
                           csr_pem=csr.decode("ascii"), profile=D.spec.profile)
    return keystore, record(D, cert=False, pending_order=pending)


@pytest.mark.parametrize("url", ["https://attacker.example/order/1",
                                 "http://acme-v02.api.letsencrypt.org/acme/order/1",
                                 "https://acme-v02.api.letsencrypt.org:8443/acme/order/1",
                                 "https://169.254.169.254/latest/meta-data"])
def test_an_order_url_off_the_ca_host_is_never_requested(tmp_path: Path, url: str) -> None:
    keystore, rec = _setup(tmp_path, url)
    client, lines, forgotten = Client(), [], []
    got = resume_open_order(client, DIRECTORY, D.spec, rec, keystore,  # type: ignore[arg-type]
                            0.0, lines.append, forgotten.append)
    assert got is None and client.asked == []
    assert forgotten == [D.spec.name]
    assert "is not on the CA's host" in lines[0]
    assert keystore.load_pending_key(D.spec.name) is None


def test_an_order_url_on_the_ca_host_is_asked(tmp_path: Path) -> None:
    url = "https://acme-v02.api.letsencrypt.org/acme/order/1/2"
    keystore, rec = _setup(tmp_path, url)
    client = Client()
    with pytest.raises(AssertionError):
        resume_open_order(client, DIRECTORY, D.spec, rec, keystore,  # type: ignore[arg-type]
                          0.0, lambda line: None, lambda name: None)
    assert client.asked == [url]
