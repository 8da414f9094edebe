"""``[vcs] provider = "github"`` and ``[notify] release_notes = "github"``: GitHub's REST API.

- Tags: ``resolve_tag`` reads ``refs/tags/<tag>`` and peels annotated tags down to the
  commit; ``create_tag`` creates an annotated tag object and its ref, and accepts a tag
  that already points at the same commit (a resumed rollback creates it again).
- Releases: ``mark_rollback`` marks the Release of a tag as a pre-release and appends
  the rollback note once (a second call finds the note and leaves the body alone).
- Workflows: ``dispatch_workflow`` starts a ``workflow_dispatch`` run (``deploy-prod.yml``
  for a Class 3 rollback tag) on the repository's default branch and asks for the run's
  details (``return_run_details``, GitHub's API since February 2026); where the server does
  not know that parameter (older GitHub Enterprise Server) it dispatches without it and the
  run is found among the workflow's ``workflow_dispatch`` runs created since. ``workflow_run``
  reads a run back. A tag pushed with GitHub Actions' default ``GITHUB_TOKEN`` does not
  trigger other workflows; one pushed with another token does, and the deploy workflow's
  push run then leaves a rollback tag to the dispatched run (``deploy --trigger push``).
- Pull requests (the lint's override signoff): ``pull_request``, its reviews and issue
  events (every page), and ``team_member`` (None when the token cannot see the team).

The token comes from ``GITHUB_TOKEN``; ``vcs.api_url`` or ``GITHUB_API_URL`` (set by
GitHub Actions, and on GitHub Enterprise) points at another server.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from spectral_deploy.config import Config
from spectral_deploy.errors import ConfigError, InputError, PreconditionFailed, ProviderError
from spectral_deploy.providers.http import ApiClient, install_redaction, secret_from_env

__all__ = [
    "DEFAULT_API_URL",
    "GitHub",
    "WorkflowRun",
    "for_repository",
    "from_config",
    "next_page",
    "release_notes_from_config",
    "vcs_from_config",
]

log = logging.getLogger(__name__)
install_redaction(__name__)

PROVIDER = "github"
AUTH_ENV = "GITHUB_TOKEN"
BASE_URL_ENV = "GITHUB_API_URL"
DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PAGE_ROWS = 100
# annotated tags may point at other tags; real repositories nest one level, rarely two
MAX_TAG_DEPTH = 5
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+$")
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


@dataclass(frozen=True)
class WorkflowRun:
    """A GitHub Actions run, as the API reports it."""

    id: int
    status: str  # queued, in_progress, completed, waiting, requested, pending
    conclusion: str | None  # success, failure, cancelled, skipped, timed_out ... once completed
    html_url: str
    event: str = ""

    @property
    def completed(self) -> bool:
        """Whether the run has ended (whatever its conclusion)."""
        return self.status == "completed"


def _run_of(data: Any) -> WorkflowRun:
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise ProviderError("no run id in the answer", provider=PROVIDER, operation="read run")
    return WorkflowRun(
        id=int(data["id"]),
        status=str(data.get("status") or ""),
        conclusion=str(data["conclusion"]) if data.get("conclusion") else None,
        html_url=str(data.get("html_url") or ""),
        event=str(data.get("event") or ""),
    )


def next_page(link_header: str | None) -> str | None:
    """The ``rel="next"`` URL of a GitHub ``Link`` header."""
    if not link_header:
        return None
    match = _LINK_NEXT.search(link_header)
    return match.group(1) if match else None


class GitHub:
    """One repository's tags, releases and workflows."""

    def __init__(self, api: ApiClient, repository: str) -> None:
        if not _REPOSITORY.match(repository):
            raise InputError(f"repository must be OWNER/NAME, got {repository!r}")
        self.api = api
        self.repository = repository
        self._base = f"/repos/{repository}"

    def __repr__(self) -> str:
        return f"GitHub(repository={self.repository!r}, api={self.api!r})"

    # --- tags ------------------------------------------------------------------------------

    def resolve_tag(self, tag: str) -> str:
        """The commit ``tag`` points at, peeling annotated tags (InputError if no such tag)."""
        response = self.api.get(
            f"{self._base}/git/ref/tags/{quote(tag, safe='')}",
            operation="resolve tag",
            allow=(404,),
        )
        if response.status == 404:
            raise InputError(
                f"no tag {tag} in {self.repository}",
                hint=f"git push origin {tag}  (or check the name)",
            )
        target = _object_of(response.data, operation="resolve tag")
        for _ in range(MAX_TAG_DEPTH):
            if target["type"] == "commit":
                return target["sha"]
            if target["type"] != "tag":
                raise InputError(f"tag {tag} points at a {target['type']}, not a commit")
            tag_object = self.api.get(
                f"{self._base}/git/tags/{target['sha']}", operation="read annotated tag"
            ).data
            target = _object_of(tag_object, operation="read annotated tag")
        raise InputError(f"tag {tag} nests annotated tags deeper than {MAX_TAG_DEPTH}")

    def create_tag(self, tag: str, commit: str, message: str) -> None:
        """Create annotated ``tag`` at ``commit``; one already there is fine, elsewhere is not."""
        existing = self._existing_tag(tag)
        if existing is not None:
            self._same_or_refuse(tag, existing, commit)
            return
        tag_object = self.api.request(
            "POST",
            f"{self._base}/git/tags",
            operation="create tag object",
            json_body={"tag": tag, "message": message, "object": commit, "type": "commit"},
        ).data
        sha = (tag_object or {}).get("sha") if isinstance(tag_object, dict) else None
        if not sha:
            raise ProviderError(
                "no sha in the created tag object", provider=PROVIDER, operation="create tag"
            )
        response = self.api.request(
            "POST",
            f"{self._base}/git/refs",
            operation="create tag ref",
            json_body={"ref": f"refs/tags/{tag}", "sha": sha},
            allow=(422,),
        )
        if response.status == 422:  # created meanwhile (another run): fine if it is ours
            existing = self._existing_tag(tag)
            if existing is None:
                raise ProviderError(
                    f"GitHub refused refs/tags/{tag}",
                    provider=PROVIDER,
                    operation="create tag ref",
                    status=422,
                )
            self._same_or_refuse(tag, existing, commit)
            return
        log.info("action=github.tag repository=%s tag=%s commit=%s", self.repository, tag, commit)

    def tag_names(self) -> list[str]:
        """Every tag name of the repository."""
        return list(self.tags())

    def tags(self) -> Iterator[str]:
        """Every tag name of the repository, following the ``Link`` pages."""
        url: str | None = f"{self._base}/tags"
        params: dict[str, Any] | None = {"per_page": PAGE_ROWS}
        while url:
            response = self.api.get(url, operation="list tags", params=params)
            for item in response.data or []:
                if isinstance(item, dict) and item.get("name"):
                    yield str(item["name"])
            url = next_page(response.headers.get("link"))
            if url and not url.startswith(self.api.base_url + "/"):
                # the token goes wherever the request goes: only to the API it came for
                raise ProviderError(
                    "the next page is on another host", provider=PROVIDER, operation="list tags"
                )
            params = None  # the next URL carries its own query

    def _existing_tag(self, tag: str) -> str | None:
        try:
            return self.resolve_tag(tag)
        except InputError as exc:
            if "no tag" in exc.message:
                return None
            raise

    def _same_or_refuse(self, tag: str, existing: str, commit: str) -> None:
        if existing.lower() != commit.lower():
            raise PreconditionFailed(
                f"tag {tag} already exists at {existing[:12]}, not at {commit[:12]}",
                hint=f"choose another tag name, or delete {tag} if it was made by mistake",
            )
        log.info("action=github.tag.exists repository=%s tag=%s", self.repository, tag)

    # --- releases --------------------------------------------------------------------------

    def mark_rollback(self, tag: str, note: str) -> None:
        """Mark the Release of ``tag`` pre-release and append ``note`` (once)."""
        response = self.api.get(
            f"{self._base}/releases/tags/{quote(tag, safe='')}",
            operation="find release",
            allow=(404,),
        )
        if response.status == 404:
            # the runbook: update the Release "if it was created"
            log.info("action=github.release.none repository=%s tag=%s", self.repository, tag)
            return
        release = response.data if isinstance(response.data, dict) else {}
        if "id" not in release:
            raise ProviderError("no id in the release", provider=PROVIDER, operation="find release")
        body = str(release.get("body") or "")
        note = note.strip()
        update: dict[str, Any] = {}
        if not release.get("prerelease"):
            update["prerelease"] = True
        if note not in body:
            update["body"] = f"{body.rstrip()}\n\n{note}\n" if body.strip() else f"{note}\n"
        if not update:
            return
        self.api.request(
            "PATCH",
            f"{self._base}/releases/{release['id']}",
            operation="update release",
            json_body=update,
        )
        log.info("action=github.release.rollback repository=%s tag=%s", self.repository, tag)

    # --- workflows -------------------------------------------------------------------------

    def default_branch(self) -> str:
        """The repository's default branch (where a dispatched workflow's file is read)."""
        data = self.api.get(self._base, operation="read repository").data
        branch = data.get("default_branch") if isinstance(data, dict) else None
        if not branch:
            raise ProviderError(
                "no default_branch in the repository",
                provider=PROVIDER,
                operation="read repository",
            )
        return str(branch)

    def dispatch_workflow(
        self, workflow: str, ref: str, inputs: Mapping[str, str]
    ) -> WorkflowRun | None:
        """Start ``workflow`` on ``ref``; the run, when the server says which it is.

        Never repeated on a 5xx (the run may have started: two would deploy twice).
        """
        url = f"{self._base}/actions/workflows/{quote(workflow, safe='')}/dispatches"
        body: dict[str, Any] = {"ref": ref, "inputs": dict(inputs), "return_run_details": True}
        response = self.api.request(
            "POST", url, operation="dispatch workflow", json_body=body, allow=(400, 422)
        )
        if response.status in (400, 422):
            message = str((response.data or {}).get("message", "")) if response.data else ""
            if "return_run_details" not in message:
                raise self.api.error(
                    message or "refused", operation="dispatch workflow", status=response.status
                )
            del body["return_run_details"]  # an older server: dispatch, then look for the run
            response = self.api.request("POST", url, operation="dispatch workflow", json_body=body)
        log.info(
            "action=github.dispatch repository=%s workflow=%s ref=%s status=%d",
            self.repository,
            workflow,
            ref,
            response.status,
        )
        run_id = response.data.get("workflow_run_id") if isinstance(response.data, dict) else None
        return self.workflow_run(int(run_id)) if isinstance(run_id, int) else None

    def workflow_run(self, run_id: int) -> WorkflowRun:
        """One run, read now."""
        return _run_of(
            self.api.get(f"{self._base}/actions/runs/{run_id}", operation="read run").data
        )

    def dispatched_run(self, workflow: str, since: datetime) -> WorkflowRun | None:
        """The newest ``workflow_dispatch`` run of ``workflow`` created at ``since`` or later."""
        moment = (since.astimezone(UTC) - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        data = self.api.get(
            f"{self._base}/actions/workflows/{quote(workflow, safe='')}/runs",
            operation="list runs",
            params={"event": "workflow_dispatch", "created": f">={moment}", "per_page": 10},
        ).data
        runs = data.get("workflow_runs") if isinstance(data, dict) else None
        if not runs:
            return None
        return max((_run_of(run) for run in runs), key=lambda run: run.id)

    # --- pull requests ---------------------------------------------------------------------

    def pull_request(self, number: int) -> dict[str, Any]:
        """Pull request ``number`` as GitHub reports it now (head, author, labels)."""
        data = self.api.get(f"{self._base}/pulls/{number}", operation="read pull request").data
        if not isinstance(data, dict):
            raise ProviderError(
                "the pull request is not an object",
                provider=PROVIDER,
                operation="read pull request",
            )
        return data

    def pull_reviews(self, number: int) -> Iterator[dict[str, Any]]:
        """Every review of the pull request, oldest first."""
        return self._paged(f"{self._base}/pulls/{number}/reviews", "list reviews")

    def issue_events(self, number: int) -> Iterator[dict[str, Any]]:
        """Every event of the pull request's issue (labeled, unlabeled, ...), oldest first."""
        return self._paged(f"{self._base}/issues/{number}/events", "list issue events")

    def team_member(self, team: str, login: str) -> bool | None:
        """Whether ``login`` is an active member of ``team`` (``@org/slug``); None when the
        token cannot tell (GitHub answers 404 both for "not a member" and "cannot see")."""
        org, _, slug = team.removeprefix("@").partition("/")
        response = self.api.get(
            f"/orgs/{quote(org, safe='')}/teams/{quote(slug, safe='')}/memberships/"
            f"{quote(login, safe='')}",
            operation="read team membership",
            allow=(403, 404),
        )
        if response.status in (403, 404):
            return None
        data = response.data if isinstance(response.data, dict) else {}
        return data.get("state") == "active"

    def _paged(self, path: str, operation: str) -> Iterator[dict[str, Any]]:
        url: str | None = path
        params: dict[str, Any] | None = {"per_page": PAGE_ROWS}
        while url:
            response = self.api.get(url, operation=operation, params=params)
            for item in response.data or []:
                if isinstance(item, dict):
                    yield item
            url = next_page(response.headers.get("link"))
            if url and not url.startswith(self.api.base_url + "/"):
                raise ProviderError(
                    "the next page is on another host", provider=PROVIDER, operation=operation
                )
            params = None


def _object_of(data: Any, *, operation: str) -> dict[str, str]:
    target = data.get("object") if isinstance(data, dict) else None
    if not isinstance(target, dict) or not target.get("sha") or not target.get("type"):
        raise ProviderError(
            "the answer has no object.sha/object.type", provider=PROVIDER, operation=operation
        )
    return {"sha": str(target["sha"]), "type": str(target["type"])}


def from_config(config: Config) -> GitHub:
    """The GitHub client of ``[vcs] repository``; the token from ``GITHUB_TOKEN``."""
    if not config.vcs.repository:
        raise ConfigError(
            "is required with the github providers (OWNER/NAME)",
            key="vcs.repository",
            source=config.source,
        )
    token = secret_from_env(
        AUTH_ENV, purpose="a GitHub token with contents:write and actions:write on the repo"
    )
    api = ApiClient(
        provider=PROVIDER,
        base_url=config.vcs.api_url or os.environ.get(BASE_URL_ENV) or DEFAULT_API_URL,
        token=token,
        token_env=AUTH_ENV,
        headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION},
    )
    return GitHub(api, config.vcs.repository)


def for_repository(repository: str, api_url: str = "", *, purpose: str) -> GitHub:
    """A client of ``repository`` (token ``GITHUB_TOKEN``; server ``api_url``, else
    ``GITHUB_API_URL``, else github.com): for commands that need no ``[vcs]`` config."""
    token = secret_from_env(AUTH_ENV, purpose=purpose)
    api = ApiClient(
        provider=PROVIDER,
        base_url=api_url or os.environ.get(BASE_URL_ENV) or DEFAULT_API_URL,
        token=token,
        token_env=AUTH_ENV,
        headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION},
    )
    return GitHub(api, repository)


def vcs_from_config(config: Config) -> GitHub:
    """``[vcs] provider = "github"``."""
    return from_config(config)


def release_notes_from_config(config: Config) -> GitHub:
    """``[notify] release_notes = "github"``."""
    return from_config(config)
