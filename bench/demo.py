"""`make demo`: a real plan and apply against a local Pebble CA, served by nginx.

Starts Pebble (with its mock DNS) and nginx on free loopback ports, builds a
project in .demo/ from this repository's certplan.toml and specs/ (ports
rewritten), runs `certplan plan` and `certplan apply --auto-approve`, shows
`certplan list`, proves the certificate with `openssl verify` against Pebble's
root and a TLS handshake to nginx, runs `plan` again (nothing to do), and stops
everything it started.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.servers.nginx import start_nginx
from tests.servers.pebble import start_pebble

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / ".demo"
CERTPLAN = [sys.executable, "-m", "certplan", "-C", str(DEMO)]


def step(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    shown = " ".join(["certplan", *args])
    print(f"$ {shown}", flush=True)
    res = subprocess.run([*CERTPLAN, *args], text=True, cwd=REPO)
    if check and res.returncode not in (0, 2):
        raise SystemExit(f"demo failed: `{shown}` exited {res.returncode}")
    return res


def write_project(directory_url: str, http_port: int, dns_port: int | None,
                  https_port: int) -> None:
    config = (REPO / "certplan.toml").read_text()
    config = re.sub(r'directory = "https://127\.0\.0\.1:\d+/dir"',
                    f'directory = "{directory_url}"', config)
    config = re.sub(r"\[http01\]\nport = \d+", f"[http01]\nport = {http_port}", config)
    if dns_port:
        config += f'\n[dns]\nresolvers = ["127.0.0.1:{dns_port}"]\n'
    (DEMO / "certplan.toml").write_text(config)
    shutil.copytree(REPO / "specs", DEMO / "specs")
    # the install target is the last table of demo.toml: prove the reload with a handshake
    with (DEMO / "specs" / "demo.toml").open("a") as spec:
        spec.write(f'verify = "127.0.0.1:{https_port}"\n')


def main() -> None:
    started = time.monotonic()
    if DEMO.exists():
        shutil.rmtree(DEMO)
    (DEMO / "run").mkdir(parents=True)
    step("starting Pebble (ACME test CA, real http-01 validation) and nginx")
    pebble = start_pebble(DEMO / "run" / "pebble")
    nginx = None
    try:
        nginx = start_nginx(DEMO / "run" / "nginx", http_port=pebble.http_port,
                            webroot=DEMO / "run" / "www")
        print(f"Pebble {pebble.directory_url}; nginx http :{nginx.http_port} "
              f"https :{nginx.https_port} (pids {pebble.pids + [nginx.pid]})")
        write_project(pebble.directory_url, pebble.http_port, pebble.dns_port,
                      nginx.https_port)
        step("certplan plan: what would change, and why")
        run("plan")
        step("certplan apply --auto-approve: issue through ACME, install, reload nginx")
        run("apply", "--auto-approve")
        step("certplan list")
        run("list")
        step("proof: openssl verify against Pebble's root, and a TLS handshake to nginx")
        root = DEMO / "run" / "pebble-root.pem"
        root.write_text(pebble.root_pem())
        fullchain = DEMO / "run" / "nginx" / "ssl" / "fullchain.pem"
        verify = subprocess.run(["openssl", "verify", "-CAfile", str(root), "-untrusted",
                                 str(fullchain), str(fullchain)], text=True,
                                capture_output=True)
        print(verify.stdout.strip() or verify.stderr.strip())
        served = nginx.served_serial("demo.example.test")
        print(f"nginx on :{nginx.https_port} serves serial {served}")
        if verify.returncode != 0:
            raise SystemExit("demo failed: the chain does not verify")
        step("certplan plan again: nothing to do")
        run("plan", "--detailed-exitcode")
    finally:
        if nginx is not None:
            nginx.stop()
        pebble.stop()
    print(f"\nDemo done in {time.monotonic() - started:.1f} s; everything it started is "
          f"stopped. Project, state and keystore are in {DEMO}.")


if __name__ == "__main__":
    main()
