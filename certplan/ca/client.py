"""The ACME client apply uses: account, order, challenges, finalize, ARI, revoke.

Built on certbot's `acme` library for JWS and wire objects, but the flow and
all waiting are ours: no fixed sleeps (the library's poll_* helpers sleep 1 s
per round), badNonce retried per POST, every failure an AcmeError that names
the CA's directory URL, and resuming an order from its URL after a crash.

One AcmeClient per (CA, account key) and run: the directory is fetched once
in connect(), the account looked up once in ensure_account().
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import josepy as jose
import requests
from acme import client as acme_client
from acme import jws as acme_jws
from acme import messages
from cryptography import x509

from certplan import __version__
from certplan.ca.network import (
    AccountKey,
    RetryingNetwork,
    jwk_and_alg,
    problem_text,
    translated_errors,
)
from certplan.ca.orders import (
    DirectoryMeta,
    NewOrderWithReplaces,
    Order,
    PendingChallenge,
    ReplacesRejected,
    authz_problem,
    domain_of,
    is_replaces_problem,
)
from certplan.ca.polling import Clock, Poller, Sleep, parse_retry_after
from certplan.model.challenge import Challenge
from certplan.model.crypto import csr_names
from certplan.model.errors import AcmeError, ChallengeError

ChallengeTypeFor = Callable[[str, bool], str]


__all__ = ["AcmeClient", "ChallengeTypeFor", "DirectoryMeta", "ReplacesRejected"]


class AcmeClient:
    """An ACME account session with one CA. Create with `AcmeClient.connect()`.

    May be shared by worker threads once ensure_account() has run (the nonce
    pool and the HTTP session are safe for that); rollover() must not race."""

    def __init__(self, directory_url: str, directory: messages.Directory,
                 net: RetryingNetwork, *, sleep: Sleep, clock: Clock) -> None:
        self.directory_url = directory_url
        self._directory = directory
        self._net = net
        self._acme = acme_client.ClientV2(directory, net)
        if net.key is None:
            raise ValueError("AcmeClient needs a network holding the account key")
        self._jwk: jose.JWK = net.key
        self._sleep = sleep
        self._clock = clock

    @classmethod
    def connect(cls, directory_url: str, account_key: AccountKey, *,
                ca_bundle: str | None = None, timeout: float = 30.0,
                user_agent: str = f"certplan/{__version__}", nonce_retries: int = 20,
                sleep: Sleep = time.sleep, clock: Clock = time.monotonic) -> AcmeClient:
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

    def ensure_account(self, email: str | None, agree_tos: bool,
                       eab: tuple[str, str] | None = None) -> str:
        """The account URL for this key: found by key if it exists, else created.

        `eab` is (kid, base64url HMAC key) for CAs that require external account
        binding. The HMAC key never appears in messages."""
        if self._net.account is not None:
            return str(self._net.account.uri)
        with translated_errors(self.directory_url, "the account lookup"):
            found = self._find_account()
        if found is not None:
            return found
        meta = self.meta
        if meta.terms_of_service and not agree_tos:
            raise AcmeError(f"CA {self.directory_url} requires agreeing to its terms of "
                            f"service ({meta.terms_of_service}): set agree_tos = true")
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

    # -- orders ---------------------------------------------------------------

    def new_order(self, csr_pem: bytes, *, profile: str | None = None,
                  replaces: str | None = None) -> Order:
        """Create an order for the CSR's names and fetch its authorizations.

        `replaces` is the ARI certificate ID of the certificate being renewed;
        a CA refusing it raises ReplacesRejected (retry without it)."""
        self._require_account()
        names = csr_names(csr_pem)
        if not names:
            raise AcmeError("CSR has no subjectAltName: no names to order")
        payload = NewOrderWithReplaces(
            identifiers=tuple(messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=n)
                              for n in names),
            profile=profile or None, replaces=replaces)
        try:
            with translated_errors(self.directory_url, "the new order"):
                response = self._post(self._directory["newOrder"], payload)
        except AcmeError as error:
            if replaces and is_replaces_problem(error.__cause__):
                raise ReplacesRejected(f"{error} (order sent with replaces={replaces})") \
                    from error.__cause__
            raise
        with translated_errors(self.directory_url, "the new order"):
            location = response.headers.get("Location")
            if not location:
                raise AcmeError(f"CA {self.directory_url}: new order answer has no Location")
            order = Order(url=location, csr_pem=csr_pem,
                          body=messages.Order.from_json(response.json()))
            self._load_authorizations(order)
        return order

    def fetch_order(self, order_url: str, csr_pem: bytes) -> Order:
        """Resume an order after a crash: POST-as-GET it and its authorizations."""
        self._require_account()
        with translated_errors(self.directory_url, f"fetching order {order_url}"):
            response = self._post_as_get(order_url)
            order = Order(url=order_url, csr_pem=csr_pem,
                          body=messages.Order.from_json(response.json()))
            self._load_authorizations(order)
        return order

    def _load_authorizations(self, order: Order) -> None:
        order.authorizations = [self._poll_authz(url)[0] for url in order.body.authorizations]

    # -- challenges -----------------------------------------------------------

    def pending_challenges(self, order: Order,
                           challenge_type_for: ChallengeTypeFor) -> list[PendingChallenge]:
        """The challenges still to solve; authorizations already valid are skipped.

        `challenge_type_for(identifier, wildcard)` names the type to use
        ("http-01" or "dns-01"); identifier comes without "*."."""
        result: list[PendingChallenge] = []
        failures: dict[str, str] = {}
        for authzr in order.authorizations:
            authz = authzr.body
            domain = domain_of(authz)
            if authz.status == messages.STATUS_VALID:
                continue
            if authz.status != messages.STATUS_PENDING:
                failures[domain] = authz_problem(authz)
                continue
            wanted = challenge_type_for(authz.identifier.value, bool(authz.wildcard))
            result.append(self._pending(authzr, wanted))
        if failures:
            raise ChallengeError(failures)
        return result

    def _pending(self, authzr: messages.AuthorizationResource, wanted: str) -> PendingChallenge:
        authz = authzr.body
        for challb in authz.challenges:
            if challb.typ == wanted:
                key_authorization = challb.chall.key_authorization(self._jwk)
                challenge = Challenge(identifier=authz.identifier.value,
                                      wildcard=bool(authz.wildcard), type=wanted,
                                      token=challb.chall.encode("token"),
                                      key_authorization=key_authorization)
                return PendingChallenge(challenge=challenge, url=challb.uri,
                                        authz_url=authzr.uri, status=challb.status.name,
                                        body=challb)
        offered = ", ".join(sorted(str(c.typ) for c in authz.challenges)) or "none"
        raise AcmeError(f"CA {self.directory_url} offers no {wanted} challenge for "
                        f"{domain_of(authz)} (offered: {offered})")

    def answer(self, pending: list[PendingChallenge]) -> None:
        """Tell the CA each challenge is ready (skips those already being validated)."""
        with translated_errors(self.directory_url, "the challenge answer"):
            for item in pending:
                if item.status == messages.STATUS_PENDING.name:
                    self._post(item.url, item.body.response(self._jwk))

    def wait_authorizations(self, order: Order, deadline: float) -> None:
        """Poll until no authorization is pending. `deadline` is time.monotonic() based.

        Raises ChallengeError({domain: CA's problem detail}) for invalid ones, or
        naming those still pending at the deadline."""
        poller = Poller(deadline, self._clock, self._sleep)
        current = {a.uri: a for a in order.authorizations}
        waiting = [a.uri for a in order.authorizations if a.body.status != messages.STATUS_VALID]
        retry_after: float | None = None
        with translated_errors(self.directory_url, "polling authorizations"):
            while waiting:
                if not poller.wait(retry_after):
                    raise ChallengeError({domain_of(current[u].body): "still pending at the "
                                          "deadline (the CA did not finish validating)"
                                          for u in waiting})
                retry_after = None
                for url in waiting:
                    current[url], seconds = self._poll_authz(url)
                    if seconds is not None:
                        retry_after = max(retry_after or 0.0, seconds)
                waiting = [u for u in waiting
                           if current[u].body.status == messages.STATUS_PENDING]
        order.authorizations = [current[a.uri] for a in order.authorizations]
        failures = {domain_of(a.body): authz_problem(a.body) for a in order.authorizations
                    if a.body.status != messages.STATUS_VALID}
        if failures:
            raise ChallengeError(failures)

    def _poll_authz(self, url: str) -> tuple[messages.AuthorizationResource, float | None]:
        response = self._post_as_get(url)
        authzr = messages.AuthorizationResource(
            body=messages.Authorization.from_json(response.json()), uri=url)
        return authzr, parse_retry_after(response.headers.get("Retry-After"))

    # -- finalize, certificates, ARI -----------------------------------------

    def finalize(self, order: Order, deadline: float) -> list[str]:
        """Finalize with the order's CSR, wait for issuance, download the chains.

        Returns full-chain PEMs: the CA's default first, then its alternates
        (Link rel="alternate"). Works on an order resumed in any state."""
        poller = Poller(deadline, self._clock, self._sleep)
        finalized = False
        # A "pending" order body is the one from before the authorizations were
        # solved: re-read it at once. Otherwise sleep before each re-read.
        sleep_first = order.body.status != messages.STATUS_PENDING
        retry_after: float | None = None
        with translated_errors(self.directory_url, f"finalizing order {order.url}"):
            while True:
                status = order.body.status
                if status == messages.STATUS_VALID and order.body.certificate:
                    return self._download(order.body.certificate)
                if status == messages.STATUS_INVALID:
                    problem = problem_text(order.body.error) if order.body.error else "no detail"
                    raise AcmeError(f"CA {self.directory_url}: order {order.url} is invalid: "
                                    f"{problem}")
                if status == messages.STATUS_READY and not finalized:
                    finalized, sleep_first = self._begin_finalize(order), True
                    continue
                if sleep_first and not poller.wait(retry_after):
                    raise AcmeError(f"CA {self.directory_url}: order {order.url} still "
                                    f"{status} at the deadline")
                sleep_first = True
                response = self._post_as_get(order.url)
                order.body = messages.Order.from_json(response.json())
                retry_after = parse_retry_after(response.headers.get("Retry-After"))

    def _begin_finalize(self, order: Order) -> bool:
        csr = x509.load_pem_x509_csr(order.csr_pem)
        try:
            response = self._post(order.body.finalize, messages.CertificateRequest(csr=csr))
        except messages.Error as error:
            if error.code != "orderNotReady":
                raise
            return False
        order.body = messages.Order.from_json(response.json())
        return True

    def _download(self, certificate_url: str) -> list[str]:
        response = self._post_as_get(certificate_url)
        chains = [response.text]
        links = requests.utils.parse_header_links(response.headers.get("Link", ""))
        for link in links:
            if link.get("rel") == "alternate" and link.get("url"):
                chains.append(self._post_as_get(link["url"]).text)
        return chains

    def revoke(self, cert_pem: str, reason: int = 0) -> None:
        """Revoke a certificate issued to this account (RFC 5280 reason code)."""
        self._require_account()
        cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
        with translated_errors(self.directory_url, "the revocation"):
            self._acme.revoke(cert, reason)

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
