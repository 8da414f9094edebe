"""Render's REST API (v1), the part the Render provider uses, as strict as Render is.

Services (web and background worker) with ``suspended``, ``serviceDetails.url`` and
``numInstances``; per-service env vars (the per-key endpoints and the replace-all
``PUT /services/{id}/env-vars``, implemented faithfully so a test can show it is never
called); deploys listed newest first as ``[{"deploy", "cursor"}]`` with cursor pages;
rollback to a retained build; scale, suspend, resume.

Deploys take time: each request that reads a service's deploys (one, or the list) is one
tick, and a tick moves the service's running deploy one status on (``created``,
``build_in_progress``, ``update_in_progress``, then ``live`` or the failure set for its
commit). A deploy runs with the environment the service had when it started (what Render
does): changing a variable later does not change what runs.

Overlapping deploys follow the workspace's policy (``overlap_policy``): ``override``
(Render's default) cancels the running deploy; ``wait`` queues the new one and answers
``202 Accepted`` with no body (Render's spec for create-deploy), then runs the newest queued
deploy once the running one ends (older queued ones are canceled). Resuming a suspended
service starts a deploy of its last release (trigger ``service_resumed``) that takes its
ticks like any other.

The edge: a request whose ``Host`` is a service's ``<name>.onrender.com`` or one of its
custom domains (``add_custom_domain``; a name belongs to one service) is answered as that
service would (its live deploy's commit and generation), whatever DNS name led there, which
is how Render routes. ``GET /apps/{service}/health`` plays each web service's own health
endpoint (200 while it runs a live deploy).

Hooks for end-to-end tests: ``on_live(service_id, deploy, env)`` runs when a deploy goes
live (with the environment it runs with), ``on_suspend(service_id)`` when a service is
suspended, ``on_trigger(service_id)`` as a create-deploy request arrives.
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
RUNNING = ("created", *PROGRESS)
_OWN_HOSTS = ("127.0.0.1", "localhost")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeRender(FakeServer):
    """A Render workspace holding services."""

    provider = "render"

    def __init__(
        self, token: str, *, builds_retained: int = 5, overlap_policy: str = "override"
    ) -> None:
        super().__init__(token)
        self.builds_retained = builds_retained
        self.overlap_policy = overlap_policy  # "override" (Render's default) or "wait"
        self.services: dict[str, dict[str, Any]] = {}
        self.env: dict[str, dict[str, str]] = {}
        self.deploys: dict[str, list[dict[str, Any]]] = {}
        self.custom_domains: dict[str, str] = {}  # name -> service id
        self.failing_commits: dict[str, str] = {}  # commit -> failure status
        self.on_live: Callable[[str, dict[str, Any], dict[str, str]], None] | None = None
        self.on_suspend: Callable[[str], None] | None = None
        # runs as a create-deploy request arrives, before it is handled: a test starts a
        # competing deploy here (someone deploying from the dashboard at that moment)
        self.on_trigger: Callable[[str], None] | None = None
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

    def add_custom_domain(self, service_id: str, name: str) -> None:
        """Attach a custom domain to a service (Render: one service per name)."""
        with self.lock:
            owner = self.custom_domains.get(name)
            if owner is not None and owner != service_id:
                raise ValueError(f"{name} already belongs to {owner}")
            self.custom_domains[name] = service_id

    def running_env(self, service_id: str) -> dict[str, str] | None:
        """The environment the service's live deploy runs with (None if nothing is live)."""
        with self.lock:
            live = next((d for d in self.deploys[service_id] if d["status"] == "live"), None)
            return dict(live["_env"]) if live is not None else None

    def edge(self, host: str, path: str = "/") -> tuple[int, dict[str, Any]]:
        """What Render's edge answers to a request with this ``Host`` (for tests)."""
        return self._edge_reply(host, path)

    # --- vendor behaviour ------------------------------------------------------------------

    def unauthorized(self, request: Recorded) -> Reply:
        return Reply(401, {"id": "unauthorized", "message": "Unauthorized"})

    def not_found(self, request: Recorded) -> Reply:
        return Reply(404, {"id": "not-found", "message": "Not Found"})

    def authorized(self, request: Recorded) -> bool:
        if request.path.startswith("/apps/"):
            return "authorization" not in request.headers  # the app never sees the API key
        return super().authorized(request)

    def _answer(self, request: Recorded) -> Reply:
        host = request.headers.get("host", "").rsplit(":", 1)[0].lower()
        if host and host not in _OWN_HOSTS:
            with self.lock:
                self.requests.append(request)
                status, body = self._edge_reply(host, request.path)
            return Reply(status, body)
        return super()._answer(request)

    def _edge_reply(self, host: str, path: str) -> tuple[int, dict[str, Any]]:
        """Render's edge: the ``Host`` picks the service, whatever DNS name led here."""
        host = host.rstrip(".").lower()
        service = self.custom_domains.get(host)
        if service is None:
            service = next(
                (sid for sid, s in self.services.items() if f"{s['name']}.onrender.com" == host),
                None,
            )
        if service is None:
            return 404, {"message": f"no service for host {host}"}
        found = self.services[service]
        live = next((d for d in self.deploys[service] if d["status"] == "live"), None)
        if found["suspended"] == "suspended" or live is None:
            return 503, {"message": "service unavailable", "service": found["name"]}
        return 200, {
            "service": found["name"],
            "commit": live["commit"]["id"],
            "generation": live["_env"].get("SPECTRAL_GENERATION"),
            "path": path,
        }

    def _service(self, service: str) -> dict[str, Any] | None:
        return self.services.get(service)

    def _new_deploy(self, service: str, commit: str, *, trigger: str) -> dict[str, Any]:
        """A deploy that starts now, or waits behind the running one (policy ``wait``)."""
        running = [d for d in self.deploys[service] if d["status"] in RUNNING]
        queued = bool(running) and self.overlap_policy == "wait"
        if running and not queued:
            for other in running:  # "override": the running deploy is canceled
                self._finish(other, "canceled")
        if queued:
            for other in self.deploys[service]:
                if other["status"] == "queued":  # only the newest queued deploy will run
                    self._finish(other, "canceled")
        deploy = {
            "id": f"dep-{next(self._ids):04d}{secrets.token_hex(6)}",
            "commit": {"id": commit, "message": f"commit {commit[:7]}", "createdAt": _now()},
            "status": "queued" if queued else "created",
            "trigger": trigger,
            "createdAt": _now(),
            "updatedAt": _now(),
            "startedAt": None if queued else _now(),
            "finishedAt": None,
            "_env": {} if queued else dict(self.env[service]),
        }
        self.deploys[service].insert(0, deploy)
        return deploy

    def _finish(self, deploy: dict[str, Any], status: str) -> None:
        deploy["status"] = status
        deploy["finishedAt"] = deploy["updatedAt"] = _now()

    def _go_live(self, service: str, deploy: dict[str, Any]) -> None:
        for other in self.deploys[service]:
            if other is not deploy and other["status"] == "live":
                other["status"] = "deactivated"
        self._finish(deploy, "live")
        if self.on_live is not None:
            self.on_live(service, _public(deploy), dict(deploy["_env"]))

    def tick(self, service: str) -> None:
        """Time passes for ``service``: its running deploy moves one status on."""
        running = next((d for d in self.deploys[service] if d["status"] in RUNNING), None)
        if running is None:
            waiting = next((d for d in self.deploys[service] if d["status"] == "queued"), None)
            if waiting is None:
                return
            waiting["status"], waiting["startedAt"] = "created", _now()
            waiting["_env"] = dict(self.env[service])  # it starts now, with today's env
            waiting["updatedAt"] = _now()
            return
        if running["status"] == "created":
            running["status"] = PROGRESS[0]
        elif running["status"] == PROGRESS[0]:
            running["status"] = PROGRESS[1]
        elif running["commit"]["id"] in self.failing_commits:
            self._finish(running, self.failing_commits[running["commit"]["id"]])
        else:
            self._go_live(service, running)
        running["updatedAt"] = _now()

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
        self.tick(service)
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
        if self.on_trigger is not None:
            self.on_trigger(service)
        deploy = self._new_deploy(service, commit, trigger="api")
        if deploy["status"] == "queued":
            return Reply(202)  # Render: "deploy queued", no body
        return Reply(201, _public(deploy))

    @route("GET", f"{_SERVICE}/deploys/(?P<deploy_id>[^/]+)")
    def get_deploy(self, request: Recorded, service: str, deploy_id: str) -> Reply:
        deploy = next((d for d in self.deploys.get(service, []) if d["id"] == deploy_id), None)
        if deploy is None:
            return self.not_found(request)
        self.tick(service)
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
            if last is not None:  # resuming redeploys the last release, with today's env
                self._new_deploy(service, last["commit"]["id"], trigger="service_resumed")
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
