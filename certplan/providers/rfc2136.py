"""rfc2136: dynamic DNS updates signed with TSIG (BIND, Knot, PowerDNS).

    [providers.bind]
    type = "rfc2136"
    server = "ns1.example.com:53"        # the primary that accepts updates
    tsig_name = "certplan"
    tsig_algorithm = "hmac-sha256"       # the default
    tsig_secret = { file = "/etc/certplan/tsig.key" }   # base64, as tsig-keygen prints it

The zone to update is asked of `server` by SOA, walking up from the record
name, so a name delegated into another zone on the same server just works;
`zone` pins it when the server cannot answer that (hidden or split setups).
Updates go over TCP.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator

from certplan.model.hostport import parse_hostport
from certplan.model.secrets import SecretRef
from certplan.providers.base import Provider, ProviderConfig

if TYPE_CHECKING:
    import dns.message

Algorithm = Literal["hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256",
                    "hmac-sha384", "hmac-sha512"]


class Rfc2136Config(ProviderConfig):
    server: str
    tsig_name: str = Field(min_length=1)
    tsig_algorithm: Algorithm = "hmac-sha256"
    tsig_secret: SecretRef
    zone: str | None = None
    ttl: int = Field(default=60, ge=1, le=86400)
    timeout: float = Field(default=10.0, gt=0, le=300)

    @field_validator("server")
    @classmethod
    def _hostport(cls, value: str) -> str:
        parse_hostport(value, 53)
        return value


class Rfc2136Provider(Provider):
    name: ClassVar[str] = "rfc2136"
    config_model: ClassVar[type[ProviderConfig]] = Rfc2136Config
    config: Rfc2136Config

    def __init__(self, instance_name: str, config: Any):
        super().__init__(instance_name, config)
        self._zones: dict[str, str] = {}

    def add_txt(self, fqdn: str, value: str) -> None:
        self._update(fqdn, value, add=True)

    def delete_txt(self, fqdn: str, value: str) -> None:
        self._update(fqdn, value, add=False)

    def _address(self) -> tuple[str, int]:
        host, port = parse_hostport(self.config.server, 53)
        try:
            info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise self.error(f"cannot resolve server {host}: {exc.strerror or exc}") from None
        return str(info[0][4][0]), port

    def _zone(self, fqdn: str, address: str, port: int) -> str:
        if self.config.zone:
            return self.config.zone.rstrip(".").lower()
        if fqdn in self._zones:
            return self._zones[fqdn]
        import dns.exception
        import dns.nameserver
        import dns.resolver

        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(address, port)]
        try:
            zone = dns.resolver.zone_for_name(fqdn, resolver=resolver,
                                              lifetime=self.config.timeout)
        except dns.exception.DNSException as exc:
            raise self.error(
                f"cannot find the zone of {fqdn} by SOA at {self.config.server}: "
                f"{exc.__class__.__name__} (set `zone` if the server cannot answer this)"
            ) from None
        self._zones[fqdn] = zone.to_text().rstrip(".").lower()
        return self._zones[fqdn]

    def _message(self, fqdn: str, value: str, zone: str, add: bool) -> dns.message.Message:
        import binascii

        import dns.name
        import dns.tsig
        import dns.update

        secret = self.secret("tsig_secret", self.config.tsig_secret)
        keyname = dns.name.from_text(self.config.tsig_name)
        try:
            key = dns.tsig.Key(keyname, secret, self.config.tsig_algorithm)
        except (binascii.Error, ValueError):
            raise self.error("tsig_secret is not valid base64") from None
        update = dns.update.Update(zone + ".", keyring={keyname: key}, keyname=keyname)
        rdata = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if add:
            update.add(fqdn + ".", self.config.ttl, "TXT", rdata)
        else:
            update.delete(fqdn + ".", "TXT", rdata)
        return update

    def _update(self, fqdn: str, value: str, add: bool) -> None:
        import dns.exception
        import dns.query
        import dns.rcode
        import dns.tsig

        fqdn = fqdn.rstrip(".").lower()
        action = "add" if add else "delete"
        address, port = self._address()
        zone = self._zone(fqdn, address, port)
        message = self._message(fqdn, value, zone, add)
        key = self.config.tsig_name
        try:
            response = dns.query.tcp(message, address, timeout=self.config.timeout, port=port)
        except dns.tsig.PeerBadKey:
            raise self.error(
                f"server {self.config.server} does not know TSIG key {key!r}"
            ) from None
        except dns.tsig.PeerBadSignature:
            raise self.error(
                f"server {self.config.server} rejected the TSIG signature of key {key!r}: "
                "wrong tsig_secret or tsig_algorithm"
            ) from None
        except dns.tsig.PeerBadTime:
            raise self.error(f"server {self.config.server} rejected the TSIG time: "
                             "check both clocks") from None
        except dns.exception.Timeout:
            raise self.error(f"no answer from {self.config.server} within "
                             f"{self.config.timeout:g}s") from None
        except (OSError, dns.exception.DNSException) as exc:
            raise self.error(f"cannot {action} TXT {fqdn} at {self.config.server}: "
                             f"{exc.__class__.__name__}: {exc}") from None
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            raise self.error(self._explain(rcode, action, fqdn, zone))

    def _explain(self, rcode: int, action: str, fqdn: str, zone: str) -> str:
        import dns.rcode

        where = f"{action} TXT {fqdn} in zone {zone} at {self.config.server}"
        # to_text is annotated for the Rcode enum; it takes any int rcode (unknown ones too)
        text = dns.rcode.to_text(rcode)  # type: ignore[arg-type]
        if rcode == dns.rcode.REFUSED:
            return (f"{where}: REFUSED (key {self.config.tsig_name!r} is not allowed to "
                    "change this name: check update-policy / allow-update)")
        if rcode == dns.rcode.NOTAUTH:
            return f"{where}: NOTAUTH (server is not authoritative for {zone} or refused the key)"
        if rcode == dns.rcode.NOTZONE:
            return f"{where}: NOTZONE ({fqdn} is not inside zone {zone})"
        return f"{where}: {text}"
