"""The GitHub providers (tags, releases, workflow dispatch) against a local GitHub API."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spectral_deploy.errors import InputError, PreconditionFailed, ProviderError
from spectral_deploy.providers.github import API_VERSION, GitHub, next_page
from spectral_deploy.providers.http import ApiClient, Secret
from tests.providers.conftest import FAST_RETRIES, TOKENS, RecordedSleep
from tests.providers.fakes import FakeGitHub


def github(fake: FakeGitHub, sleep: RecordedSleep | None = None, token: str = TOKENS["github"]):
    api = ApiClient(
        provider="github",
        base_url=fake.api_url,
        token=Secret(token),
        token_env="GITHUB_TOKEN",
        headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION},
        policy=FAST_RETRIES,
        sleep=sleep or RecordedSleep(),
    )
    return GitHub(api, fake.repository)


def test_resolve_lightweight_and_annotated_tags(fake_github: FakeGitHub) -> None:
    """A lightweight tag is its commit; an annotated tag is peeled through its tag object."""
    one, two = fake_github.add_commit("one"), fake_github.add_commit("two")
    fake_github.add_tag("v1.0.0", one, annotated=False)
    fake_github.add_tag("v1.1.0", two, annotated=True)
    gh = github(fake_github)
    assert gh.resolve_tag("v1.0.0") == one
    assert gh.resolve_tag("v1.1.0") == two
    assert [c.path for c in fake_github.calls()][-2:] == [
        "/repos/acme/shop/git/ref/tags/v1.1.0",
        f"/repos/acme/shop/git/tags/{fake_github.refs['refs/tags/v1.1.0']['sha']}",
    ]
    call = fake_github.calls()[0]
    assert call.headers["authorization"] == f"Bearer {TOKENS['github']}"
    assert call.headers["x-github-api-version"] == API_VERSION


def test_unknown_tag_is_an_input_error(fake_github: FakeGitHub) -> None:
    """No such tag: exit 2, naming tag and repository."""
    with pytest.raises(InputError, match=r"no tag v9\.9\.9 in acme/shop"):
        github(fake_github).resolve_tag("v9.9.9")


def test_create_tag_makes_an_annotated_tag_and_is_idempotent(fake_github: FakeGitHub) -> None:
    """A tag object then its ref; creating it again at the same commit does nothing more."""
    prior = fake_github.add_commit("prior")
    gh = github(fake_github)
    gh.create_tag("v1.1.0-rollback", prior, "Rollback of v1.2.0 (Class 3)")
    (tag_object,) = fake_github.calls("POST", r"/git/tags$")
    assert tag_object.json() == {
        "tag": "v1.1.0-rollback",
        "message": "Rollback of v1.2.0 (Class 3)",
        "object": prior,
        "type": "commit",
    }
    assert fake_github.refs["refs/tags/v1.1.0-rollback"]["type"] == "tag"
    assert gh.resolve_tag("v1.1.0-rollback") == prior
    gh.create_tag("v1.1.0-rollback", prior, "again")
    assert len(fake_github.calls("POST")) == 2  # the second call only read


def test_create_tag_refuses_a_tag_at_another_commit(fake_github: FakeGitHub) -> None:
    """An existing tag elsewhere is a precondition failure, never moved."""
    fake_github.add_tag("v1.1.0-rollback", fake_github.add_commit("elsewhere"))
    with pytest.raises(PreconditionFailed, match="already exists"):
        github(fake_github).create_tag("v1.1.0-rollback", fake_github.add_commit("x"), "m")


def test_create_tag_race_ends_in_the_same_tag(fake_github: FakeGitHub) -> None:
    """422 Reference already exists (another run won the race) at the same commit is fine."""
    commit = fake_github.add_commit("prior")
    gh = github(fake_github)
    fake_github.fail(404, {"message": "Not Found"}, path=r"/git/ref/tags/")  # not there yet...
    fake_github.add_tag("v2.0.0-rollback", commit, annotated=False)  # ...then created meanwhile
    gh.create_tag("v2.0.0-rollback", commit, "m")
    assert fake_github.calls("POST", r"/git/refs$")  # tried, got 422, re-read: same commit


def test_tag_names_page_through_every_tag(fake_github: FakeGitHub) -> None:
    """All Link pages are read: every tag is named (a rollback tag must not take one)."""
    commit = fake_github.add_commit("c")
    for minor in range(12):
        fake_github.add_tag(f"v1.{minor}.0", commit, annotated=False)
    fake_github.add_tag("nightly-2024", commit, annotated=False)
    fake_github.max_page_rows = 5
    names = github(fake_github).tag_names()
    assert sorted(names) == sorted([f"v1.{minor}.0" for minor in range(12)] + ["nightly-2024"])
    pages = fake_github.calls("GET", r"/tags$")
    assert [p.arg("page") for p in pages[:3]] == [None, "2", "3"]


def test_next_page_of_link_header() -> None:
    """GitHub's Link header yields its rel=next URL."""
    link = (
        '<https://api.github.com/x?page=2>; rel="next", '
        '<https://api.github.com/x?page=5>; rel="last"'
    )
    assert next_page(link) == "https://api.github.com/x?page=2"
    assert next_page('<https://api.github.com/x?page=1>; rel="prev"') is None


def test_mark_rollback_sets_prerelease_and_appends_the_note_once(fake_github: FakeGitHub) -> None:
    """PATCH prerelease=true and body + note; a second call changes nothing."""
    release_id = fake_github.add_release("v1.2.0", "## Changes\n- faster checkout")
    gh = github(fake_github)
    note = "**Rolled back** (Class 2) at generation 7 -> 6."
    gh.mark_rollback("v1.2.0", note)
    release = fake_github.releases[release_id]
    assert release["prerelease"] is True
    assert release["body"] == f"## Changes\n- faster checkout\n\n{note}\n"
    gh.mark_rollback("v1.2.0", note)
    assert len(fake_github.calls("PATCH")) == 1


def test_mark_rollback_without_a_release_does_nothing(fake_github: FakeGitHub) -> None:
    """The runbook updates the Release only if it was created."""
    github(fake_github).mark_rollback("v1.2.0", "note")
    assert fake_github.calls("PATCH") == []


def test_dispatch_workflow_returns_its_run(fake_github: FakeGitHub) -> None:
    """POST .../dispatches with ref, inputs and return_run_details: the run comes back (200,
    GitHub's API since February 2026) and is read by id."""
    run = github(fake_github).dispatch_workflow("deploy-prod.yml", "main", {"tag": "v1-rollback"})
    (dispatch,) = fake_github.dispatches
    assert dispatch == {
        "workflow": "deploy-prod.yml",
        "ref": "main",
        "inputs": {"tag": "v1-rollback"},
        "return_run_details": True,
    }
    assert run is not None and (run.status, run.event) == ("queued", "workflow_dispatch")
    assert run.html_url.endswith(f"/actions/runs/{run.id}")
    fake_github.next_run()
    fake_github.finish_run(run.id, "success")
    done = github(fake_github).workflow_run(run.id)
    assert done.completed and done.conclusion == "success"


def test_an_older_server_without_run_details_is_asked_again_and_the_run_found(
    fake_github: FakeGitHub,
) -> None:
    """GitHub Enterprise Server before the parameter answers 422 naming it: the dispatch is
    sent again without it (204), and the run is found among the workflow's dispatch runs."""
    fake_github.fail(
        422,
        {"message": 'Invalid request. "return_run_details" is not a permitted key.'},
        path="/dispatches",
    )
    gh = github(fake_github)
    started = datetime.now(UTC)
    assert gh.dispatch_workflow("deploy-prod.yml", "main", {"tag": "v1"}) is None
    assert len(fake_github.dispatches) == 1
    found = gh.dispatched_run("deploy-prod.yml", started)
    assert found is not None and found.event == "workflow_dispatch"
    assert gh.default_branch() == "main"


def test_a_tag_created_with_a_token_starts_a_push_run_unless_it_is_the_actions_token(
    fake_github: FakeGitHub,
) -> None:
    """The fake is as strict as GitHub: creating v1.1.0-rollback with a person's token queues
    a push run of deploy-prod.yml; created with a run's own GITHUB_TOKEN, it starts none."""
    commit = fake_github.add_commit("prior")
    github(fake_github).create_tag("v1.1.0-rollback", commit, "rollback")
    (run,) = fake_github.runs.values()
    assert (run["event"], run["head_branch"]) == ("push", "v1.1.0-rollback")
    fake_github.actions_token = "ghs_" + "x" * 36
    github(fake_github, token=fake_github.actions_token).create_tag("v1.2.0", commit, "release")
    assert len(fake_github.runs) == 1


def test_dispatch_is_not_repeated_after_a_5xx(fake_github: FakeGitHub) -> None:
    """A 502 on the dispatch is reported, not retried: a second run would deploy twice."""
    fake_github.add_tag("v1", fake_github.add_commit("p"))
    fake_github.fail(502, b"Bad Gateway", path="/dispatches")
    with pytest.raises(ProviderError, match=r"dispatch workflow \(HTTP 502\)"):
        github(fake_github).dispatch_workflow("deploy-prod.yml", "v1", {})
    assert fake_github.dispatches == [] and fake_github.runs == {}


def test_rate_limit_403_waits_for_the_reset(fake_github: FakeGitHub) -> None:
    """403 with x-ratelimit-remaining 0 is a rate limit: wait, then succeed."""
    fake_github.add_tag("v1", fake_github.add_commit("p"), annotated=False)
    fake_github.fail(
        403,
        {"message": "API rate limit exceeded"},
        headers={"x-ratelimit-remaining": "0", "retry-after": "2"},
    )
    sleep = RecordedSleep()
    assert github(fake_github, sleep).resolve_tag("v1")
    assert sleep.waits == [2.0]


def test_429_5xx_401_and_malformed(fake_github: FakeGitHub) -> None:
    """429 and 5xx are retried on GET; 401 says Bad credentials; malformed JSON is reported."""
    fake_github.add_tag("v1", fake_github.add_commit("p"), annotated=False)
    fake_github.fail(429, {"message": "slow down"}, headers={"Retry-After": "1"})
    fake_github.fail(500, {"message": "boom"})
    assert github(fake_github).resolve_tag("v1")
    with pytest.raises(ProviderError) as caught:
        github(fake_github, token="github_pat_wrong_000000").resolve_tag("v1")
    assert str(caught.value) == "github resolve tag (HTTP 401): Bad credentials"
    fake_github.malformed()
    with pytest.raises(ProviderError, match="malformed JSON"):
        github(fake_github).resolve_tag("v1")


def test_repository_must_be_owner_slash_name(fake_github: FakeGitHub) -> None:
    """vcs.repository is checked before any call."""
    with pytest.raises(InputError, match="OWNER/NAME"):
        GitHub(github(fake_github).api, "shop")
