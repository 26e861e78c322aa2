"""What went wrong talking to a CA, in words: HTTP failures, rate limits, timeouts.

The network raises these plain exceptions; `translated_errors` (network.py) turns
them into AcmeError messages that name the CA, the action, the HTTP status, the URL
and the problem document's type and detail, never a `Response` repr.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import requests

from certplan.model.errors import AcmeError

EXCERPT_CHARS = 160
_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def excerpt(text: str, html: bool = False, limit: int = EXCERPT_CHARS) -> str:
    """A body as one short printable line: tags dropped from HTML, blanks squeezed,
    control and direction-changing characters shown as '?'."""
    if html:
        text = _TAG.sub(" ", text)
    text = _UNPRINTABLE.sub("?", " ".join(text.split()))
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass(frozen=True)
class HttpAnswer:
    """The facts of one HTTP answer that a message may quote."""

    method: str
    url: str
    status: int
    reason: str
    content_type: str
    body: str  # an excerpt, see excerpt()

    @classmethod
    def of(cls, response: requests.Response) -> HttpAnswer:
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            text = response.content[:4096].decode("utf-8", "replace")
        except (RuntimeError, requests.exceptions.RequestException):
            text = ""
        method = response.request.method if response.request is not None else None
        return cls(method=method or "GET", url=str(response.url), status=response.status_code,
                   reason=excerpt(response.reason or "", limit=60),
                   content_type=content_type,
                   body=excerpt(text, html="html" in content_type.lower()))

    def status_line(self) -> str:
        return f"HTTP {self.status} {self.reason}".rstrip()

    def describe(self) -> str:
        """'HTTP 404 Not Found from GET https://ca/dir (text/html: "Not Found")'."""
        kind = self.content_type or "no Content-Type"
        body = (f'{self.content_type}: "{self.body}"' if self.content_type else f'"{self.body}"') \
            if self.body else f"{kind}, empty body"
        return f"{self.status_line()} from {self.method} {self.url} ({body})"


class HttpFailure(Exception):
    """The CA (or a proxy in front of it) answered with an error that is not an ACME
    problem document, or with something other than the JSON that was asked for."""

    def __init__(self, answer: HttpAnswer, not_json: bool = False):
        self.answer = answer
        self.not_json = not_json
        if not_json:
            text = f"{answer.describe()} is not valid JSON"
            if "json" not in answer.content_type:
                text += ": is this the ACME directory URL?"
        else:
            text = answer.describe()
            if answer.status == 400 and answer.url.startswith("http://"):
                text += " (the server may expect https://)"
            elif answer.status == 404:
                text += ": check the URL"
        super().__init__(text)


class RateLimitHit(Exception):
    """The CA said to come back later: HTTP 429 or problem type rateLimited, or 503
    with Retry-After. `until` is set by whoever records it (engine.sessions)."""

    def __init__(self, answer: HttpAnswer, problem: str | None, retry_after: str | None,
                 until: datetime | None = None, earlier: bool = False):
        self.answer = answer
        self.problem = problem
        self.retry_after = retry_after
        self.until = until
        self.earlier = earlier  # raised again without a request: hit earlier in this run
        self.unsaved: str | None = None  # why it could not be remembered for the next run
        super().__init__(self.reason())

    def reason(self) -> str:
        """'HTTP 429 Too Many Requests from URL: rateLimited: detail' (no secret: the
        URL and the CA's own words)."""
        text = f"{self.answer.status_line()} from {self.answer.method} {self.answer.url}"
        if self.problem:
            text += f": {self.problem}"
        elif self.answer.body:
            text += f': "{self.answer.body}"'
        return text

    def again(self) -> RateLimitHit:
        """The same hit, raised for a request that is not sent (one object per raise:
        worker threads must not share a traceback)."""
        hit = RateLimitHit(self.answer, self.problem, self.retry_after, self.until, True)
        hit.unsaved = self.unsaved
        return hit


class RateLimited(AcmeError):
    """A rate limit stopped a request (the CA's answer, or one remembered)."""

    def __init__(self, message: str, hit: RateLimitHit | None = None, action: str = ""):
        self.hit = hit
        self.action = action
        super().__init__(message)


class CaTimeout(Exception):
    """No answer within the request's timeout."""

    def __init__(self, method: str, url: str, seconds: float, by_deadline: bool):
        self.method, self.url, self.seconds, self.by_deadline = method, url, seconds, by_deadline
        limit = "what was left of --timeout" if by_deadline else "the per-request limit"
        super().__init__(f"no answer to {method} {url} within {seconds:.1f} s ({limit})")


class DeadlineExceeded(Exception):
    """The certificate's deadline had passed before a request could be sent."""

    def __init__(self, method: str, url: str):
        self.method, self.url = method, url
        super().__init__(f"--timeout ran out before {method} {url} could be sent")

