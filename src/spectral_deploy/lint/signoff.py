"""Reviewer signoff of override markers: the runbook's "override files require explicit
reviewer signoff", enforced on a GitHub pull request (``lint --require-signoff PR``).

Every file of the change set that carries an override (a marker that covers findings or
not) needs one of:

- an approving review, on the pull request's current head commit, by a code owner of the
  file: the owners of the last CODEOWNERS line that matches it, read from the *base*
  branch (a pull request cannot make its author an owner by editing CODEOWNERS); a team
  owner counts when the token can see the reviewer is a member;
- the signoff label on the pull request, applied by someone other than its author.

A review is each reviewer's latest approving, change-requesting or dismissed review
(comments do not change it); an approval of an older commit does not count, as with
GitHub's "dismiss stale approvals". ``decide`` is pure and takes what ``read_evidence``
read from git and GitHub.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spectral_deploy.errors import InputError, PreconditionFailed
from spectral_deploy.lint.violation import Report, Signoff

if TYPE_CHECKING:
    from spectral_deploy.config import Config

__all__ = [
    "CODEOWNERS_PATHS",
    "DEFAULT_LABEL",
    "Evidence",
    "PullRequest",
    "Review",
    "decide",
    "owners_of",
    "require_signoff",
]

DEFAULT_LABEL = "compat-breaking-approved"
# where GitHub looks for CODEOWNERS, in its order
CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
GIT_TIMEOUT_SECONDS = 30
_DECISIVE = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})


@dataclass(frozen=True)
class PullRequest:
    """The pull request as GitHub reports it now."""

    number: int
    author: str
    head_sha: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Review:
    """One submitted review, in the order GitHub lists them (oldest first)."""

    login: str
    state: str
    commit_id: str


@dataclass(frozen=True)
class Evidence:
    """Everything the decision reads."""

    pull: PullRequest
    reviews: tuple[Review, ...]
    label_actors: Mapping[str, str]  # label -> who applied it last
    codeowners: str | None  # CODEOWNERS on the base branch, None when there is none


TeamCheck = Callable[[str, str], bool | None]  # (team "@org/slug", login) -> member?


def owners_of(codeowners: str, path: str) -> tuple[str, ...]:
    """The owners of ``path`` (repository-relative): the last matching line's, GitHub's rule."""
    owners: tuple[str, ...] = ()
    for raw in codeowners.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        pattern, *names = line.split()
        if _pattern(pattern).match(path):
            owners = tuple(names)
    return owners


def _pattern(pattern: str) -> re.Pattern[str]:
    """A CODEOWNERS (gitignore-style) pattern as a regex over repository-relative paths."""
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    directory = pattern.endswith("/")
    body = pattern.strip("/")
    parts = []
    index = 0
    while index < len(body):
        if body.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif body.startswith("**", index):
            parts.append(".*")
            index += 2
        elif body[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif body[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(body[index]))
            index += 1
    prefix = "" if anchored else "(?:.*/)?"
    last = body.rsplit("/", 1)[-1]
    wildcard = ("*" in last or "?" in last) and last != "**"
    # a directory's whole subtree; "docs/*" only the files right in docs/ (GitHub's rule)
    suffix = "/.*" if directory else ("" if wildcard else "(?:/.*)?")
    return re.compile(f"^{prefix}{''.join(parts)}{suffix}$")


def decide(
    paths: Sequence[str], evidence: Evidence, label: str, is_member: TeamCheck
) -> dict[str, Signoff]:
    """For each overridden file (repository-relative), whether it is signed off, and how."""
    pull = evidence.pull
    latest: dict[str, Review] = {}
    for review in evidence.reviews:
        if review.state in _DECISIVE:
            latest[review.login.lower()] = review
    approvals = [r for r in latest.values() if r.state == "APPROVED"]
    labelled_by = evidence.label_actors.get(label) if label in pull.labels else None
    results = {}
    for path in paths:
        owners = owners_of(evidence.codeowners or "", path)
        by = _owner_approval(owners, approvals, pull, is_member)
        if by is not None:
            results[path] = Signoff(True, f"approved by @{by}, a code owner of {path}")
        elif labelled_by is not None and labelled_by.lower() != pull.author.lower():
            results[path] = Signoff(True, f"label '{label}' added by @{labelled_by}")
        else:
            why = _missing(
                path,
                owners,
                approvals,
                evidence,
                label=label,
                labelled_by=labelled_by,
                is_member=is_member,
            )
            results[path] = Signoff(False, why)
    return results


def _owner_approval(
    owners: Iterable[str], approvals: Sequence[Review], pull: PullRequest, is_member: TeamCheck
) -> str | None:
    for review in approvals:
        if review.commit_id != pull.head_sha or review.login.lower() == pull.author.lower():
            continue
        for owner in owners:
            name = owner.removeprefix("@")
            if "/" in name and is_member(owner, review.login):
                return review.login
            if name.lower() == review.login.lower():
                return review.login
    return None


def _missing(
    path: str,
    owners: Sequence[str],
    approvals: Sequence[Review],
    evidence: Evidence,
    *,
    label: str,
    labelled_by: str | None,
    is_member: TeamCheck,
) -> str:
    """Why ``path`` is not signed off, and what would sign it off."""
    pull = evidence.pull
    head = pull.head_sha[:7]
    if evidence.codeowners is None:
        asks = [f"no CODEOWNERS on the base branch names owners for {path}"]
    elif not owners:
        asks = [f"no CODEOWNERS line on the base branch covers {path}"]
    else:
        asks = [f"an approval on {head} from a code owner of {path} ({', '.join(owners)})"]
    for review in approvals:
        if review.commit_id != pull.head_sha and any(
            o.removeprefix("@").lower() == review.login.lower() for o in owners
        ):
            asks.append(f"@{review.login} approved an older commit ({review.commit_id[:7]})")
    for owner in owners:
        if "/" in owner and any(is_member(owner, r.login) is None for r in approvals):
            asks.append(f"this token cannot see who is in {owner}")
    if labelled_by is not None and labelled_by.lower() == pull.author.lower():
        asks.append(f"the label '{label}' was added by the author, which does not count")
    else:
        asks.append(f"or the label '{label}' added by someone other than the author")
    return "not signed off: needs " + "; ".join(asks)


def require_signoff(
    report: Report, *, pull_request: int, base: str, label: str, cwd: Path, config: Config
) -> Report:
    """The report with each override's signoff decided from git and GitHub."""
    if not report.overrides:
        return report
    root = Path((_git(["rev-parse", "--show-toplevel"], cwd) or "").strip())
    merge_base = (_git(["merge-base", base, "HEAD"], cwd) or "").strip()
    relative = {
        o.path: os.path.relpath((cwd / o.path).resolve(), root.resolve()).replace(os.sep, "/")
        for o in report.overrides
    }
    codeowners = _codeowners(merge_base, root)
    github = _github(config)
    try:
        evidence = read_evidence(github, pull_request, codeowners)
        decisions = decide(
            sorted(set(relative.values())),
            evidence,
            label,
            github.team_member,
        )
    finally:
        github.api.close()
    overrides = tuple(o._replace(signoff=decisions[relative[o.path]]) for o in report.overrides)
    return report._replace(overrides=overrides)


def read_evidence(github: Any, number: int, codeowners: str | None) -> Evidence:
    """What GitHub says of the pull request now (``github``: a ``providers.github.GitHub``)."""
    data = github.pull_request(number)
    labels = tuple(str(item.get("name", "")) for item in data.get("labels") or ())
    pull = PullRequest(
        number,
        str((data.get("user") or {}).get("login", "")),
        str((data.get("head") or {}).get("sha", "")),
        labels,
    )
    reviews = tuple(
        Review(
            str((item.get("user") or {}).get("login", "")),
            str(item.get("state", "")),
            str(item.get("commit_id", "")),
        )
        for item in github.pull_reviews(number)
    )
    actors: dict[str, str] = {}
    for event in github.issue_events(number):
        if event.get("event") == "labeled":
            name = str((event.get("label") or {}).get("name", ""))
            actors[name] = str((event.get("actor") or {}).get("login", ""))
    return Evidence(pull, reviews, actors, codeowners)


def _github(config: Config) -> Any:
    from spectral_deploy.providers.github import for_repository  # noqa: PLC0415 - network only here

    repository = os.environ.get("GITHUB_REPOSITORY") or config.vcs.repository
    if not repository:
        raise InputError(
            "--require-signoff needs the repository (GITHUB_REPOSITORY, set by GitHub "
            "Actions, or [vcs] repository)",
            hint="export GITHUB_REPOSITORY=OWNER/NAME",
        )
    return for_repository(
        repository,
        config.vcs.api_url,
        purpose="a GitHub token that can read the pull request (pull-requests: read)",
    )


def _codeowners(commit: str, root: Path) -> str | None:
    """CODEOWNERS as the base commit has it (GitHub's first location that exists)."""
    for path in CODEOWNERS_PATHS:
        text = _git(["show", f"{commit}:{path}"], root, missing_ok=True)
        if text is not None:
            return text
    return None


def _git(args: list[str], cwd: Path, *, missing_ok: bool = False) -> str | None:
    import subprocess  # noqa: PLC0415 - only --require-signoff needs it

    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PreconditionFailed(f"git {args[0]} failed: {exc}") from exc
    if result.returncode != 0:
        if missing_ok:
            return None
        detail = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"
        raise InputError(f"git {args[0]}: {detail}")
    return str(result.stdout)
