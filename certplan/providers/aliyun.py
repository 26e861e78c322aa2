"""aliyun: Alibaba Cloud DNS (Alidns) through its RPC API, version 2015-01-09.

    [providers.ali]
    type = "aliyun"
    access_key_id = { env = "Ali_Key" }        # the defaults, as acme.sh reads them
    access_key_secret = { env = "Ali_Secret" }

Requests are GETs signed with signature version 1.0 (HMAC-SHA1): every
parameter except Signature, percent-encoded (RFC 3986: only A-Z a-z 0-9 - _ . ~
stay as they are; space is %20), sorted by name, joined as the canonical query;
StringToSign = "GET&%2F&" + percent-encode(canonical query); key = secret + "&";
Signature = base64(HMAC-SHA1). The domain (zone) of a record is the longest
suffix of the name that DescribeDomainRecords accepts; the record itself is
RR (the part left of the domain) + Type TXT + Value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from certplan.model.secrets import SecretRef
from certplan.providers.base import Provider, ProviderConfig

if TYPE_CHECKING:
    import requests

DEFAULT_ENDPOINT = "https://alidns.aliyuncs.com/"
API_VERSION = "2015-01-09"
PAGE_SIZE = 500
# codes meaning "this name is not a domain of the account": try the next suffix
NOT_A_DOMAIN = ("InvalidDomainName.NoExist", "IncorrectDomainUser", "InvalidDomainName.Format",
                "DomainNotExist", "Forbidden.DomainNotExist")


class AliyunConfig(ProviderConfig):
    access_key_id: SecretRef = Field(default_factory=lambda: SecretRef(env="Ali_Key"))
    access_key_secret: SecretRef = Field(default_factory=lambda: SecretRef(env="Ali_Secret"))
    endpoint: str = DEFAULT_ENDPOINT
    ttl: int = Field(default=600, ge=1, le=86400)
    timeout: float = Field(default=30.0, gt=0, le=300)


def percent_encode(text: str) -> str:
    """Alibaba Cloud's encoding: RFC 3986 unreserved characters kept, the rest %XY (UTF-8)."""
    from urllib.parse import quote

    return quote(text, safe="-_.~")


def string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}"
                         for k, v in sorted(params.items()))
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def sign(method: str, params: dict[str, str], secret: str) -> str:
    """Signature version 1.0: base64(HMAC-SHA1(secret + "&", StringToSign))."""
    import base64
    import hashlib
    import hmac

    digest = hmac.new((secret + "&").encode("utf-8"),
                      string_to_sign(method, params).encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _timestamp() -> str:
    import datetime

    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _nonce() -> str:
    import uuid

    return str(uuid.uuid4())


class AliyunProvider(Provider):
    name: ClassVar[str] = "aliyun"
    config_model: ClassVar[type[ProviderConfig]] = AliyunConfig
    config: AliyunConfig
    # replaceable in tests; a fresh nonce and the current time for every request
    timestamp: Callable[[], str] = staticmethod(_timestamp)
    nonce: Callable[[], str] = staticmethod(_nonce)

    def __init__(self, instance_name: str, config: Any):
        super().__init__(instance_name, config)
        self._session: requests.Session | None = None
        self._domains: dict[str, str] = {}

    def add_txt(self, fqdn: str, value: str) -> None:
        domain, rr = self._split(fqdn.rstrip(".").lower())
        if any(r.get("Value") == value for r in self._records(domain, rr)):
            return  # already there (a retried apply)
        self._call({"Action": "AddDomainRecord", "DomainName": domain, "RR": rr,
                    "Type": "TXT", "Value": value, "TTL": str(self.config.ttl)})

    def delete_txt(self, fqdn: str, value: str) -> None:
        domain, rr = self._split(fqdn.rstrip(".").lower())
        for record in self._records(domain, rr):
            if record.get("Value") == value:
                self._call({"Action": "DeleteDomainRecord", "RecordId": str(record["RecordId"])})

    def _records(self, domain: str, rr: str) -> list[dict[str, Any]]:
        """TXT records whose RR is exactly `rr` (the API's keyword search is fuzzy)."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            data = self._call({"Action": "DescribeDomainRecords", "DomainName": domain,
                               "RRKeyWord": rr, "TypeKeyWord": "TXT",
                               "PageNumber": str(page), "PageSize": str(PAGE_SIZE)})
            records = (data.get("DomainRecords") or {}).get("Record") or []
            found.extend(r for r in records
                         if str(r.get("RR", "")).lower() == rr and r.get("Type") == "TXT")
            if page * PAGE_SIZE >= int(data.get("TotalCount") or 0) or not records:
                return found
            page += 1

    def _split(self, fqdn: str) -> tuple[str, str]:
        """(domain, RR): the account's domain holding fqdn, and the rest of the name."""
        if fqdn not in self._domains:
            self._domains[fqdn] = self._find_domain(fqdn)
        domain = self._domains[fqdn]
        rr = fqdn[: -len(domain) - 1] if fqdn != domain else "@"
        return domain, rr

    def _find_domain(self, fqdn: str) -> str:
        labels = fqdn.split(".")
        for i in range(1, len(labels) - 1):
            candidate = ".".join(labels[i:])
            params = {"Action": "DescribeDomainRecords", "DomainName": candidate,
                      "PageNumber": "1", "PageSize": "1"}
            if self._call(params, not_found_ok=True) is not None:
                return candidate
        raise self.error(f"no domain of this account holds {fqdn}")

    def _call(self, params: dict[str, str], not_found_ok: bool = False) -> Any:
        import requests

        if self._session is None:
            self._session = requests.Session()
        query = {"Format": "JSON", "Version": API_VERSION,
                 "AccessKeyId": self.secret("access_key_id", self.config.access_key_id),
                 "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
                 "SignatureNonce": self.nonce(), "Timestamp": self.timestamp(), **params}
        secret = self.secret("access_key_secret", self.config.access_key_secret)
        query["Signature"] = sign("GET", query, secret)
        action = params["Action"]
        try:
            response = self._session.get(self.config.endpoint, params=query,
                                         timeout=self.config.timeout)
        except requests.RequestException as exc:
            raise self.error(f"{action}: cannot reach {self.config.endpoint}: "
                             f"{exc.__class__.__name__}") from None
        try:
            data = response.json()
        except ValueError:
            raise self.error(f"{action}: HTTP {response.status_code}, "
                             "response is not JSON") from None
        if response.ok and "Code" not in data:
            return data
        code = str(data.get("Code", ""))
        if not_found_ok and code in NOT_A_DOMAIN:
            return None
        raise self.error(f"{action}: HTTP {response.status_code}: {code or 'error'}: "
                         f"{data.get('Message', 'no message')}")
