"""Cloudflare's DNS records API (v4), the part the Cloudflare provider uses.

``GET /client/v4/zones/{zone}/dns_records`` (filters ``name.exact``/``name``, ``type``;
pages ``page``/``per_page`` with ``result_info``), ``GET`` and ``PATCH`` of one record.
Every answer is Cloudflare's envelope ``{"success", "errors", "messages", "result"}``;
errors carry ``[{"code", "message"}]``. Point the SDK here with
``CLOUDFLARE_BASE_URL=<fake.api_url>``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from tests.providers.fakes.base import FakeServer, Recorded, Reply, route

__all__ = ["FakeCloudflare"]

_ZONE = r"/client/v4/zones/(?P<zone>[^/]+)"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(status: int, code: int, message: str) -> Reply:
    return Reply(
        status,
        {"success": False, "errors": [{"code": code, "message": message}], "messages": []},
    )


class FakeCloudflare(FakeServer):
    """One zone holding CNAME records."""

    provider = "cloudflare"

    def __init__(self, token: str, *, zone_id: str = "023e105f4ecef8ad9ca31a8372d0c353") -> None:
        super().__init__(token)
        self.zone_id = zone_id
        self.zone_name = "example.com"
        self.records: dict[str, dict[str, Any]] = {}
        # Cloudflare's floor outside Enterprise zones (30 there); 1 means "Automatic"
        self.min_ttl = 60

    @property
    def api_url(self) -> str:
        """What ``CLOUDFLARE_BASE_URL`` should be."""
        return f"{self.url}/client/v4"

    def add_cname(self, name: str, content: str, *, ttl: int = 60, proxied: bool = False) -> str:
        """Create a CNAME record (as an operator does once); returns its id."""
        record_id = secrets.token_hex(16)
        with self.lock:
            self.records[record_id] = {
                "id": record_id,
                "zone_id": self.zone_id,
                "zone_name": self.zone_name,
                "name": name,
                "type": "CNAME",
                "content": content,
                "proxiable": True,
                "proxied": proxied,
                "ttl": 1 if proxied else ttl,
                "settings": {"flatten_cname": False},
                "meta": {},
                "comment": None,
                "tags": [],
                "created_on": _now(),
                "modified_on": _now(),
            }
        return record_id

    def record(self, name: str) -> dict[str, Any]:
        """The stored record named ``name``."""
        with self.lock:
            return next(dict(r) for r in self.records.values() if r["name"] == name)

    def authorized(self, request: Recorded) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def unauthorized(self, request: Recorded) -> Reply:
        # Cloudflare answers a bad token with 400, 401 or 403 by endpoint; code 10000 always
        return _error(401, 10000, "Authentication error")

    def not_found(self, request: Recorded) -> Reply:
        return _error(404, 7003, f"Could not route to {request.path}")

    def _zone_ok(self, zone: str) -> Reply | None:
        if zone != self.zone_id:
            return _error(
                400, 7003, "Could not route to /zones, perhaps your object identifier is invalid?"
            )
        return None

    @route("GET", f"{_ZONE}/dns_records")
    def list_records(self, request: Recorded, zone: str) -> Reply:
        if (bad := self._zone_ok(zone)) is not None:
            return bad
        name = request.arg("name.exact") or request.arg("name")
        kind = request.arg("type")
        found = [
            r
            for r in self.records.values()
            if (name is None or r["name"] == name) and (kind is None or r["type"] == kind)
        ]
        per_page = int(float(request.arg("per_page") or 100))
        page = int(float(request.arg("page") or 1))
        chunk = found[(page - 1) * per_page : page * per_page]
        return Reply(
            200,
            {
                "success": True,
                "errors": [],
                "messages": [],
                "result": chunk,
                "result_info": {
                    "page": page,
                    "per_page": per_page,
                    "count": len(chunk),
                    "total_count": len(found),
                    "total_pages": max(1, -(-len(found) // per_page)),
                },
            },
        )

    @route("GET", f"{_ZONE}/dns_records/(?P<record_id>[^/]+)")
    def get_record(self, request: Recorded, zone: str, record_id: str) -> Reply:
        if (bad := self._zone_ok(zone)) is not None:
            return bad
        if record_id not in self.records:
            return _error(404, 81044, "Record does not exist.")
        return Reply(
            200, {"success": True, "errors": [], "messages": [], "result": self.records[record_id]}
        )

    @route("PATCH", f"{_ZONE}/dns_records/(?P<record_id>[^/]+)")
    def patch_record(self, request: Recorded, zone: str, record_id: str) -> Reply:
        if (bad := self._zone_ok(zone)) is not None:
            return bad
        if record_id not in self.records:
            return _error(404, 81044, "Record does not exist.")
        body = request.json()
        ttl = body.get("ttl")
        if ttl is not None and ttl != 1 and not self.min_ttl <= ttl <= 86400:
            return _error(
                400,
                9021,
                f"TTL must be between {self.min_ttl} and 86400 seconds, or 1 for Automatic.",
            )
        record = self.records[record_id]
        for key in ("name", "type", "content", "ttl", "proxied", "comment"):
            if key in body:
                record[key] = body[key]
        if record["proxied"]:
            record["ttl"] = 1  # a proxied record's TTL is Automatic, whatever was sent
        record["modified_on"] = _now()
        return Reply(200, {"success": True, "errors": [], "messages": [], "result": record})
