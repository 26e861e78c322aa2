"""ca_refused: which failures prove the CA answered "no" (the order or key change did
not take effect), and which prove nothing (timeouts, 5xx, rate limits)."""

from __future__ import annotations

import pytest
import requests
from acme import errors as acme_errors
from acme import messages

from certplan.ca import ca_refused
from certplan.ca.faults import HttpAnswer, HttpFailure
from certplan.ca.network import translated_errors
from certplan.model.errors import AcmeError


def wrapped(cause: BaseException) -> AcmeError:
    try:
        raise AcmeError("CA https://ca/dir: something") from cause
    except AcmeError as exc:
        return exc


def response(status: int) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    return answer


@pytest.mark.parametrize("cause,refused", [
    (messages.Error.with_code("malformed", detail="no such order"), True),
    (messages.Error.with_code("unauthorized"), True),
    (messages.Error.with_code("rateLimited"), False),
    (messages.Error.with_code("serverInternal"), False),
    (messages.Error.with_code("badNonce"), False),
    (acme_errors.ClientError(response(404)), True),
    (acme_errors.ClientError(response(403)), True),
    (acme_errors.ClientError(response(429)), False),
    (acme_errors.ClientError(response(503)), False),
    (acme_errors.ClientError((response(410), ValueError("not JSON"))), True),
    (requests.exceptions.ReadTimeout("read timed out"), False),
    (requests.exceptions.ConnectionError("reset"), False),
])
def test_ca_refused(cause: BaseException, refused: bool) -> None:
    assert ca_refused(wrapped(cause)) is refused


def answer(status: int, content_type: str = "text/html") -> HttpAnswer:
    return HttpAnswer(method="POST", url="https://ca/order/1", status=status, reason="",
                      content_type=content_type, body="")


@pytest.mark.parametrize("failure,refused", [
    (HttpFailure(answer(404)), True),
    (HttpFailure(answer(403)), True),
    (HttpFailure(answer(503)), False),
    (HttpFailure(answer(502)), False),
    (HttpFailure(answer(200), not_json=True), False),
])
def test_ca_refused_through_translated_errors(failure: HttpFailure, refused: bool) -> None:
    """As the transport raises them: the HTTP facts survive `from None`."""
    with pytest.raises(AcmeError) as caught, translated_errors("https://ca/dir", "the order"):
        raise failure
    assert ca_refused(caught.value) is refused


def test_an_error_without_a_cause_proves_nothing() -> None:
    assert not ca_refused(AcmeError("CA https://ca/dir: order still processing at the deadline"))
