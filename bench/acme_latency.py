"""ACME protocol latency per step against a local Pebble (NOSLEEP, default nonce faults).

Run: .venv/bin/python -m bench.acme_latency [ROUNDS]
Prints one line per issuance and the median of the totals. Starts and stops
its own Pebble on free loopback ports; the http-01 responder is a tiny
in-process HTTP server (as in the integration tests).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from certplan.ca import AcmeClient
from tests.integration.test_ca_client import Responder, make_csr
from tests.servers.pebble import start_pebble


def one_round(directory_url: str, ca_bundle: str, account_key: ec.EllipticCurvePrivateKey,
              responder: Responder, name: str) -> dict[str, float]:
    marks = [("start", time.monotonic())]
    client = AcmeClient.connect(directory_url, account_key, ca_bundle=ca_bundle)
    marks.append(("connect", time.monotonic()))
    client.ensure_account("bench@example.com", agree_tos=True)
    marks.append(("account", time.monotonic()))
    order = client.new_order(make_csr([name, "www." + name])[1])
    marks.append(("order", time.monotonic()))
    pending = client.pending_challenges(order, lambda ident, wildcard: "http-01")
    for item in pending:
        responder.tokens[item.challenge.token] = item.challenge.key_authorization
    client.answer(pending)
    marks.append(("answer", time.monotonic()))
    client.wait_authorizations(order, time.monotonic() + 30)
    marks.append(("validated", time.monotonic()))
    client.finalize(order, time.monotonic() + 30)
    marks.append(("issued", time.monotonic()))
    steps = {b[0]: b[1] - a[1] for a, b in zip(marks, marks[1:], strict=False)}
    steps["total"] = marks[-1][1] - marks[0][1]
    return steps


def main(rounds: int) -> None:
    server = start_pebble(Path(tempfile.mkdtemp(prefix="bench-pebble-")))
    responder = Responder(server.http_port)
    key = ec.generate_private_key(ec.SECP256R1())
    totals = []
    try:
        for i in range(rounds):
            steps = one_round(server.directory_url, server.ca_bundle, key, responder,
                              f"bench{i}.example.com")
            totals.append(steps["total"])
            print("  ".join(f"{k} {v * 1000:6.1f} ms" for k, v in steps.items()))
    finally:
        responder.close()
        server.stop()
    print(f"median total {statistics.median(totals) * 1000:.1f} ms over {rounds} issuances")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
