"""Two DNS APIs as documented, on pytest-httpserver, with the zone data they hold.

- PowerDNS Authoritative HTTP API (doc.powerdns.com/authoritative/http-api):
  `GET /api/v1/servers/localhost/zones/{zone}.` returns the zone with its rrsets;
  `PATCH` the same URL with `{"rrsets": [{name, type, ttl, changetype: REPLACE|DELETE,
  records: [{content, disabled}]}]}` answers 204. Auth: `X-API-Key`.
- DNSimple API v2 (developer.dnsimple.com/v2): `GET /accounts`, `GET /{account}/domains
  ?name_like=`, `GET|POST /{account}/zones/{zone}/records`, `DELETE .../records/{id}`;
  every answer is `{"data": ...}`. Auth: `Authorization: Bearer TOKEN`.

lexicon lets both be pointed elsewhere by a documented option: PowerDNS is
self-hosted (`pdns_server` is the server's URL) and DNSimple has a sandbox
(`api_endpoint`), so lexicon's real code talks to these fakes. Each change may also
be handed to `on_change(name, values)` (e.g. to write it into BIND).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

OnChange = Callable[[str, list[str]], None]


class FakePowerDNS:
    def __init__(self, server: HTTPServer, zones: list[str], api_key: str,
                 on_change: OnChange | None = None):
        self.api_key = api_key
        self.on_change = on_change
        # zone (with dot) -> {(name, type): {"ttl": int, "records": [content]}}
        self.zones: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
            z.rstrip(".") + ".": {} for z in zones}
        path = re.compile(r"/api/v1/servers/localhost/zones/(?P<zone>[^/]+)")
        server.expect_request(path, method="GET").respond_with_handler(self._get)
        server.expect_request(path, method="PATCH").respond_with_handler(self._patch)

    def url(self, server: HTTPServer) -> str:
        return server.url_for("/")

    def txt(self, name: str) -> list[str]:
        for rrsets in self.zones.values():
            rrset = rrsets.get((name.rstrip(".") + ".", "TXT"))
            if rrset:
                return [c.strip('"') for c in rrset["records"]]
        return []

    def _zone(self, request: Request) -> tuple[str | None, Response | None]:
        if request.headers.get("X-API-Key") != self.api_key:
            return None, Response(json.dumps({"error": "Unauthorized"}), 401)
        zone = request.path.rsplit("/", 1)[1]
        if zone not in self.zones:
            return None, Response(json.dumps({"error": "Could not find domain"}), 404)
        return zone, None

    def _get(self, request: Request) -> Response:
        zone, error = self._zone(request)
        if error is not None or zone is None:
            return error or Response(status=500)
        rrsets = [{"name": n, "type": t, "ttl": r["ttl"], "comments": [],
                   "records": [{"content": c, "disabled": False} for c in r["records"]]}
                  for (n, t), r in self.zones[zone].items()]
        return Response(json.dumps({"name": zone, "kind": "Native", "rrsets": rrsets}),
                        200, content_type="application/json")

    def _patch(self, request: Request) -> Response:
        zone, error = self._zone(request)
        if error is not None or zone is None:
            return error or Response(status=500)
        for rrset in request.get_json()["rrsets"]:
            key = (rrset["name"], rrset["type"])
            records = [r["content"] for r in rrset.get("records", [])]
            if rrset["changetype"] == "DELETE" or not records:
                self.zones[zone].pop(key, None)
                records = []
            else:
                self.zones[zone][key] = {"ttl": rrset.get("ttl", 60), "records": records}
            if self.on_change and rrset["type"] == "TXT":
                self.on_change(rrset["name"], [c.strip('"') for c in records])
        return Response(status=204)


class FakeDNSimple:
    ACCOUNT = 1010

    def __init__(self, server: HTTPServer, zones: list[str], token: str):
        self.token = token
        self.zones = {z: i for i, z in enumerate(zones, start=1)}
        self.records: dict[int, dict[str, Any]] = {}
        self.next_id = 100
        base = f"/v2/{self.ACCOUNT}"
        server.expect_request("/v2/accounts", method="GET").respond_with_handler(
            self._auth(lambda r: [{"id": self.ACCOUNT, "email": "ops@example.com",
                                   "plan_identifier": "teams-v1-monthly"}]))
        server.expect_request(f"{base}/domains", method="GET").respond_with_handler(
            self._auth(self._domains))
        records = re.compile(rf"{base}/zones/(?P<zone>[^/]+)/records")
        server.expect_request(records, method="GET").respond_with_handler(self._auth(self._list))
        server.expect_request(records, method="POST").respond_with_handler(
            self._auth(self._create, 201))
        one = re.compile(rf"{base}/zones/(?P<zone>[^/]+)/records/(?P<id>\d+)")
        server.expect_request(one, method="DELETE").respond_with_handler(self._delete)

    def txt(self, zone: str, relative: str) -> list[str]:
        return [r["content"] for r in self.records.values()
                if r["zone_id"] == zone and r["name"] == relative and r["type"] == "TXT"]

    def _auth(self, make: Callable[[Request], Any], status: int = 200
              ) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return Response(json.dumps({"message": "Authentication failed"}), 401)
            return Response(json.dumps({"data": make(request)}), status,
                            content_type="application/json")
        return handler

    def _domains(self, request: Request) -> list[dict[str, Any]]:
        like = request.args.get("name_like", "")
        return [{"id": i, "name": z} for z, i in self.zones.items() if like in z]

    def _zone_of(self, request: Request) -> str:
        return request.path.split("/zones/")[1].split("/")[0]

    def _list(self, request: Request) -> list[dict[str, Any]]:
        zone = self._zone_of(request)
        return [r for r in self.records.values() if r["zone_id"] == zone
                and all(r[k] == v for k, v in request.args.items() if k in ("name", "type"))]

    def _create(self, request: Request) -> dict[str, Any]:
        body = json.loads(request.get_data())
        self.next_id += 1
        record = {"id": self.next_id, "zone_id": self._zone_of(request), "name": body["name"],
                  "type": body["type"], "content": body["content"],
                  "ttl": body.get("ttl", 3600), "priority": None}
        self.records[self.next_id] = record
        return record

    def _delete(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Response(status=401)
        self.records.pop(int(request.path.rsplit("/", 1)[1]), None)
        return Response(status=204)
