"""DNS APIs of acme.sh (`--dns dns_*`) and certbot (`dns-*` plugins) as certplan
provider tables. Credentials become `{ env = "NAME" }` references, never values:
for acme.sh the variable keeps acme.sh's own name (`Ali_Key`), which acme.sh saved
as `SAVED_Ali_Key`; for certbot it is named after the credentials-file key.

Built-in providers where certplan has one (aliyun, cloudflare, rfc2136); the rest
through dns-lexicon (`type = "lexicon"`), with lexicon's option names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DnsApi:
    type: str                                   # certplan provider type
    secrets: tuple[tuple[str, str], ...]        # (field or lexicon option, env variable)
    lexicon: str | None = None                  # lexicon's provider name
    options: dict[str, str] = field(default_factory=dict)
    note: str = ""                              # what the user must still check


def _lx(name: str, *secrets: tuple[str, str], note: str = "", **options: str) -> DnsApi:
    return DnsApi("lexicon", tuple(secrets), name, dict(options), note)


# acme.sh --dns NAME -> provider (the ten most used first; see README "Moving from acme.sh")
ACMESH: dict[str, DnsApi] = {
    "dns_cf": DnsApi("cloudflare", (("api_token", "CF_Token"),),
                     note="certplan uses a scoped API token (Zone:Read, DNS:Edit); a global "
                          "key (CF_Key/CF_Email) does not work: create a token"),
    "dns_ali": DnsApi("aliyun", (("access_key_id", "Ali_Key"),
                                 ("access_key_secret", "Ali_Secret"))),
    "dns_aws": _lx("route53", ("auth_access_key", "AWS_ACCESS_KEY_ID"),
                   ("auth_access_secret", "AWS_SECRET_ACCESS_KEY")),
    "dns_dgon": _lx("digitalocean", ("auth_token", "DO_API_KEY")),
    "dns_gd": _lx("godaddy", ("auth_key", "GD_Key"), ("auth_secret", "GD_Secret")),
    "dns_dp": _lx("dnspod", ("auth_username", "DP_Id"), ("auth_token", "DP_Key")),
    "dns_linode_v4": _lx("linode", ("auth_token", "LINODE_V4_API_KEY")),
    "dns_ovh": _lx("ovh", ("auth_application_key", "OVH_AK"),
                   ("auth_application_secret", "OVH_AS"), ("auth_consumer_key", "OVH_CK"),
                   auth_entrypoint="ovh-eu",
                   note="check auth_entrypoint (acme.sh's OVH_END: ovh-eu, ovh-ca, ...)"),
    "dns_gandi_livedns": _lx("gandi", ("auth_token", "GANDI_LIVEDNS_TOKEN"), api_protocol="rest"),
    "dns_hetzner": _lx("hetzner", ("auth_token", "HETZNER_Token")),
    "dns_namecheap": _lx("namecheap", ("auth_username", "NAMECHEAP_USERNAME"),
                         ("auth_token", "NAMECHEAP_API_KEY"),
                         note="Namecheap also needs auth_client_ip (the allow-listed address) "
                              "in options"),
    "dns_vultr": _lx("vultr", ("auth_token", "VULTR_API_KEY")),
    "dns_porkbun": _lx("porkbun", ("auth_key", "PORKBUN_API_KEY"),
                       ("auth_secret", "PORKBUN_SECRET_API_KEY")),
    "dns_dnsimple": _lx("dnsimple", ("auth_token", "DNSimple_OAUTH_TOKEN")),
    "dns_cloudns": _lx("cloudns", ("auth_id", "CLOUDNS_AUTH_ID"),
                       ("auth_password", "CLOUDNS_AUTH_PASSWORD")),
}

# certbot's dns-* authenticator -> (provider, credentials-file key of each secret field)
CERTBOT: dict[str, tuple[DnsApi, dict[str, str]]] = {
    "dns-cloudflare": (DnsApi("cloudflare", (("api_token", "CLOUDFLARE_API_TOKEN"),)),
                       {"api_token": "dns_cloudflare_api_token"}),
    "dns-route53": (ACMESH["dns_aws"], {}),
    "dns-digitalocean": (_lx("digitalocean", ("auth_token", "DIGITALOCEAN_TOKEN")),
                         {"auth_token": "dns_digitalocean_token"}),
    "dns-linode": (_lx("linode", ("auth_token", "LINODE_KEY")), {"auth_token": "dns_linode_key"}),
    "dns-dnsimple": (_lx("dnsimple", ("auth_token", "DNSIMPLE_TOKEN")),
                     {"auth_token": "dns_dnsimple_token"}),
    "dns-gandi": (_lx("gandi", ("auth_token", "GANDI_TOKEN"), api_protocol="rest"),
                  {"auth_token": "dns_gandi_token"}),
    "dns-ovh": (_lx("ovh", ("auth_application_key", "OVH_APPLICATION_KEY"),
                    ("auth_application_secret", "OVH_APPLICATION_SECRET"),
                    ("auth_consumer_key", "OVH_CONSUMER_KEY"), auth_entrypoint="ovh-eu",
                    note="check auth_entrypoint (dns_ovh_endpoint of the credentials file)"),
                {"auth_application_key": "dns_ovh_application_key",
                 "auth_application_secret": "dns_ovh_application_secret",
                 "auth_consumer_key": "dns_ovh_consumer_key"}),
    "dns-rfc2136": (DnsApi("rfc2136", (("tsig_secret", "RFC2136_TSIG_SECRET"),)),
                    {"tsig_secret": "dns_rfc2136_secret"}),
}
# the rfc2136 credentials file also holds these public settings, carried over as they are
RFC2136_PUBLIC = {"server": "dns_rfc2136_server", "tsig_name": "dns_rfc2136_name",
                  "tsig_algorithm": "dns_rfc2136_algorithm"}


def provider_table(api: DnsApi) -> dict[str, Any]:
    """The `[providers.NAME]` table for an API (secrets as env references)."""
    refs = {name: {"env": env} for name, env in api.secrets}
    if api.type != "lexicon":
        return {"type": api.type, **refs}
    table: dict[str, Any] = {"type": "lexicon", "provider": api.lexicon, "credentials": refs}
    if api.options:
        table["options"] = dict(api.options)
    return table


def exec_placeholder(name: str) -> dict[str, Any]:
    """For an API certplan cannot map: the exec provider, calling a hook to be written."""
    return {"type": "exec", "command": [f"/usr/local/sbin/certplan-dns-{name}"]}
