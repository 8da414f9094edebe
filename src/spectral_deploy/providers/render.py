"""``[hosting] provider = "render"``: blue and green as Render services, over Render's REST API.

Each color is two services: a web service (``hosting.<color>_service_id``) and a
background worker service (``hosting.<color>_worker_service_id``), both built from the
app's repository with auto-deploy off. What the provider does:

- ``deploy``: resume the web service if it was suspended and let every deploy in progress
  end first (resuming starts a deploy of the last release; overlapping it with ours would
  either cancel it or queue ours), then set ``SPECTRAL_GENERATION``, ``SPECTRAL_TAG``,
  ``SPECTRAL_COMMIT``, ``SENTRY_RELEASE`` and the release's environment one key at a time
  (``PUT /services/{id}/env-vars/{key}``; never the replace-all ``PUT
  /services/{id}/env-vars``, which would delete every other variable), then deploy the
  commit, reusing its retained build when Render still has one (``POST /rollback``) and
  building it otherwise (``POST /deploys``), and poll the deploy until ``live`` or a failed
  status. Render answers ``202 Accepted`` with no body when the workspace's overlapping
  deploy policy is "Wait" and a deploy is still running: the queued deploy is then found in
  the service's deploys, by commit, among those that did not exist before the request.
- ``current``: what the live deploy runs (its commit and Render's deploy id). Its generation
  and tag are the service's variables only when Render vouches that the live deploy started
  with them: the live deploy is the newest one (no build failed or is running after it) and
  ``SPECTRAL_COMMIT`` names its commit. Otherwise they are None: a failed build leaves the
  variables of the release that never went live.
- ``scale_workers``: 0 suspends the worker service (Render sends SIGTERM; the workers
  drain). More than 0 resumes it (its old release restarts, and that deploy ends first),
  brings it to what the web service runs (commit and generation, as ``current`` reports
  them), and scales it to that many instances.
- ``build_available``: whether the commit can be deployed again: a successful deploy of it
  is among the builds Render retains for rollbacks (``hosting.builds_retained``, which
  depends on the plan), or, since Render builds any commit of the repository, the project's
  repository still has it. "No retained build" alone is not the runbook's Class 5.

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
from spectral_deploy.providers.base import Color, Deployment, Health, ReleaseSpec, same_commit
from spectral_deploy.providers.direct import direct_client
from spectral_deploy.providers.http import (
    ApiClient,
    RetryPolicy,
    install_redaction,
    secret_from_env,
)
from spectral_deploy.providers.local.git import GitVcs
from spectral_deploy.waiting import FunctionClock, Reporter, Wait, no_report

__all__ = [
    "COMMIT_ENV",
    "DEFAULT_API_URL",
    "FAILED_STATUSES",
    "GENERATION_ENV",
    "IN_PROGRESS_STATUSES",
    "SENTRY_RELEASE_ENV",
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
# the commit the variables above belong with: if the live deploy runs another, they are not
# what runs (a failed build, or a crash between setting them and deploying)
COMMIT_ENV = "SPECTRAL_COMMIT"
# Sentry's SDKs report under this release; the hold-window watch reads the tag's errors
SENTRY_RELEASE_ENV = "SENTRY_RELEASE"
LIVE = "live"
# a deploy that ends in one of these never went live; "deactivated" while we wait means
# another deploy replaced it before it did
FAILED_STATUSES = frozenset(
    {"build_failed", "update_failed", "pre_deploy_failed", "canceled", "deactivated"}
)
# deploys whose build succeeded: the ones Render can roll back to
SUCCEEDED_STATUSES = frozenset({"live", "deactivated"})
# a deploy in one of these has not ended: another one triggered now would overlap it
IN_PROGRESS_STATUSES = frozenset(
    {"created", "queued", "build_in_progress", "update_in_progress", "pre_deploy_in_progress"}
)
DEPLOYS_PAGE_ROWS = 100
RECENT_DEPLOYS = 20
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
        rebuildable: Callable[[str], bool] | None = None,
    ) -> None:
        self.api = api
        # whether the repository Render builds from still has a commit (None: not known)
        self.rebuildable = rebuildable
        # where a wait for a build or a deploy reports (the deployer sets its own)
        self.progress: Reporter = no_report
        self.services = services
        self.health_path = health_path
        self.builds_retained = builds_retained
        self.deploy_timeout_seconds = deploy_timeout_seconds
        self.poll_seconds = poll_seconds
        # the app's own health endpoint: never sent the API key, a new connection each check
        self._health = health_client or direct_client(HEALTH_TIMEOUT_SECONDS)
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:
        return f"RenderHosting(api={self.api!r})"

    # --- HostingProvider -------------------------------------------------------------------

    def deploy(
        self,
        color: Color,
        release: ReleaseSpec,
        *,
        on_started: Callable[[str], None] | None = None,
    ) -> Deployment:
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
        # the resume's own deploy (or anyone's) ends before the variables change, so that no
        # deploy of the old commit starts with the new generation
        self._settle(web)
        env = {
            **release.env,
            GENERATION_ENV: str(release.generation),
            TAG_ENV: release.tag,
            COMMIT_ENV: release.commit,
            SENTRY_RELEASE_ENV: release.tag,
        }
        for key, value in env.items():
            self._set_env(web, key, value)
        deploy_id = self._deploy_commit(web, release.commit, on_started=on_started)
        deployment = self.current(color)
        if deployment is None or deployment.deploy_id != deploy_id:
            raise ProviderError(
                f"{web}: deploy {deploy_id} of {release.commit[:12]} went live but Render now "
                f"reports {deployment.deploy_id if deployment else 'nothing'} as live",
                provider=PROVIDER,
                operation="deploy",
                hint="another deploy replaced it: look at the service's events in Render",
            )
        return deployment

    def current(self, color: Color) -> Deployment | None:
        """What ``color``'s web service runs (None when it is suspended or never went live)."""
        web = self.services.web[color]
        service = self._service(web)
        if service.get("suspended") == "suspended":
            return None
        deploys = list(self._deploys(web, limit=RECENT_DEPLOYS))
        live = next((d for d in deploys if d.get("status") == LIVE), None)
        if live is None:
            return None
        latest = deploys[0]
        commit = _commit_of(live)
        env = {key: self._get_env(web, key) for key in (GENERATION_ENV, TAG_ENV, COMMIT_ENV)}
        vouched = latest is live and (
            env[COMMIT_ENV] is None or same_commit(env[COMMIT_ENV], commit)
        )
        generation = env[GENERATION_ENV] if vouched else None
        if not vouched:
            log.info(
                "action=render.unvouched service=%s live=%s latest=%s latest_status=%s",
                web,
                live.get("id"),
                latest.get("id"),
                latest.get("status"),
            )
        return Deployment(
            color=color,
            generation=int(generation) if generation and generation.isdigit() else None,
            commit=commit,
            tag=env[TAG_ENV] if vouched else None,
            status=str(latest.get("status", LIVE)),
            workers=self._worker_count(color),
            address=self.address(color),
            deploy_id=str(live["id"]) if live.get("id") else None,
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
        web = self.current(color)
        if web is None or web.generation is None or not web.commit:
            raise ProviderError(
                f"{self.services.web[color]} runs no release that Render vouches for "
                f"({'nothing live' if web is None else 'its newest deploy is ' + web.status}): "
                "the workers would run another generation's code",
                provider=PROVIDER,
                operation="scale workers",
                hint="deploy the color first (spectral-deploy deploy resume)",
            )
        if suspended:
            # resumes the worker's last release with its old generation: a consistent pair,
            # replaced below once that deploy has ended
            self._post(worker, "resume", operation="resume worker service")
        self._settle(worker)
        target = {
            GENERATION_ENV: str(web.generation),
            TAG_ENV: web.tag or "",
            COMMIT_ENV: web.commit,
            SENTRY_RELEASE_ENV: web.tag or "",
        }
        current = {key: self._get_env(worker, key) for key in target}
        deploys = list(self._deploys(worker, limit=RECENT_DEPLOYS))
        worker_live = next((d for d in deploys if d.get("status") == LIVE), None)
        if (
            current != target
            or worker_live is None
            or deploys[0] is not worker_live
            or not same_commit(_commit_of(worker_live), web.commit)
        ):
            for key, value in target.items():
                self._set_env(worker, key, value)
            self._deploy_commit(worker, web.commit)
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
        """Whether ``commit`` has a retained build on either web service, or can be built."""
        if any(self._retained_build(web, commit) for web in self.services.web.values()):
            return True
        return self.rebuildable is not None and self.rebuildable(commit)

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
            if same_commit(_commit_of(deploy), commit):
                return deploy
        return None

    def _settle(self, service_id: str) -> None:
        """Wait until no deploy of the service is in progress (a resume's, or anyone's)."""
        deadline = self._clock() + self.deploy_timeout_seconds
        while True:
            running = next(
                (
                    d
                    for d in self._deploys(service_id, limit=RECENT_DEPLOYS)
                    if d.get("status") in IN_PROGRESS_STATUSES
                ),
                None,
            )
            if running is None:
                return
            log.info(
                "action=render.settle service=%s deploy=%s status=%s trigger=%s",
                service_id,
                running.get("id"),
                running.get("status"),
                running.get("trigger"),
            )
            if self._clock() >= deadline:
                raise ProviderError(
                    f"deploy {running.get('id')} on {service_id} is still "
                    f"{running.get('status')} after {self.deploy_timeout_seconds:g} s; ours "
                    "would overlap it",
                    provider=PROVIDER,
                    operation="deploy",
                    hint="let it end (or cancel it) in the Render dashboard, then resume",
                )
            self._sleep(self.poll_seconds)

    def _deploy_commit(
        self, service_id: str, commit: str, *, on_started: Callable[[str], None] | None = None
    ) -> str:
        """Deploy ``commit`` and wait until it is live; returns Render's id of the deploy."""
        before = {str(d.get("id")) for d in self._deploys(service_id, limit=RECENT_DEPLOYS)}
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
        deploy_id = str(deploy["id"]) if deploy.get("id") else None
        if deploy_id is None:
            if response.status != 202:
                raise ProviderError(
                    "the deploy was accepted but its id is missing from the answer",
                    provider=PROVIDER,
                    operation="trigger deploy",
                    status=response.status,
                )
            # "Wait" overlapping-deploy policy: queued behind a running deploy, no body
            deploy_id = self._find_new_deploy(service_id, commit, before)
        log.info(
            "action=render.triggered service=%s deploy=%s status=%d",
            service_id,
            deploy_id,
            response.status,
        )
        if on_started is not None:
            on_started(deploy_id)
        self._wait_live(service_id, deploy_id, commit)
        return deploy_id

    def _find_new_deploy(self, service_id: str, commit: str, before: set[str]) -> str:
        """The deploy of ``commit`` that appeared since ``before`` (a 202 names none)."""
        deadline = self._clock() + self.deploy_timeout_seconds
        while True:
            for found in self._deploys(service_id, limit=RECENT_DEPLOYS):
                if str(found.get("id")) not in before and same_commit(_commit_of(found), commit):
                    return str(found["id"])
            if self._clock() >= deadline:
                raise ProviderError(
                    f"Render queued a deploy of {commit[:12]} on {service_id} (HTTP 202) but it "
                    f"is not among the service's deploys after {self.deploy_timeout_seconds:g} s",
                    provider=PROVIDER,
                    operation="trigger deploy",
                    status=202,
                    hint="look at the service's events in the Render dashboard",
                )
            self._sleep(self.poll_seconds)

    def _wait_live(self, service_id: str, deploy_id: str, commit: str) -> None:
        started = self._clock()
        deadline = started + self.deploy_timeout_seconds
        status = ""
        wait = Wait(
            f"Render deploy {deploy_id} of {commit[:12]} on {service_id} to go live",
            self.deploy_timeout_seconds,
            clock=FunctionClock(self._clock, self._sleep),
            report=self.progress,
            look=f"the service's logs in the Render dashboard ({service_id})",
            started=started,
        )
        while True:
            data = self.api.get(
                f"/services/{service_id}/deploys/{deploy_id}", operation="read deploy"
            ).data
            status = str((data or {}).get("status", ""))
            if status == LIVE:
                log.info("action=render.live service=%s deploy=%s", service_id, deploy_id)
                return
            if status in FAILED_STATUSES:
                replaced = status in ("canceled", "deactivated")
                raise ProviderError(
                    f"deploy {deploy_id} of {commit[:12]} on {service_id} ended {status}"
                    + (" (another deploy replaced it)" if replaced else ""),
                    provider=PROVIDER,
                    operation="deploy",
                    hint=f"read its logs in the Render dashboard (service {service_id})",
                )
            now = self._clock()
            if now >= deadline:
                raise ProviderError(
                    f"deploy {deploy_id} on {service_id} is still {status or 'unknown'} after "
                    f"{self.deploy_timeout_seconds:g} s",
                    provider=PROVIDER,
                    operation="deploy",
                    hint="raise hosting.deploy_timeout_seconds, or look at it in Render",
                )
            wait.tick(status, now=now)
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
        rebuildable=GitVcs(config.project_root).has_commit,
    )
