"""http-01: the `webroot` validator (token files served by an existing web server) and
the self-check both http-01 validators run (`standalone` is validators/standalone.py).

Before the CA is told, each validator fetches every token itself, the way the CA
will: http://NAME:PORT/.well-known/acme-challenge/TOKEN, NAME resolved through
the configured resolvers ("HOST:PORT", dnspython) or the system resolver, PORT
from `[http01] port` (default 80). Redirects are followed like a CA does (up to
10, http or https, certificates not verified).

The self-check has its own deadline, `[http01] self_check_timeout` (default 30 s),
so a wrong webroot fails in seconds, not after the certificate's whole `--timeout`;
a name that does not exist fails at once. The error says what was seen: the URL
fetched, the HTTP status and the start of the body, or the resolver's answer.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from certplan.model.challenge import Challenge
from certplan.model.dns import parse_ip_port
from certplan.model.errors import ChallengeError
from certplan.store.safefs import UnsafePath, make_dirs, open_tree, write_temp

CHALLENGE_PATH = "/.well-known/acme-challenge/"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MAX_REDIRECTS = 10
MAX_BODY = 8192
SELF_CHECK_TIMEOUT = 30.0  # seconds; [http01] self_check_timeout
EXCERPT = 80               # characters of a wrong answer's body shown in the error


class NameNotFound(OSError):
    """The name does not exist or has no address: retrying within seconds cannot help
    (resolvers cache the negative answer), so the self-check fails at once."""


def check_token(challenge: Challenge) -> str:
    """The token, refused if it could escape the challenge folder (it comes from the CA)."""
    if not _TOKEN_RE.match(challenge.token):
        raise ChallengeError({challenge.domain: "the CA sent a token that is not base64url"})
    return challenge.token


# -- resolving and fetching ----------------------------------------------------------------

Resolve = Callable[[str, float], list[str]]


def make_resolver(resolvers: list[str]) -> Resolve:
    """name, timeout -> IP addresses; via dnspython at "HOST:PORT" servers, else the system."""
    if not resolvers:
        return _system_resolve
    import dns.exception
    import dns.nameserver
    import dns.resolver

    res = dns.resolver.Resolver(configure=False)
    servers: list[str | dns.nameserver.Nameserver] = []
    for item in resolvers:
        host, port = parse_ip_port(item)
        servers.append(dns.nameserver.Do53Nameserver(host, port))
    res.nameservers = servers

    def resolve(name: str, timeout: float) -> list[str]:
        out: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = res.resolve(name, rdtype, lifetime=max(timeout, 0.1))
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                continue
            except dns.exception.DNSException as exc:
                raise OSError(f"cannot resolve {name} via {', '.join(resolvers)}: {exc}") from None
            out.extend(r.to_text() for r in answer)
        if not out:
            raise NameNotFound(f"{name} does not resolve: no A or AAAA record at "
                               f"{', '.join(resolvers)}")
        return out

    return resolve


def _system_resolve(name: str, timeout: float) -> list[str]:
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        definite = exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None))
        cls = NameNotFound if definite else OSError
        raise cls(f"cannot resolve {name} (system resolver): {exc.strerror}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _connect(url: str, resolve: Resolve, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    last: OSError | None = None
    for address in resolve(host, timeout):
        try:
            sock = socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            last = OSError(f"cannot connect to {address} port {port}: {exc.strerror or exc}")
            continue
        if parts.scheme == "https":
            ctx = ssl.create_default_context()
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname=host)
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.sock = sock
        return conn
    raise last or OSError(f"no address for {host}")


def fetch(url: str, resolve: Resolve, timeout: float) -> tuple[int, bytes, str]:
    """GET `url` (Host header = its name), following redirects: (status, body, final URL)."""
    for _ in range(MAX_REDIRECTS + 1):
        conn = _connect(url, resolve, timeout)
        try:
            parts = urlsplit(url)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            conn.request("GET", target, headers={"Host": parts.netloc, "Accept": "*/*",
                                                 "User-Agent": "certplan-self-check"})
            resp = conn.getresponse()
            body = resp.read(MAX_BODY)
            location = resp.getheader("Location")
        finally:
            conn.close()
        if resp.status in (301, 302, 303, 307, 308) and location:
            url = urljoin(url, location)
            if urlsplit(url).scheme not in ("http", "https"):
                raise OSError(f"redirected to {url}, which is neither http nor https")
            continue
        return resp.status, body, url
    raise OSError(f"more than {MAX_REDIRECTS} redirects")


def self_check(challenges: list[Challenge], deadline: float, *, port: int, resolve: Resolve,
               where: Callable[[Challenge], str],
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> None:
    """Fetch every token until it matches or `deadline` passes; ChallengeError otherwise.

    `where(challenge)` describes where the token should come from (a file path)."""
    failures: dict[str, str] = {}
    started = clock()
    for ch in challenges:
        url = f"http://{ch.identifier}{'' if port == 80 else f':{port}'}{CHALLENGE_PATH}{ch.token}"
        why = _poll_one(url, ch.key_authorization, deadline, resolve, clock, sleep)
        if why is not None:
            failures[ch.domain] = (f"self-check fetched {url}: {why} (expected the content "
                                   f"of {where(ch)}; gave up after {clock() - started:.1f}s)")
    if failures:
        raise ChallengeError(failures)


def _excerpt(body: bytes) -> str:
    """The start of a body, one line, control characters escaped (it reaches logs)."""
    text = " ".join(body[:EXCERPT * 4].decode("utf-8", errors="replace").split())
    shown = text[:EXCERPT] + ("..." if len(text) > EXCERPT else "")
    return repr(shown) if shown else "empty"


def _poll_one(url: str, expected: str, deadline: float, resolve: Resolve,
              clock: Callable[[], float], sleep: Callable[[float], None]) -> str | None:
    interval = 0.05
    while True:
        remaining = deadline - clock()
        try:
            status, body, final = fetch(url, resolve, min(5.0, max(remaining, 0.2)))
            if status == 200 and body.strip() == expected.encode("ascii"):
                return None
            why = f"HTTP {status}" + (f" from {final}" if final != url else "")
            why += f", body {_excerpt(body)}"
        except NameNotFound as exc:
            return str(exc)
        except (OSError, http.client.HTTPException) as exc:
            why = str(exc) or type(exc).__name__
        now = clock()
        if now >= deadline:
            return why
        sleep(min(interval, deadline - now))
        interval = min(interval * 2, 1.0)


# -- webroot -------------------------------------------------------------------------------

class WebrootValidator:
    """Writes token files under WEBROOT/.well-known/acme-challenge/ (0644, folders 0755)."""

    challenge_type = "http-01"

    def __init__(self, webroot: str | Path, *, self_check: bool = True, port: int = 80,
                 resolvers: list[str] | None = None,
                 self_check_timeout: float = SELF_CHECK_TIMEOUT):
        self.webroot = Path(webroot)
        self.self_check = self_check
        self.self_check_timeout = self_check_timeout
        self.port = port
        self.resolvers = list(resolvers or [])
        self._written: set[Path] = set()
        self._lock = threading.Lock()

    def token_path(self, challenge: Challenge) -> Path:
        return self.webroot / CHALLENGE_PATH.strip("/") / check_token(challenge)

    def present(self, challenges: list[Challenge]) -> None:
        for ch in challenges:
            path = self.token_path(ch)
            try:
                _write_token(self.webroot, path.name, ch.key_authorization.encode("ascii"))
            except OSError as exc:
                raise ChallengeError(
                    {ch.domain: f"cannot write token file {path}: {exc.strerror or exc}"
                     + (f" ({exc.filename})" if isinstance(exc, UnsafePath) else "")}
                ) from None
            with self._lock:
                self._written.add(path)

    def check(self, challenges: list[Challenge], deadline: float) -> None:
        if not self.self_check:
            return
        deadline = min(deadline, time.monotonic() + self.self_check_timeout)
        self_check(challenges, deadline, port=self.port, resolve=make_resolver(self.resolvers),
                   where=lambda ch: f"token file {self.token_path(ch)}")

    def cleanup(self, challenges: list[Challenge]) -> None:
        for ch in challenges:
            if not _TOKEN_RE.match(ch.token):
                continue
            path = self.token_path(ch)
            with self._lock:
                if path not in self._written:
                    continue
                self._written.discard(path)
            try:
                folder = open_tree(self.webroot, _TOKEN_DIRS, 0o755, create=False)
            except OSError:
                continue  # gone or replaced by a link: nothing of ours to delete there
            try:
                os.unlink(path.name, dir_fd=folder)
            except OSError:
                pass  # cleanup never raises; a stale token file is harmless
            finally:
                os.close(folder)


_TOKEN_DIRS = tuple(CHALLENGE_PATH.strip("/").split("/"))


def _write_token(webroot: Path, name: str, data: bytes) -> None:
    """WEBROOT/.well-known/acme-challenge/NAME, 0644, folders 0755 whatever the umask;
    never through a link below the webroot (UnsafePath), replaced by a rename."""
    make_dirs(webroot, 0o755)
    folder = open_tree(webroot, _TOKEN_DIRS, 0o755, create=True)
    try:
        tmp = write_temp(folder, name, data, 0o644)
        try:
            os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
        except OSError:
            os.unlink(tmp, dir_fd=folder)
            raise
    finally:
        os.close(folder)
