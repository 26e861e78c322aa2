"""The ACME client apply uses: orders, challenges, finalize, certificates, revocation.

Built on certbot's `acme` library for JWS and wire objects, but the flow and
all waiting are ours: no fixed sleeps (the library's poll_* helpers sleep 1 s
per round), badNonce retried per POST, every failure an AcmeError that names
the CA's directory URL, and resuming an order from its URL after a crash.

One AcmeClient per (CA, account key) and run: the directory is fetched once
in connect(), the account looked up once in ensure_account() (both from
`certplan.ca.account.AcmeAccount`, the session this builds on).
"""

from __future__ import annotations

from collections.abc import Callable

import requests
from acme import messages
from cryptography import x509

from certplan.ca.account import AcmeAccount
from certplan.ca.faults import RateLimitHit
from certplan.ca.network import problem_text, translated_errors
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
from certplan.ca.polling import Poller, parse_retry_after
from certplan.model.challenge import Challenge
from certplan.model.crypto import csr_names
from certplan.model.errors import AcmeError, ChallengeError

ChallengeTypeFor = Callable[[str, bool], str]


__all__ = ["AcmeClient", "ChallengeTypeFor", "DirectoryMeta", "ReplacesRejected"]


class AcmeClient(AcmeAccount):
    """An account session that orders certificates. Create with `AcmeClient.connect()`."""

    # -- rate limits ----------------------------------------------------------

    def on_rate_limit(self, callback: Callable[[RateLimitHit], None]) -> None:
        """Call `callback` once, on the first rate limit answer (it may set the hit's
        `until`); from then on this session sends nothing more."""
        self._net.on_rate_limit = callback

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
