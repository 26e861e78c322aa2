"""cloudflare: Cloudflare API v4 with a scoped API token (Zone:Read, DNS:Edit).

    [providers.cf]
    type = "cloudflare"
    api_token = { env = "CF_API_TOKEN" }

The zone is looked up by name (GET /zones?name=...), walking up the labels of
the record name; records are created with POST /zones/{id}/dns_records and
deleted after a paginated search by name and content. API errors are reported
from the response's `errors[]` (code and message).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from certplan.model.secrets import SecretRef
from certplan.providers.base import Provider, ProviderConfig

if TYPE_CHECKING:
    import requests

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
DUPLICATE_RECORD = 81058   # "An identical record already exists."
PER_PAGE = 100


class CloudflareConfig(ProviderConfig):
    api_token: SecretRef
    base_url: str = DEFAULT_BASE_URL
    ttl: int = Field(default=60, ge=60, le=86400)
    timeout: float = Field(default=30.0, gt=0, le=300)


def _unquote(content: str) -> str:
    """Cloudflare may return TXT content quoted; compare the bare value."""
    if len(content) >= 2 and content.startswith('"') and content.endswith('"'):
        return content[1:-1]
    return content


class CloudflareProvider(Provider):
    name: ClassVar[str] = "cloudflare"
    config_model: ClassVar[type[ProviderConfig]] = CloudflareConfig
    config: CloudflareConfig

    def __init__(self, instance_name: str, config: Any):
        super().__init__(instance_name, config)
        self._session: requests.Session | None = None
        self._zone_ids: dict[str, str] = {}

    def add_txt(self, fqdn: str, value: str) -> None:
        fqdn = fqdn.rstrip(".").lower()
        zone_id = self._zone_id(fqdn)
        body = {"type": "TXT", "name": fqdn, "content": value, "ttl": self.config.ttl}
        # an identical record already there (a retried apply) counts as added
        self._call("POST", f"/zones/{zone_id}/dns_records", json=body,
                   ok_codes=frozenset({DUPLICATE_RECORD}))

    def delete_txt(self, fqdn: str, value: str) -> None:
        fqdn = fqdn.rstrip(".").lower()
        zone_id = self._zone_id(fqdn)
        for record in self._records(zone_id, fqdn):
            if _unquote(str(record.get("content", ""))) == value:
                self._call("DELETE", f"/zones/{zone_id}/dns_records/{record['id']}")

    def _records(self, zone_id: str, fqdn: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            params = {"type": "TXT", "name": fqdn, "page": str(page), "per_page": str(PER_PAGE)}
            data = self._call("GET", f"/zones/{zone_id}/dns_records", params=params)
            found.extend(data.get("result") or [])
            info = data.get("result_info") or {}
            if page >= int(info.get("total_pages") or 1):
                return found
            page += 1

    def _zone_id(self, fqdn: str) -> str:
        if fqdn in self._zone_ids:
            return self._zone_ids[fqdn]
        labels = fqdn.split(".")
        for i in range(1, len(labels) - 1):
            candidate = ".".join(labels[i:])
            data = self._call("GET", "/zones", params={"name": candidate})
            for zone in data.get("result") or []:
                if str(zone.get("name", "")).lower() == candidate:
                    self._zone_ids[fqdn] = str(zone["id"])
                    return self._zone_ids[fqdn]
        raise self.error(f"no zone for {fqdn} is visible to this API token "
                         "(needs Zone:Read on the zone)")

    def _call(self, method: str, path: str, params: dict[str, str] | None = None,
              json: dict[str, Any] | None = None, ok_codes: frozenset[int] = frozenset()) -> Any:
        import requests

        if self._session is None:
            self._session = requests.Session()
        token = self.secret("api_token", self.config.api_token)
        url = self.config.base_url.rstrip("/") + path
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            response = self._session.request(method, url, params=params, json=json,
                                             headers=headers, timeout=self.config.timeout)
        except requests.RequestException as exc:
            raise self.error(f"{method} {path}: cannot reach {self.config.base_url}: "
                             f"{exc.__class__.__name__}") from None
        try:
            data = response.json()
        except ValueError:
            raise self.error(f"{method} {path}: HTTP {response.status_code}, "
                             "response is not JSON") from None
        if response.ok and data.get("success", False):
            return data
        errors = data.get("errors") or []
        if errors and all(err.get("code") in ok_codes for err in errors):
            return data
        detail = "; ".join(f"{err.get('code')}: {err.get('message')}" for err in errors)
        raise self.error(f"{method} {path}: HTTP {response.status_code}: "
                         f"{detail or 'no error details'}")
