"""Transport to the CA: JWS signing over the acme library's ClientNetwork,
with badNonce retried per POST, and every failure turned into AcmeError.

The library retries a badNonce only once per POST; a CA may reject any
nonce (Pebble rejects 5% by default, tests use up to 50%), so each POST is
retried up to `nonce_retries` times. The fresh nonce carried by the error
response is kept, which saves a HEAD newNonce round trip per retry.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests
from acme import client as acme_client
from acme import errors as acme_errors
from acme import messages
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.errors import DeserializationError
from josepy.interfaces import JSONDeSerializable
from josepy.jwa import ES256, ES384, RS256, JWASignature
from josepy.jwk import JWK, JWKEC, JWKRSA

from certplan.ca.deadline import time_left
from certplan.ca.faults import (
    CaTimeout,
    DeadlineExceeded,
    HttpAnswer,
    HttpFailure,
    RateLimited,
    RateLimitHit,
)
from certplan.ca.polling import utc_minute
from certplan.model.errors import AcmeError
from certplan.model.trace import trace, tracing

AccountKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def jwk_and_alg(key: AccountKey) -> tuple[JWK, JWASignature]:
    """The JWK and JWS algorithm for an account key (ES256, ES384 or RS256)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algs = {"secp256r1": ES256, "secp384r1": ES384}
        if key.curve.name not in algs:
            raise AcmeError(f"unsupported account key curve {key.curve.name} "
                            "(use EC P-256, EC P-384 or RSA)")
        return JWKEC(key=key), algs[key.curve.name]
    if isinstance(key, rsa.RSAPrivateKey):
        return JWKRSA(key=key), RS256
    raise AcmeError(f"unsupported account key type {type(key).__name__} "
                    "(use EC P-256, EC P-384 or RSA)")


class RetryingNetwork(acme_client.ClientNetwork):
    """ClientNetwork that retries badNonce per POST and keeps error nonces."""

    def __init__(self, key: JWK, alg: JWASignature, *, verify: str | bool,
                 user_agent: str, timeout: float, nonce_retries: int) -> None:
        # the library annotates verify_ssl as bool and timeout as int, but hands both to
        # requests unchanged, which takes a CA bundle path and a float
        super().__init__(key, alg=alg, verify_ssl=verify,  # type: ignore[arg-type]
                         user_agent=user_agent, timeout=timeout)  # type: ignore[arg-type]
        self.nonce_retries = max(1, nonce_retries)
        self.bad_nonces = 0  # how many badNonce answers were absorbed (for tests/benchmarks)
        self.request_cap = float(timeout)  # per request; the certificate's deadline may cut it
        # Once the CA has said "come back later", nothing more is sent in this run;
        # `on_rate_limit` is told first (it records the hit and sets its `until`).
        self.stopped: RateLimitHit | None = None
        self.on_rate_limit: Callable[[RateLimitHit], None] | None = None

    def _send_request(self, method: str, url: str, *args: Any, **kwargs: Any
                      ) -> requests.Response:
        if self.stopped is not None:
            raise self.stopped.again()
        left = time_left()
        timeout, by_deadline = self.request_cap, False
        if left is not None:
            if left <= 0:
                raise DeadlineExceeded(method, url)
            if left < timeout:
                timeout, by_deadline = left, True
        kwargs["timeout"] = timeout  # connect and each read
        try:
            response = super()._send_request(method, url, *args, **kwargs)
        except requests.exceptions.Timeout as error:
            report_request(RequestEvent(method, url, None, None, "timed out"))
            raise CaTimeout(method, url, timeout, by_deadline) from error
        except requests.exceptions.RequestException as error:
            report_request(RequestEvent(method, url, None, None, _connection_reason(error)))
            raise
        if tracing():
            report_request(RequestEvent.of(response))
        hit = rate_limit_of(response)
        if hit is not None:
            if self.stopped is None:
                self.stopped = hit
                if self.on_rate_limit is not None:
                    self.on_rate_limit(hit)
            raise hit
        return response

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        for attempt in range(self.nonce_retries):
            try:
                return self._post_once(*args, **kwargs)
            except messages.Error as error:
                if error.code != "badNonce" or attempt + 1 >= self.nonce_retries:
                    raise
                self.bad_nonces += 1
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_nonce(self, url: str, new_nonce_url: str | None) -> str:
        # The library checks for an empty pool, then pops: two threads sharing
        # this network could both pass the check and one would pop from empty.
        while True:
            try:
                return self._nonces.pop()
            except KeyError:
                pass
            if new_nonce_url is None:
                response = self.head(url)
            else:
                response = self._check_response(self.head(new_nonce_url), content_type=None)
            self._add_nonce(response)

    def _post_once(self, url: str, obj: JSONDeSerializable,
                   content_type: str = acme_client.ClientNetwork.JOSE_CONTENT_TYPE,
                   **kwargs: Any) -> requests.Response:
        new_nonce_url = kwargs.pop("new_nonce_url", None)
        data = self._wrap_in_jws(obj, self._get_nonce(url, new_nonce_url), url)
        kwargs.setdefault("headers", {"Content-Type": content_type})
        response = self._send_request("POST", url, data=data, **kwargs)
        if self.REPLAY_NONCE_HEADER in response.headers:
            # Error answers carry a fresh nonce too: keep it before checking.
            self._add_nonce(response)
        return self._check_response(response, content_type=content_type)

    @classmethod
    def _check_response(cls, response: requests.Response,
                        content_type: str | None = None) -> requests.Response:
        # Replaces the library's check, which raises ClientError(response) (shown as
        # "<Response [404]>") for answers that are not problem documents and turns every
        # 409 into a bare ConflictError (RFC 9773 answers alreadyReplaced with 409).
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if not response.ok:
            problem = _problem(body)
            if problem is None:
                raise HttpFailure(HttpAnswer.of(response))
            answer = HttpAnswer.of(response)
            problem.add_note(f"{answer.status_line()} from {answer.method} {answer.url}")
            raise problem
        if content_type == cls.JSON_CONTENT_TYPE and body is None:
            raise HttpFailure(HttpAnswer.of(response), not_json=True)
        return response


@dataclass(frozen=True)
class RequestEvent:
    """One request to the CA as `apply -v` shows it: method, URL, HTTP status and the
    problem type of an error answer. Nothing of the JWS body (payload, signature, key)
    and nothing of a successful answer's body (a challenge token) is kept."""

    method: str
    url: str
    status: int | None
    problem_type: str | None
    failure: str = ""  # no answer: why

    @classmethod
    def of(cls, response: requests.Response) -> RequestEvent:
        problem_type = None
        if response.status_code >= 400 and "problem+json" in \
                response.headers.get("Content-Type", ""):
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("type"), str):
                problem_type = body["type"]
        return cls(response.request.method or "?", response.url, response.status_code,
                   problem_type)

    def line(self) -> str:
        if self.status is None:
            return f"ACME {self.method} {self.url}: no answer ({self.failure})"
        text = f"ACME {self.method} {self.url} -> {self.status}"
        return text + (f" {self.problem_type}" if self.problem_type else "")


def report_request(event: RequestEvent) -> None:
    """The request hook: tell the trace sink of this certificate (`apply -v`), if any."""
    trace(event.line())


def _problem(body: Any) -> messages.Error | None:
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        return None
    try:
        problem: messages.Error = messages.Error.from_json(body)
    except DeserializationError:
        return None
    return problem


def rate_limit_of(response: requests.Response) -> RateLimitHit | None:
    """A rate limit answer: HTTP 429 or problem type rateLimited (whatever the status),
    or 503 with Retry-After (RFC 9110: the server asks to be left alone until then)."""
    status = response.status_code
    if status < 400:
        return None
    retry_after = response.headers.get("Retry-After")
    try:
        problem = _problem(response.json())
    except ValueError:
        problem = None
    limited = problem is not None and problem.code == "rateLimited"
    if not (status == 429 or limited or (status == 503 and retry_after)):
        return None
    return RateLimitHit(HttpAnswer.of(response), problem_text(problem) if problem else None,
                        retry_after)


def problem_text(error: messages.Error) -> str:
    """A CA problem document as one line: 'type: detail' plus subproblems."""
    kind = str(error.typ).rsplit(":", 1)[-1]
    text = f"{kind}: {error.detail}" if error.detail else kind
    for sub in error.subproblems or ():
        where = f"{sub.identifier.value}: " if sub.identifier else ""
        text += f"; {where}{sub.detail or sub.typ}"
    return text


def _connection_reason(error: requests.exceptions.RequestException) -> str:
    text = str(error)
    if isinstance(error, requests.exceptions.SSLError):
        found = re.search(r"\[SSL: [A-Z_]+\] (.+?) \(_ssl\.c", text)
        return "TLS error (check ca_bundle): " + (found.group(1) if found else text)
    if isinstance(error, requests.exceptions.Timeout):
        return "timed out"
    for needle, reason in (("Connection refused", "connection refused"),
                           ("Name or service not known", "name not resolved"),
                           ("Temporary failure in name resolution", "name not resolved"),
                           ("No route to host", "no route to host"),
                           ("Network is unreachable", "network unreachable"),
                           ("Connection reset", "connection reset"),
                           ("RemoteDisconnected", "connection closed by the CA")):
        if needle in text:
            return reason
    return text


_RESPONSE_REPR = re.compile(r"<Response \[(\d+)\]>")


def _words(error: BaseException) -> str:
    """A library exception's text, with any `<Response [404]>` put as "HTTP 404"."""
    return _RESPONSE_REPR.sub(r"HTTP \1", str(error))


def _where(error: messages.Error) -> str:
    notes = getattr(error, "__notes__", None) or ()
    return f" ({notes[-1]})" if notes else ""


@contextlib.contextmanager
def translated_errors(directory_url: str, action: str) -> Iterator[None]:
    """Turn acme / requests failures inside the block into AcmeError: in words, naming
    the CA, the action and (where there was an answer) the HTTP status and URL."""
    try:
        yield
    except AcmeError:
        raise
    except RateLimitHit as hit:
        raise rate_limited(directory_url, action, hit) from None
    except CaTimeout as error:
        raise AcmeError(f"CA {directory_url}: {action} timed out: {error}") from None
    except DeadlineExceeded as error:
        raise AcmeError(f"CA {directory_url}: {action} not sent: {error}") from None
    except HttpFailure as error:
        raise AcmeError(f"CA {directory_url}: {action} failed: {error}") from None
    except messages.Error as error:
        raise AcmeError(f"CA {directory_url} refused {action}: {problem_text(error)}"
                        f"{_where(error)}") from error
    except acme_errors.ConflictError as error:
        raise AcmeError(f"CA {directory_url}: conflict during {action} ({error})") from error
    except acme_errors.Error as error:
        raise AcmeError(f"CA {directory_url}: {action} failed: {_words(error)}") from error
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
        raise AcmeError(f"CA unreachable: {directory_url}: {_connection_reason(error)}") \
            from error
    except requests.exceptions.RequestException as error:
        raise AcmeError(f"CA {directory_url}: {action} failed: {_words(error)}") from error
    except KeyError as error:
        what = str(error.args[0]) if error.args else ""
        what = f"no field {what!r}" if what.isidentifier() else what or "a field is missing"
        raise AcmeError(f"CA {directory_url}: unexpected answer during {action}: "
                        f"{what}") from error
    except (ValueError, DeserializationError) as error:
        raise AcmeError(f"CA {directory_url}: unexpected answer during {action}: "
                        f"{_words(error)}") from error


def rate_limited(directory_url: str, action: str, hit: RateLimitHit) -> RateLimited:
    """The message for a rate limit: what the CA said and when to retry."""
    when = f"retry after {utc_minute(hit.until)}" if hit.until is not None else \
        f"the CA asks to wait (Retry-After: {hit.retry_after})" if hit.retry_after else \
        "the CA gave no Retry-After"
    if hit.unsaved:
        when += f" (not remembered for the next run: {hit.unsaved})"
    if hit.earlier:
        return RateLimited(f"CA {directory_url}: {action} not sent: the CA rate limited this "
                           f"account earlier in this run ({hit.reason()}); {when}", hit, action)
    return RateLimited(f"CA {directory_url} rate limited {action}: {hit.reason()}; {when}",
                       hit, action)
