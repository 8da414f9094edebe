"""Render's REST API (v1), the part the Render provider uses, with deploys that progress.

Services (web and background worker) with ``suspended``, ``serviceDetails.url`` and
``numInstances``; per-service env vars (the per-key endpoints and the replace-all
``PUT /services/{id}/env-vars``, implemented faithfully so a test can show it is never
called); deploys listed newest first as ``[{"deploy", "cursor"}]`` with cursor pages; a
triggered deploy advances one status per read (``build_in_progress``,
``update_in_progress``, then ``live`` or the failure set for its commit); rollback to a
retained build; scale, suspend, resume. ``GET /apps/{service}/health`` plays each web
service's own health endpoint (200 while it runs a live deploy).

Hooks for end-to-end tests: ``on_live(service_id, deploy, env)`` runs when a deploy goes
live, ``on_suspend(service_id)`` when a service is suspended.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.providers.fakes.base import FakeServer, Recorded, Reply, route

__all__ = ["FakeRender"]

_SERVICE = r"/v1/services/(?P<service>[^/]+)"
PROGRESS = ("build_in_progress", "update_in_progress")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeRender(FakeServer):
    """A Render workspace holding services."""

    provider = "render"

    def __init__(self, token: str, *, builds_retained: int = 5) -> None:
        super().__init__(token)
        self.builds_retained = builds_retained
        self.services: dict[str, dict[str, Any]] = {}
        self.env: dict[str, dict[str, str]] = {}
        self.deploys: dict[str, list[dict[str, Any]]] = {}
        self.failing_commits: dict[str, str] = {}  # commit -> failure status
        self.on_live: Callable[[str, dict[str, Any], dict[str, str]], None] | None = None
        self.on_suspend: Callable[[str], None] | None = None
        self._ids = itertools.count(1)

    @property
    def api_url(self) -> str:
        """What ``hosting.api_url`` (or ``RENDER_API_BASE_URL``) should be."""
        return f"{self.url}/v1"

    def app_url(self, service_id: str) -> str:
        """The direct URL of a web service (``hosting.<color>_url``)."""
        return f"{self.url}/apps/{service_id}"

    def add_service(self, name: str, *, kind: str = "web_service", suspended: bool = False) -> str:
        """Create a service; returns its ``srv-...`` id."""
        service_id = f"srv-{secrets.token_hex(10)}"
        with self.lock:
            self.services[service_id] = {
                "id": service_id,
                "name": name,
                "type": kind,
                "autoDeploy": "no",
                "suspended": "suspended" if suspended else "not_suspended",
                "suspenders": ["user"] if suspended else [],
                "serviceDetails": {
                    "url": f"https://{name}.onrender.com" if kind == "web_service" else None,
                    "numInstances": 1,
                },
            }
            self.env[service_id] = {}
            self.deploys[service_id] = []
        return service_id

    def seed_live(self, service_id: str, commit: str, **env: str) -> dict[str, Any]:
        """A service already running ``commit`` (as after earlier deploys)."""
        with self.lock:
            self.env[service_id].update(env)
            deploy = self._new_deploy(service_id, commit, trigger="api")
            self._go_live(service_id, deploy)
            return deploy

    # --- vendor behaviour ------------------------------------------------------------------

    def unauthorized(self, request: Recorded) -> Reply:
        return Reply(401, {"id": "unauthorized", "message": "Unauthorized"})

    def not_found(self, request: Recorded) -> Reply:
        return Reply(404, {"id": "not-found", "message": "Not Found"})

    def authorized(self, request: Recorded) -> bool:
        if request.path.startswith("/apps/"):
            return "authorization" not in request.headers  # the app never sees the API key
        return super().authorized(request)

    def _service(self, service: str) -> dict[str, Any] | None:
        return self.services.get(service)

    def _new_deploy(self, service: str, commit: str, *, trigger: str) -> dict[str, Any]:
        deploy = {
            "id": f"dep-{next(self._ids):04d}{secrets.token_hex(6)}",
            "commit": {"id": commit, "message": f"commit {commit[:7]}", "createdAt": _now()},
            "status": "created",
            "trigger": trigger,
            "createdAt": _now(),
            "updatedAt": _now(),
            "finishedAt": None,
            "_reads": 0,
        }
        self.deploys[service].insert(0, deploy)
        return deploy

    def _go_live(self, service: str, deploy: dict[str, Any]) -> None:
        for other in self.deploys[service]:
            if other is not deploy and other["status"] == "live":
                other["status"] = "deactivated"
        deploy["status"] = "live"
        deploy["finishedAt"] = _now()
        if self.on_live is not None:
            self.on_live(service, _public(deploy), dict(self.env[service]))

    def _advance(self, service: str, deploy: dict[str, Any]) -> None:
        if deploy["status"] in ("live", "deactivated", *self.failing_commits.values()):
            return
        deploy["_reads"] += 1
        if deploy["_reads"] <= len(PROGRESS):
            deploy["status"] = PROGRESS[deploy["_reads"] - 1]
        elif deploy["commit"]["id"] in self.failing_commits:
            deploy["status"] = self.failing_commits[deploy["commit"]["id"]]
            deploy["finishedAt"] = _now()
        else:
            self._go_live(service, deploy)
        deploy["updatedAt"] = _now()

    def retained(self, service: str) -> list[dict[str, Any]]:
        """The successful deploys whose builds Render still keeps."""
        done = [d for d in self.deploys[service] if d["status"] in ("live", "deactivated")]
        return done[: self.builds_retained]

    # --- routes ----------------------------------------------------------------------------

    @route("GET", _SERVICE)
    def get_service(self, request: Recorded, service: str) -> Reply:
        found = self._service(service)
        return Reply(200, found) if found else self.not_found(request)

    @route("GET", f"{_SERVICE}/deploys")
    def list_deploys(self, request: Recorded, service: str) -> Reply:
        if service not in self.services:
            return self.not_found(request)
        limit = int(request.arg("limit") or 20)
        if not 1 <= limit <= 100:
            return Reply(400, {"id": "invalid", "message": "limit must be between 1 and 100"})
        deploys = self.deploys[service]
        cursor = request.arg("cursor")
        start = 0
        if cursor:
            ids = [d["id"] for d in deploys]
            start = ids.index(cursor) + 1 if cursor in ids else len(ids)
        page = deploys[start : start + limit]
        return Reply(200, [{"deploy": _public(d), "cursor": d["id"]} for d in page])

    @route("POST", f"{_SERVICE}/deploys")
    def trigger_deploy(self, request: Recorded, service: str) -> Reply:
        if service not in self.services:
            return self.not_found(request)
        body = request.json() if request.body else {}
        commit = body.get("commitId")
        if not commit:
            return Reply(400, {"id": "invalid", "message": "commitId is required in this fake"})
        return Reply(201, _public(self._new_deploy(service, commit, trigger="api")))

    @route("GET", f"{_SERVICE}/deploys/(?P<deploy_id>[^/]+)")
    def get_deploy(self, request: Recorded, service: str, deploy_id: str) -> Reply:
        deploy = next((d for d in self.deploys.get(service, []) if d["id"] == deploy_id), None)
        if deploy is None:
            return self.not_found(request)
        self._advance(service, deploy)
        return Reply(200, _public(deploy))

    @route("POST", f"{_SERVICE}/rollback")
    def rollback(self, request: Recorded, service: str) -> Reply:
        if service not in self.services:
            return self.not_found(request)
        target_id = request.json().get("deployId")
        target = next((d for d in self.retained(service) if d["id"] == target_id), None)
        if target is None:
            return Reply(
                400, {"id": "invalid", "message": "the deploy's build is no longer retained"}
            )
        return Reply(
            201, _public(self._new_deploy(service, target["commit"]["id"], trigger="rollback"))
        )

    @route("GET", f"{_SERVICE}/env-vars")
    def list_env(self, request: Recorded, service: str) -> Reply:
        if service not in self.services:
            return self.not_found(request)
        items = sorted(self.env[service].items())
        return Reply(200, [{"envVar": {"key": k, "value": v}, "cursor": k} for k, v in items])

    @route("PUT", f"{_SERVICE}/env-vars")
    def replace_env(self, request: Recorded, service: str) -> Reply:
        # Render's replace-all: every variable missing from the body is deleted
        if service not in self.services:
            return self.not_found(request)
        self.env[service] = {item["key"]: item["value"] for item in request.json()}
        return Reply(200, [{"key": k, "value": v} for k, v in self.env[service].items()])

    @route("GET", f"{_SERVICE}/env-vars/(?P<key>[^/]+)")
    def get_env(self, request: Recorded, service: str, key: str) -> Reply:
        if service not in self.services or key not in self.env[service]:
            return self.not_found(request)
        return Reply(200, {"key": key, "value": self.env[service][key]})

    @route("PUT", f"{_SERVICE}/env-vars/(?P<key>[^/]+)")
    def put_env(self, request: Recorded, service: str, key: str) -> Reply:
        if service not in self.services:
            return self.not_found(request)
        value = request.json().get("value")
        if not isinstance(value, str):
            return Reply(400, {"id": "invalid", "message": "value must be a string"})
        self.env[service][key] = value
        return Reply(200, {"key": key, "value": value})

    @route("POST", f"{_SERVICE}/scale")
    def scale(self, request: Recorded, service: str) -> Reply:
        found = self._service(service)
        if found is None:
            return self.not_found(request)
        count = request.json().get("numInstances")
        if not isinstance(count, int) or count < 1:
            return Reply(400, {"id": "invalid", "message": "numInstances must be at least 1"})
        found["serviceDetails"]["numInstances"] = count
        return Reply(202)

    @route("POST", f"{_SERVICE}/suspend")
    def suspend(self, request: Recorded, service: str) -> Reply:
        found = self._service(service)
        if found is None:
            return self.not_found(request)
        found["suspended"], found["suspenders"] = "suspended", ["user"]
        if self.on_suspend is not None:
            self.on_suspend(service)
        return Reply(202)

    @route("POST", f"{_SERVICE}/resume")
    def resume(self, request: Recorded, service: str) -> Reply:
        found = self._service(service)
        if found is None:
            return self.not_found(request)
        if found["suspended"] == "suspended":
            found["suspended"], found["suspenders"] = "not_suspended", []
            last = next(
                (d for d in self.deploys[service] if d["status"] in ("live", "deactivated")), None
            )
            if last is not None:  # resuming restarts the last release, with today's env
                self._go_live(
                    service,
                    self._new_deploy(service, last["commit"]["id"], trigger="service_resumed"),
                )
        return Reply(202)

    @route("GET", r"/apps/(?P<service>[^/]+)/health")
    def app_health(self, request: Recorded, service: str) -> Reply:
        found = self._service(service)
        running = (
            found is not None
            and found["suspended"] != "suspended"
            and any(d["status"] == "live" for d in self.deploys[service])
        )
        return Reply(200, {"status": "ok"}) if running else Reply(503, {"status": "down"})


def _public(deploy: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in deploy.items() if not k.startswith("_")}
