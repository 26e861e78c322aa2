"""Public ACME CAs known by name. Buypass stopped ACME issuance in October 2025."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaPreset:
    name: str
    directory: str
    eab_required: bool
    description: str
    # Where EAB credentials can be had for the account's e-mail (ZeroSSL's API)
    eab_email_url: str | None = None


PRESETS: dict[str, CaPreset] = {
    p.name: p
    for p in (
        CaPreset("letsencrypt", "https://acme-v02.api.letsencrypt.org/directory", False,
                 "Let's Encrypt production"),
        CaPreset("letsencrypt-staging",
                 "https://acme-staging-v02.api.letsencrypt.org/directory", False,
                 "Let's Encrypt staging (untrusted, generous limits)"),
        CaPreset("zerossl", "https://acme.zerossl.com/v2/DV90", True,
                 "ZeroSSL (EAB: set eab_kid/eab_hmac_key, or fetched by e-mail)",
                 eab_email_url="https://api.zerossl.com/acme/eab-credentials-email"),
        CaPreset("google", "https://dv.acme-v02.api.pki.goog/directory", True,
                 "Google Trust Services (EAB from Google Cloud)"),
        CaPreset("google-staging", "https://dv.acme-v02.test-api.pki.goog/directory", True,
                 "Google Trust Services staging"),
        CaPreset("sslcom-ecc", "https://acme.ssl.com/sslcom-dv-ecc", True,
                 "SSL.com, ECC chain (EAB from the SSL.com account)"),
        CaPreset("sslcom-rsa", "https://acme.ssl.com/sslcom-dv-rsa", True,
                 "SSL.com, RSA chain (EAB from the SSL.com account)"),
    )
}
