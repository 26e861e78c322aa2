"""An ACME session with one CA: the directory, the signed transport, the account.

Built on certbot's `acme` library for JWS and wire objects. `AcmeAccount.connect()`
fetches the directory once; `ensure_account()` finds the account by its key or
creates it (the one place that asks for the terms of service and EAB). The
operations on orders are `certplan.ca.client.AcmeClient`, which builds on this.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Self

import requests
from acme import client as acme_client
from acme import errors as acme_errors
from acme import jws as acme_jws
from acme import messages
from josepy.jwk import JWK

from certplan import __version__
from certplan.ca.faults import HttpFailure
from certplan.ca.network import AccountKey, RetryingNetwork, jwk_and_alg, translated_errors
from certplan.ca.orders import DirectoryMeta
from certplan.ca.polling import Clock, Sleep
from certplan.model.errors import AcmeError

EabCredentials = tuple[str, str]  # (key id, base64url HMAC key)
# EAB for a new account: the credentials, or a function asked only when an account
# is created (so that nothing is resolved or fetched for an existing one).
EabSource = EabCredentials | Callable[[], EabCredentials | None] | None


# Problem types that say "not now", not "no": the request may still take effect later.
_TRANSIENT_PROBLEMS = frozenset({"rateLimited", "serverInternal", "badNonce"})


def ca_refused(error: BaseException) -> bool:
    """True when the CA answered the request and refused it for good: a problem
    document (other than a rate limit, an internal error or a bad nonce), or an HTTP
    4xx other than 429. Such an answer proves the request did not take effect (or
    that what it named is gone). A timeout, a lost connection or a 5xx proves
    nothing: the CA may have done it. `error` is an AcmeError or what it wraps."""
    cause = (error.__cause__ or error.__context__) if isinstance(error, AcmeError) else error
    if isinstance(cause, messages.Error):
        return cause.code not in _TRANSIENT_PROBLEMS
    if isinstance(cause, HttpFailure):
        return not cause.not_json and _refusal_status(cause.answer.status)
    if isinstance(cause, acme_errors.ClientError) and cause.args:
        response = cause.args[0][0] if isinstance(cause.args[0], tuple) else cause.args[0]
        return _refusal_status(getattr(response, "status_code", None))
    return False


def _refusal_status(status: object) -> bool:
    """An HTTP 4xx other than 429 (Too Many Requests: "later", not "no")."""
    return isinstance(status, int) and 400 <= status < 500 and status != 429


class TermsNotAgreed(AcmeError):
    """A new account needs the CA's terms of service agreed, and they were not."""

    def __init__(self, directory_url: str, terms_of_service: str):
        self.terms_of_service = terms_of_service
        super().__init__(f"CA {directory_url} requires agreeing to its terms of service "
                         f"({terms_of_service}): set agree_tos = true")


class AcmeAccount:
    """An ACME account session with one CA. Create with `connect()`.

    May be shared by worker threads once ensure_account() has run (the nonce
    pool and the HTTP session are safe for that); rollover() must not race."""

    def __init__(self, directory_url: str, directory: messages.Directory,
                 net: RetryingNetwork, *, sleep: Sleep, clock: Clock) -> None:
        self.directory_url = directory_url
        self._directory = directory
        self._net = net
        self._acme = acme_client.ClientV2(directory, net)
        if net.key is None:
            raise ValueError("an ACME session needs a network holding the account key")
        self._jwk: JWK = net.key
        self._sleep = sleep
        self._clock = clock

    @classmethod
    def connect(cls, directory_url: str, account_key: AccountKey, *,
                ca_bundle: str | None = None, timeout: float = 30.0,
                user_agent: str = f"certplan/{__version__}", nonce_retries: int = 20,
                sleep: Sleep = time.sleep, clock: Clock = time.monotonic) -> Self:
        """Fetch the directory (one GET). `ca_bundle` is a PEM file to trust instead of
        the system store. Raises AcmeError ("CA unreachable: URL: reason").

        `nonce_retries` bounds the attempts per POST when the CA answers badNonce:
        at a 50% rejection rate (Pebble in tests) 10 attempts still fail one POST
        in 1024, about one run in twelve of ten issuances; 20 make it one in a million."""
        jwk, alg = jwk_and_alg(account_key)
        net = RetryingNetwork(jwk, alg, verify=ca_bundle or True, user_agent=user_agent,
                              timeout=timeout, nonce_retries=nonce_retries)
        with translated_errors(directory_url, "the directory request"):
            directory = acme_client.ClientV2.get_directory(directory_url, net)
            for needed in ("newNonce", "newAccount", "newOrder"):
                directory[needed]
        return cls(directory_url, directory, net, sleep=sleep, clock=clock)

    # -- directory and account ------------------------------------------------

    @property
    def meta(self) -> DirectoryMeta:
        meta = self._directory.meta
        return DirectoryMeta(
            terms_of_service=meta.terms_of_service,
            external_account_required=bool(meta.external_account_required),
            profiles=dict(meta.profiles or {}), website=meta.website,
            renewal_info="renewalInfo" in self._directory.to_partial_json())

    @property
    def account_url(self) -> str | None:
        account = self._net.account
        return str(account.uri) if account is not None else None

    @property
    def bad_nonces(self) -> int:
        """badNonce answers absorbed by retrying (a CA fault, counted for tests)."""
        return self._net.bad_nonces

    def ensure_account(self, email: str | None, agree_tos: bool, eab: EabSource = None) -> str:
        """The account URL for this key: found by key if it exists, else created.

        Only a new account needs the terms of service agreed (else TermsNotAgreed)
        and, where the CA requires it, external account binding: `eab` is (kid,
        base64url HMAC key), or a function giving them, called only then. The HMAC
        key never appears in messages."""
        if self._net.account is not None:
            return str(self._net.account.uri)
        with translated_errors(self.directory_url, "the account lookup"):
            found = self._find_account()
        if found is not None:
            return found
        meta = self.meta
        if meta.terms_of_service and not agree_tos:
            raise TermsNotAgreed(self.directory_url, meta.terms_of_service)
        eab = eab() if callable(eab) else eab
        if meta.external_account_required and eab is None:
            raise AcmeError(f"CA {self.directory_url} requires external account binding: "
                            "configure an EAB key id and HMAC key")
        with translated_errors(self.directory_url, "the new account"):
            return self._create_account(email, agree_tos, eab)

    def _find_account(self) -> str | None:
        query = messages.Registration(only_return_existing=True)
        try:
            response = self._post(self._directory["newAccount"], query)
        except messages.Error as error:
            if error.code == "accountDoesNotExist":
                return None
            raise
        return self._set_account(response)

    def _create_account(self, email: str | None, agree_tos: bool,
                        eab: tuple[str, str] | None) -> str:
        binding = None
        if eab is not None:
            kid, hmac_key = eab
            try:
                binding = messages.ExternalAccountBinding.from_data(
                    self._jwk.public_key(), kid, hmac_key, self._directory)
            except Exception as error:  # the HMAC key text must not reach the message
                raise AcmeError(f"external account binding for key id {kid!r}: "
                                "HMAC key is not valid base64url") from error
        registration = messages.NewRegistration.from_data(
            email=email, terms_of_service_agreed=agree_tos or None,
            external_account_binding=binding)
        return self._set_account(self._post(self._directory["newAccount"], registration))

    def _set_account(self, response: requests.Response) -> str:
        location = response.headers.get("Location")
        if not location:
            raise AcmeError(f"CA {self.directory_url}: account answer has no Location")
        body = messages.Registration.from_json(response.json())
        self._net.account = messages.RegistrationResource(body=body, uri=location)
        return str(location)

    def find_account(self) -> str | None:
        """The account URL for this key, or None when the CA knows no account for it
        (never creates one)."""
        if self._net.account is not None:
            return str(self._net.account.uri)
        with translated_errors(self.directory_url, "the account lookup"):
            return self._find_account()

    def account_details(self) -> dict[str, Any]:
        """The account object as the CA has it now (status, contact, orders)."""
        account = self._require_account()
        with translated_errors(self.directory_url, "the account request"):
            return dict(self._post_as_get(account.uri).json())

    def deactivate_account(self) -> None:
        """Deactivate this account at the CA (irreversible)."""
        account = self._require_account()
        with translated_errors(self.directory_url, "the account deactivation"):
            self._post(account.uri, messages.UpdateRegistration(status=messages.Status(
                "deactivated")))
        self._net.account = None

    def rollover(self, new_key: AccountKey) -> None:
        """Replace the account key (RFC 8555 7.3.5); later requests use `new_key`."""
        account = self._require_account()
        new_jwk, new_alg = jwk_and_alg(new_key)
        url = str(self._directory["keyChange"]) if "keyChange" in \
            self._directory.to_partial_json() else None
        if url is None:
            raise AcmeError(f"CA {self.directory_url} does not support account key rollover")
        inner = json.dumps({"account": account.uri,
                            "oldKey": self._jwk.public_key().to_partial_json()})
        signed = acme_jws.JWS.sign(inner.encode(), key=new_jwk, alg=new_alg, nonce=None,
                                   url=url)
        with translated_errors(self.directory_url, "the account key rollover"):
            self._post(url, signed)
        self._net.key, self._net.alg, self._jwk = new_jwk, new_alg, new_jwk

    # -- transport helpers ----------------------------------------------------

    def _post(self, url: str, obj: Any, **kwargs: Any) -> requests.Response:
        return self._net.post(url, obj, new_nonce_url=self._directory["newNonce"], **kwargs)

    def _post_as_get(self, url: str, **kwargs: Any) -> requests.Response:
        return self._post(url, None, **kwargs)

    def _require_account(self) -> messages.RegistrationResource:
        if self._net.account is None:
            raise AcmeError(f"CA {self.directory_url}: no account yet "
                            "(ensure_account() must come first)")
        return self._net.account
