"""``[hosting] provider = "render"``: blue and green as Render services, over Render's REST API.

Each color is two services: a web service (``hosting.<color>_service_id``) and a
background worker service (``hosting.<color>_worker_service_id``), both built from the
app's repository with auto-deploy off. What the provider does:

- ``deploy``: resume the web service if it was suspended, set ``SPECTRAL_GENERATION``,
  ``SPECTRAL_TAG`` and the release's environment one key at a time (``PUT
  /services/{id}/env-vars/{key}``; never the replace-all ``PUT /services/{id}/env-vars``,
  which would delete every other variable), then deploy the commit, reusing its retained
  build when Render still has one (``POST /rollback``) and building it otherwise
  (``POST /deploys``), and poll the deploy until ``live`` or a failed status.
- ``scale_workers``: 0 suspends the worker service (Render sends SIGTERM; the workers
  drain). More than 0 resumes it, brings it to the web service's commit and generation,
  and scales it to that many instances.
- ``build_available``: whether a successful deploy of the commit is among the builds
  Render retains for rollbacks (``hosting.builds_retained``, which depends on the plan).

The API key comes from ``RENDER_API_KEY``; ``hosting.api_url`` or ``RENDER_API_BASE_URL``
points the provider at another server (the tests' local one).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from spectral_deploy.config import Config
from spectral_deploy.errors import ConfigError, ProviderError
from spectral_deploy.providers.base import Color, Deployment, Health, ReleaseSpec
from spectral_deploy.providers.http import (
    ApiClient,
    RetryPolicy,
    install_redaction,
    secret_from_env,
)

__all__ = [
    "DEFAULT_API_URL",
    "FAILED_STATUSES",
    "GENERATION_ENV",
    "TAG_ENV",
    "RenderHosting",
    "RenderServices",
    "from_config",
]

log = logging.getLogger(__name__)
install_redaction(__name__)

PROVIDER = "render"
AUTH_ENV = "RENDER_API_KEY"
BASE_URL_ENV = "RENDER_API_BASE_URL"
DEFAULT_API_URL = "https://api.render.com/v1"
GENERATION_ENV = "SPECTRAL_GENERATION"
TAG_ENV = "SPECTRAL_TAG"
LIVE = "live"
# a deploy that ends in one of these never went live; "deactivated" while we wait means
# another deploy replaced it before it did
FAILED_STATUSES = frozenset(
    {"build_failed", "update_failed", "pre_deploy_failed", "canceled", "deactivated"}
)
# deploys whose build succeeded: the ones Render can roll back to
SUCCEEDED_STATUSES = frozenset({"live", "deactivated"})
DEPLOYS_PAGE_ROWS = 100
HEALTH_TIMEOUT_SECONDS = 10.0


class RenderServices:
    """The four service ids and the two direct URLs of ``[hosting]``."""

    def __init__(self, config: Config) -> None:
        hosting = config.hosting
        self.web = {Color.BLUE: hosting.blue_service_id, Color.GREEN: hosting.green_service_id}
        self.worker = {
            Color.BLUE: hosting.blue_worker_service_id,
            Color.GREEN: hosting.green_worker_service_id,
        }
        self.url = {Color.BLUE: hosting.blue_url, Color.GREEN: hosting.green_url}
        for color in Color:
            for key, ids in (("service_id", self.web), ("worker_service_id", self.worker)):
                if not ids[color]:
                    raise ConfigError(
                        "is required with provider = render (srv-... from the service's page)",
                        key=f"hosting.{color}_{key}",
                        source=config.source,
                    )


class RenderHosting:
    """Blue and green on Render."""

    def __init__(
        self,
        api: ApiClient,
        services: RenderServices,
        *,
        health_path: str = "/health",
        builds_retained: int = 5,
        deploy_timeout_seconds: float = 1800.0,
        poll_seconds: float = 5.0,
        health_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.services = services
        self.health_path = health_path
        self.builds_retained = builds_retained
        self.deploy_timeout_seconds = deploy_timeout_seconds
        self.poll_seconds = poll_seconds
        # the app's own health endpoint: never sent the API key
        self._health = health_client or httpx.Client(
            timeout=HEALTH_TIMEOUT_SECONDS, follow_redirects=True
        )
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:
        return f"RenderHosting(api={self.api!r})"

    # --- HostingProvider -------------------------------------------------------------------

    def deploy(self, color: Color, release: ReleaseSpec) -> Deployment:
        """Set the release's environment on ``color``'s web service, deploy its commit, wait."""
        web = self.services.web[color]
        log.info(
            "action=render.deploy color=%s service=%s generation=%d commit=%s",
            color,
            web,
            release.generation,
            release.commit,
        )
        self._resume(web)
        env = {
            **release.env,
            GENERATION_ENV: str(release.generation),
            TAG_ENV: release.tag,
        }
        for key, value in env.items():
            self._set_env(web, key, value)
        self._deploy_commit(web, release.commit)
        deployment = self.current(color)
        if deployment is None:  # cannot happen after a live deploy; say so if it does
            raise ProviderError(
                f"{web} reports no live deploy after deploying {release.commit}",
                provider=PROVIDER,
                operation="deploy",
            )
        return deployment

    def current(self, color: Color) -> Deployment | None:
        """What ``color``'s web service runs (None when it is suspended or never went live)."""
        web = self.services.web[color]
        service = self._service(web)
        if service.get("suspended") == "suspended":
            return None
        deploys = list(self._deploys(web, limit=20))
        live = next((d for d in deploys if d.get("status") == LIVE), None)
        if live is None:
            return None
        latest = deploys[0]
        generation = self._get_env(web, GENERATION_ENV)
        return Deployment(
            color=color,
            generation=int(generation) if generation and generation.isdigit() else None,
            commit=_commit_of(live),
            tag=self._get_env(web, TAG_ENV),
            status=str(latest.get("status", LIVE)),
            workers=self._worker_count(color),
            address=self.address(color),
        )

    def health(self, color: Color) -> Health:
        """GET the color's direct URL + ``hosting.health_path``; 2xx is healthy."""
        base = self.address(color)
        if not base:
            return Health(ok=False, detail="no address: set hosting.<color>_url", url=None)
        url = base.rstrip("/") + "/" + self.health_path.lstrip("/")
        try:
            response = self._health.get(url)
        except httpx.HTTPError as exc:
            return Health(ok=False, detail=f"{type(exc).__name__}: {exc}", url=url)
        return Health(ok=response.is_success, detail=f"HTTP {response.status_code}", url=url)

    def address(self, color: Color) -> str | None:
        """``hosting.<color>_url``, else the service's ``onrender.com`` URL."""
        if self.services.url[color]:
            return self.services.url[color]
        details = self._service(self.services.web[color]).get("serviceDetails") or {}
        url = details.get("url")
        return str(url) if url else None

    def scale_workers(self, color: Color, count: int) -> None:
        """0 suspends the worker service; more resumes it at the web's release and scales it."""
        worker = self.services.worker[color]
        service = self._service(worker)
        suspended = service.get("suspended") == "suspended"
        log.info("action=render.scale_workers color=%s service=%s count=%d", color, worker, count)
        if count == 0:
            if not suspended:
                self._post(worker, "suspend", operation="suspend worker service")
            return
        web = self.services.web[color]
        live = next((d for d in self._deploys(web, limit=20) if d.get("status") == LIVE), None)
        if live is None:
            raise ProviderError(
                f"{web} has no live deploy for the workers to follow",
                provider=PROVIDER,
                operation="scale workers",
                hint="deploy the color first",
            )
        if suspended:
            # resumes the worker's last release with its old generation: a consistent pair,
            # replaced below; its generation is changed only right before its new deploy
            self._post(worker, "resume", operation="resume worker service")
        target = {key: self._get_env(web, key) for key in (GENERATION_ENV, TAG_ENV)}
        current = {key: self._get_env(worker, key) for key in target}
        worker_live = next(
            (d for d in self._deploys(worker, limit=20) if d.get("status") == LIVE), None
        )
        commit = _commit_of(live)
        if current != target or worker_live is None or _commit_of(worker_live) != commit:
            for key, value in target.items():
                if value is not None:
                    self._set_env(worker, key, value)
            self._deploy_commit(worker, commit or "")
        instances = (self._service(worker).get("serviceDetails") or {}).get("numInstances")
        if instances != count:
            self.api.request(
                "POST",
                f"/services/{worker}/scale",
                operation="scale worker service",
                json_body={"numInstances": count},
            )

    def stop_web(self, color: Color) -> None:
        """Suspend the web service only; the worker service goes on draining."""
        web = self.services.web[color]
        if self._service(web).get("suspended") != "suspended":
            self._post(web, "suspend", operation="suspend web service")

    def stop(self, color: Color) -> None:
        """Suspend the workers (they drain on SIGTERM), then the web service."""
        self.scale_workers(color, 0)
        web = self.services.web[color]
        if self._service(web).get("suspended") != "suspended":
            self._post(web, "suspend", operation="suspend web service")

    def build_available(self, commit: str) -> bool:
        """Whether a retained build of ``commit`` exists on either color's web service."""
        return any(self._retained_build(web, commit) for web in self.services.web.values())

    # --- the API ---------------------------------------------------------------------------

    def _service(self, service_id: str) -> dict[str, Any]:
        data = self.api.get(f"/services/{service_id}", operation="read service").data
        return data if isinstance(data, dict) else {}

    def _post(self, service_id: str, verb: str, *, operation: str) -> None:
        self.api.request("POST", f"/services/{service_id}/{verb}", operation=operation)

    def _resume(self, service_id: str) -> None:
        if self._service(service_id).get("suspended") == "suspended":
            self._post(service_id, "resume", operation="resume web service")

    def _get_env(self, service_id: str, key: str) -> str | None:
        response = self.api.get(
            f"/services/{service_id}/env-vars/{key}", operation="read env var", allow=(404,)
        )
        if response.status == 404 or not isinstance(response.data, dict):
            return None
        value = response.data.get("value")
        return None if value is None else str(value)

    def _set_env(self, service_id: str, key: str, value: str) -> None:
        # the per-key endpoint: PUT /services/{id}/env-vars (no key) replaces them all
        self.api.request(
            "PUT",
            f"/services/{service_id}/env-vars/{key}",
            operation="set env var",
            json_body={"value": value},
        )
        log.info("action=render.env_var service=%s key=%s", service_id, key)

    def _deploys(self, service_id: str, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """The service's deploys, newest first, following Render's cursors."""
        cursor: str | None = None
        seen = 0
        while True:
            page = self.api.get(
                f"/services/{service_id}/deploys",
                operation="list deploys",
                params={"limit": DEPLOYS_PAGE_ROWS, "cursor": cursor},
            ).data
            if not isinstance(page, list) or not page:
                return
            for item in page:
                deploy = item.get("deploy") if isinstance(item, dict) else None
                if isinstance(deploy, dict):
                    yield deploy
                    seen += 1
                    if limit is not None and seen >= limit:
                        return
            last = page[-1]
            next_cursor = last.get("cursor") if isinstance(last, dict) else None
            if not next_cursor or next_cursor == cursor or len(page) < DEPLOYS_PAGE_ROWS:
                return
            cursor = str(next_cursor)

    def _retained_build(self, service_id: str, commit: str) -> dict[str, Any] | None:
        """The newest successful deploy of ``commit`` among the builds Render retains."""
        succeeded = 0
        for deploy in self._deploys(service_id):
            if deploy.get("status") not in SUCCEEDED_STATUSES:
                continue
            succeeded += 1
            if succeeded > self.builds_retained:
                return None
            if _same_commit(_commit_of(deploy), commit):
                return deploy
        return None

    def _deploy_commit(self, service_id: str, commit: str) -> None:
        retained = self._retained_build(service_id, commit)
        if retained is not None:
            # the retained build artifact: no rebuild (which may no longer be possible)
            response = self.api.request(
                "POST",
                f"/services/{service_id}/rollback",
                operation="redeploy retained build",
                json_body={"deployId": retained["id"]},
            )
        else:
            response = self.api.request(
                "POST",
                f"/services/{service_id}/deploys",
                operation="trigger deploy",
                json_body={"commitId": commit, "clearCache": "do_not_clear"},
            )
        deploy = response.data if isinstance(response.data, dict) else {}
        if not deploy.get("id"):
            raise ProviderError(
                "the deploy was accepted but its id is missing from the answer",
                provider=PROVIDER,
                operation="trigger deploy",
                status=response.status,
            )
        self._wait_live(service_id, str(deploy["id"]), commit)

    def _wait_live(self, service_id: str, deploy_id: str, commit: str) -> None:
        deadline = self._clock() + self.deploy_timeout_seconds
        status = ""
        while True:
            data = self.api.get(
                f"/services/{service_id}/deploys/{deploy_id}", operation="read deploy"
            ).data
            status = str((data or {}).get("status", ""))
            if status == LIVE:
                log.info("action=render.live service=%s deploy=%s", service_id, deploy_id)
                return
            if status in FAILED_STATUSES:
                raise ProviderError(
                    f"deploy {deploy_id} of {commit[:12]} on {service_id} ended {status}",
                    provider=PROVIDER,
                    operation="deploy",
                    hint=f"read its logs in the Render dashboard (service {service_id})",
                )
            if self._clock() >= deadline:
                raise ProviderError(
                    f"deploy {deploy_id} on {service_id} is still {status or 'unknown'} after "
                    f"{self.deploy_timeout_seconds:g} s",
                    provider=PROVIDER,
                    operation="deploy",
                    hint="raise hosting.deploy_timeout_seconds, or look at it in Render",
                )
            self._sleep(self.poll_seconds)

    def _worker_count(self, color: Color) -> int:
        service = self._service(self.services.worker[color])
        if service.get("suspended") == "suspended":
            return 0
        return int((service.get("serviceDetails") or {}).get("numInstances") or 0)


def _commit_of(deploy: Mapping[str, Any]) -> str | None:
    commit = deploy.get("commit")
    if isinstance(commit, dict) and commit.get("id"):
        return str(commit["id"])
    return None


def _same_commit(a: str | None, b: str | None) -> bool:
    """Full and abbreviated shas of one commit are the same commit."""
    if not a or not b:
        return False
    a, b = a.lower(), b.lower()
    if min(len(a), len(b)) < 7:
        return a == b
    return a.startswith(b) or b.startswith(a)


def from_config(config: Config, database_url: str | None = None) -> RenderHosting:
    """The Render provider of ``[hosting]``; the key from ``RENDER_API_KEY``.

    ``database_url`` is not used: on Render the services' ``DATABASE_URL`` lives in
    Render (an environment group), where it stays.
    """
    del database_url
    hosting = config.hosting
    token = secret_from_env(AUTH_ENV, purpose="a Render API key (Account settings > API keys)")
    api = ApiClient(
        provider=PROVIDER,
        base_url=hosting.api_url or os.environ.get(BASE_URL_ENV) or DEFAULT_API_URL,
        token=token,
        token_env=AUTH_ENV,
        headers={"Accept": "application/json"},
        policy=RetryPolicy(),
    )
    return RenderHosting(
        api,
        RenderServices(config),
        health_path=hosting.health_path,
        builds_retained=hosting.builds_retained,
        deploy_timeout_seconds=hosting.deploy_timeout_seconds,
        poll_seconds=hosting.poll_seconds,
    )
