"""GitHub's REST API, the part the GitHub providers use: git refs and tags, tags list
(paginated with ``Link`` headers), Releases by tag, workflow dispatches and workflow runs,
and pull requests with their reviews, issue events and team memberships (the lint's
override signoff).

Workflows behave as GitHub's do: creating a tag ref that a workflow's ``on.push.tags``
pattern matches queues a ``push`` run of it, unless the token is the workflow's own
``GITHUB_TOKEN`` (``actions_token``: "events triggered by the GITHUB_TOKEN ... will not create
a new workflow run"). A dispatch queues a ``workflow_dispatch`` run; with
``return_run_details: true`` it answers 200 with the run's id and URLs (GitHub's 2026 API),
without it 204. Runs are read back (``GET .../actions/runs/{id}``, the workflow's runs list
filtered by ``event``); a test plays the runner with ``next_run`` and ``finish_run``.

Errors are GitHub's ``{"message", "documentation_url"}``: 401 ``Bad credentials``,
404 ``Not Found``, 422 ``Reference already exists``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
from datetime import UTC, datetime
from typing import Any

from tests.providers.fakes.base import FakeServer, Recorded, Reply, route

__all__ = ["FakeGitHub"]

DOCS = "https://docs.github.com/rest"


def _sha(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"message": message, "documentation_url": DOCS, "status": str(status)})


class FakeGitHub(FakeServer):
    """One repository."""

    provider = "github"

    def __init__(self, token: str, *, repository: str = "acme/shop", page_rows: int = 30) -> None:
        super().__init__(token)
        self.repository = repository
        self.page_rows = page_rows  # GitHub's default per_page; per_page overrides
        self.max_page_rows = 100  # GitHub's cap on per_page; lower it to force pages
        self.commits: set[str] = set()
        self.refs: dict[str, dict[str, str]] = {}  # "refs/tags/v1" -> {"type", "sha"}
        self.tag_objects: dict[str, dict[str, Any]] = {}
        self.releases: dict[int, dict[str, Any]] = {}
        # workflow file -> the tag patterns of its on.push.tags
        self.workflows: dict[str, tuple[str, ...]] = {"deploy-prod.yml": ("v*",)}
        self.dispatches: list[dict[str, Any]] = []
        self.runs: dict[int, dict[str, Any]] = {}
        self.default_branch = "main"
        self.actions_token: str | None = None  # GITHUB_TOKEN inside a run: triggers nothing
        self._release_ids = itertools.count(1001)
        self._run_ids = itertools.count(7001)
        self.pulls: dict[int, dict[str, Any]] = {}
        self.reviews: dict[int, list[dict[str, Any]]] = {}
        self.events: dict[int, list[dict[str, Any]]] = {}
        self.teams: dict[str, set[str]] = {}  # "org/slug" -> members
        self.visible_teams: set[str] = set()  # the teams the token may read

    def authorized(self, request: Recorded) -> bool:
        token = request.headers.get("authorization")
        return token == f"Bearer {self.token}" or (
            self.actions_token is not None and token == f"Bearer {self.actions_token}"
        )

    # --- the runner's side ---------------------------------------------------------------

    def queue_run(self, workflow: str, event: str, ref: str, inputs: dict[str, Any]) -> int:
        """A run of ``workflow`` waiting for a runner; returns its id."""
        run_id = next(self._run_ids)
        self.runs[run_id] = {
            "id": run_id,
            "name": workflow.removesuffix(".yml"),
            "path": f".github/workflows/{workflow}",
            "event": event,
            "head_branch": ref,
            "status": "queued",
            "conclusion": None,
            "inputs": dict(inputs),
            "created_at": _now(),
            "updated_at": _now(),
            "html_url": f"https://github.com/{self.repository}/actions/runs/{run_id}",
            "url": f"{self.url}/repos/{self.repository}/actions/runs/{run_id}",
        }
        return run_id

    def next_run(self, workflow: str | None = None) -> dict[str, Any] | None:
        """The oldest queued run (of ``workflow``), now in progress, as a runner picks it."""
        with self.lock:
            for run in sorted(self.runs.values(), key=lambda r: r["id"]):
                if run["status"] == "queued" and workflow in (None, run["path"].rsplit("/")[-1]):
                    run["status"], run["updated_at"] = "in_progress", _now()
                    return dict(run)
        return None

    def finish_run(self, run_id: int, conclusion: str) -> None:
        """The runner finished a run (success, failure, cancelled ...)."""
        with self.lock:
            run = self.runs[run_id]
            run["status"], run["conclusion"], run["updated_at"] = "completed", conclusion, _now()

    @property
    def api_url(self) -> str:
        """What ``vcs.api_url`` (or ``GITHUB_API_URL``) should be."""
        return self.url

    # --- seeding ---------------------------------------------------------------------------

    def add_commit(self, label: str) -> str:
        """A commit sha for ``label``."""
        sha = _sha("commit", label)
        self.commits.add(sha)
        return sha

    def add_tag(self, name: str, commit: str, *, annotated: bool = True) -> None:
        """A lightweight or annotated tag (an annotated one points at a tag object)."""
        self.commits.add(commit)
        if annotated:
            sha = self._tag_object(name, f"release {name}", commit, "commit")
            self.refs[f"refs/tags/{name}"] = {"type": "tag", "sha": sha}
        else:
            self.refs[f"refs/tags/{name}"] = {"type": "commit", "sha": commit}

    def add_release(self, tag: str, body: str = "", *, prerelease: bool = False) -> int:
        """A published Release of ``tag``; returns its id."""
        release_id = next(self._release_ids)
        self.releases[release_id] = {
            "id": release_id,
            "tag_name": tag,
            "name": tag,
            "body": body,
            "draft": False,
            "prerelease": prerelease,
            "html_url": f"https://github.com/{self.repository}/releases/tag/{tag}",
        }
        return release_id

    def add_pull(self, number: int, author: str, head: str, labels: tuple[str, ...] = ()) -> None:
        """An open pull request."""
        self.pulls[number] = {
            "number": number,
            "user": {"login": author},
            "head": {"sha": head},
            "labels": [{"name": name} for name in labels],
        }
        self.reviews.setdefault(number, [])
        self.events.setdefault(number, [])

    def add_review(self, number: int, login: str, state: str, commit: str) -> None:
        """A submitted review (APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED)."""
        reviews = self.reviews[number]
        reviews.append(
            {"id": len(reviews) + 1, "user": {"login": login}, "state": state, "commit_id": commit}
        )

    def add_label(self, number: int, name: str, actor: str) -> None:
        """``actor`` labels the pull request."""
        labels = self.pulls[number]["labels"]
        if name not in [label["name"] for label in labels]:
            labels.append({"name": name})
        self.events[number].append(
            {"event": "labeled", "actor": {"login": actor}, "label": {"name": name}}
        )

    def _tag_object(self, tag: str, message: str, target: str, kind: str) -> str:
        sha = _sha("tag", tag, message, target)
        self.tag_objects[sha] = {
            "sha": sha,
            "tag": tag,
            "message": message,
            "object": {"sha": target, "type": kind},
        }
        return sha

    # --- vendor behaviour ------------------------------------------------------------------

    def unauthorized(self, request: Recorded) -> Reply:
        return _error(401, "Bad credentials")

    def not_found(self, request: Recorded) -> Reply:
        return _error(404, "Not Found")

    def _repo(self, owner: str, repo: str) -> bool:
        return f"{owner}/{repo}" == self.repository

    # --- routes ----------------------------------------------------------------------------

    @route("GET", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/git/ref/tags/(?P<tag>.+)")
    def get_ref(self, request: Recorded, owner: str, repo: str, tag: str) -> Reply:
        ref = self.refs.get(f"refs/tags/{tag}")
        if not self._repo(owner, repo) or ref is None:
            return self.not_found(request)
        return Reply(200, {"ref": f"refs/tags/{tag}", "object": dict(ref)})

    @route("GET", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/git/tags/(?P<sha>[0-9a-f]+)")
    def get_tag_object(self, request: Recorded, owner: str, repo: str, sha: str) -> Reply:
        found = self.tag_objects.get(sha)
        return Reply(200, found) if found and self._repo(owner, repo) else self.not_found(request)

    @route("POST", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/git/tags")
    def create_tag_object(self, request: Recorded, owner: str, repo: str) -> Reply:
        body = request.json()
        if body.get("object") not in self.commits:
            return _error(422, "Object does not exist")
        sha = self._tag_object(body["tag"], body["message"], body["object"], body["type"])
        return Reply(201, self.tag_objects[sha])

    @route("POST", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/git/refs")
    def create_ref(self, request: Recorded, owner: str, repo: str) -> Reply:
        body = request.json()
        ref, sha = body.get("ref", ""), body.get("sha", "")
        if ref in self.refs:
            return _error(422, "Reference already exists")
        if sha in self.tag_objects:
            self.refs[ref] = {"type": "tag", "sha": sha}
        elif sha in self.commits:
            self.refs[ref] = {"type": "commit", "sha": sha}
        else:
            return _error(422, "Object does not exist")
        by_actions = request.headers.get("authorization") == f"Bearer {self.actions_token}"
        if ref.startswith("refs/tags/") and not by_actions:
            tag = ref.removeprefix("refs/tags/")
            for workflow, patterns in self.workflows.items():
                if any(fnmatch.fnmatchcase(tag, pattern) for pattern in patterns):
                    self.queue_run(workflow, "push", tag, {})
        return Reply(201, {"ref": ref, "object": dict(self.refs[ref])})

    @route("GET", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/tags")
    def list_tags(self, request: Recorded, owner: str, repo: str) -> Reply:
        per_page = min(int(request.arg("per_page") or self.page_rows), self.max_page_rows)
        page = int(request.arg("page") or 1)
        names = sorted((r.removeprefix("refs/tags/") for r in self.refs), reverse=True)
        chunk = names[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(names):
            base = f"{self.url}/repos/{self.repository}/tags?per_page={per_page}"
            last = -(-len(names) // per_page)
            headers["Link"] = (
                f'<{base}&page={page + 1}>; rel="next", <{base}&page={last}>; rel="last"'
            )
        body = [{"name": name, "commit": {"sha": self._peel(name)}} for name in chunk]
        return Reply(200, body, headers)

    def _peel(self, tag: str) -> str:
        ref = self.refs[f"refs/tags/{tag}"]
        while ref["type"] == "tag":
            ref = self.tag_objects[ref["sha"]]["object"]
        return ref["sha"]

    @route("GET", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/releases/tags/(?P<tag>.+)")
    def release_by_tag(self, request: Recorded, owner: str, repo: str, tag: str) -> Reply:
        found = next((r for r in self.releases.values() if r["tag_name"] == tag), None)
        return Reply(200, found) if found else self.not_found(request)

    @route("PATCH", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/releases/(?P<release_id>\d+)")
    def update_release(self, request: Recorded, owner: str, repo: str, release_id: str) -> Reply:
        found = self.releases.get(int(release_id))
        if found is None:
            return self.not_found(request)
        for key in ("body", "prerelease", "name", "draft"):
            if key in (body := request.json()):
                found[key] = body[key]
        return Reply(200, found)

    @route(
        "POST",
        r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/workflows/(?P<workflow>[^/]+)/dispatches",
    )
    def dispatch(self, request: Recorded, owner: str, repo: str, workflow: str) -> Reply:
        if workflow not in self.workflows:
            return self.not_found(request)
        body = request.json()
        ref = body.get("ref", "")
        if f"refs/tags/{ref}" not in self.refs and ref != self.default_branch:
            return _error(422, f"No ref found for: {ref}")
        self.dispatches.append({"workflow": workflow, **body})
        run_id = self.queue_run(workflow, "workflow_dispatch", ref, body.get("inputs") or {})
        if body.get("return_run_details") is True:
            run = self.runs[run_id]
            return Reply(
                200,
                {"workflow_run_id": run_id, "run_url": run["url"], "html_url": run["html_url"]},
            )
        return Reply(204)

    @route("GET", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)")
    def get_repository(self, request: Recorded, owner: str, repo: str) -> Reply:
        if not self._repo(owner, repo):
            return self.not_found(request)
        return Reply(200, {"full_name": self.repository, "default_branch": self.default_branch})

    @route("GET", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/runs/(?P<run_id>\d+)")
    def get_run(self, request: Recorded, owner: str, repo: str, run_id: str) -> Reply:
        run = self.runs.get(int(run_id))
        if run is None or not self._repo(owner, repo):
            return self.not_found(request)
        return Reply(200, {k: v for k, v in run.items() if k != "inputs"})

    @route(
        "GET",
        r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/workflows/(?P<workflow>[^/]+)/runs",
    )
    def list_runs(self, request: Recorded, owner: str, repo: str, workflow: str) -> Reply:
        if workflow not in self.workflows or not self._repo(owner, repo):
            return self.not_found(request)
        event = request.arg("event")
        created = request.arg("created") or ""
        since = created.removeprefix(">=") if created.startswith(">=") else None
        runs = [
            {k: v for k, v in run.items() if k != "inputs"}
            for run in sorted(self.runs.values(), key=lambda r: -r["id"])
            if run["path"].endswith(f"/{workflow}")
            and (event is None or run["event"] == event)
            and (since is None or run["created_at"] >= since)
        ]
        return Reply(200, {"total_count": len(runs), "workflow_runs": runs})

    @route("GET", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/pulls/(?P<number>\d+)")
    def get_pull(self, request: Recorded, owner: str, repo: str, number: str) -> Reply:
        pull = self.pulls.get(int(number))
        if not self._repo(owner, repo) or pull is None:
            return self.not_found(request)
        return Reply(200, pull)

    @route("GET", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/pulls/(?P<number>\d+)/reviews")
    def list_reviews(self, request: Recorded, owner: str, repo: str, number: str) -> Reply:
        if not self._repo(owner, repo) or int(number) not in self.pulls:
            return self.not_found(request)
        return self._page(request, self.reviews[int(number)])

    @route("GET", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/issues/(?P<number>\d+)/events")
    def list_events(self, request: Recorded, owner: str, repo: str, number: str) -> Reply:
        if not self._repo(owner, repo) or int(number) not in self.pulls:
            return self.not_found(request)
        return self._page(request, self.events[int(number)])

    @route("GET", r"/orgs/(?P<org>[^/]+)/teams/(?P<slug>[^/]+)/memberships/(?P<login>[^/]+)")
    def membership(self, request: Recorded, org: str, slug: str, login: str) -> Reply:
        team = f"{org}/{slug}"
        if team not in self.visible_teams or login not in self.teams.get(team, set()):
            return self.not_found(request)  # GitHub: not a member, or not visible
        return Reply(200, {"state": "active", "role": "member"})

    def _page(self, request: Recorded, items: list[dict[str, Any]]) -> Reply:
        per_page = min(int(request.arg("per_page") or self.page_rows), self.max_page_rows)
        page = int(request.arg("page") or 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            headers["Link"] = (
                f'<{self.url}{request.path}?per_page={per_page}&page={page + 1}>; rel="next"'
            )
        return Reply(200, chunk, headers)
