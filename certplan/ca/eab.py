"""EAB credentials fetched by e-mail, as ZeroSSL offers (and acme.sh uses).

ZeroSSL's API takes a form POST with `email=...` and answers
`{"success": true, "eab_kid": "...", "eab_hmac_key": "..."}`, or
`{"success": false, "error": {"code": N, "type": "..."}}`. The credentials are
used once, to create the account; they are never stored or shown.
"""

from __future__ import annotations

from typing import Any

from certplan.model.errors import AcmeError


def fetch_eab_by_email(url: str, email: str, timeout: float = 30.0,
                       verify: bool | str = True) -> tuple[str, str]:
    """(kid, HMAC key) for `email`. Raises AcmeError naming the URL, never the key."""
    import requests

    try:
        resp = requests.post(url, data={"email": email}, timeout=timeout, verify=verify,
                             headers={"User-Agent": "certplan"})
    except requests.RequestException as exc:
        raise AcmeError(f"EAB credentials from {url}: unreachable "
                        f"({type(exc).__name__})") from None
    try:
        body: Any = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise AcmeError(f"EAB credentials from {url}: HTTP {resp.status_code}, "
                        f"not a JSON object")
    if body.get("success") is not True:
        error = body.get("error")
        detail = ""
        if isinstance(error, dict):
            detail = ": " + ", ".join(f"{k} {error[k]}" for k in ("code", "type") if k in error)
        raise AcmeError(f"EAB credentials from {url} for {email} refused "
                        f"(HTTP {resp.status_code}){detail}")
    kid, hmac_key = body.get("eab_kid"), body.get("eab_hmac_key")
    if not isinstance(kid, str) or not kid or not isinstance(hmac_key, str) or not hmac_key:
        raise AcmeError(f"EAB credentials from {url}: answer lacks eab_kid or eab_hmac_key")
    return kid, hmac_key
