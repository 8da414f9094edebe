"""Class 3 through the deploy workflow, against the GitHub fake: dispatched once (the run
recorded in the ledger), found again after a crash, waited for until the tag's cutover, and a
run that ends without it stops the rollback with the run's address."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectral_deploy.config import Config, VcsConfig
from spectral_deploy.cutover import store
from spectral_deploy.db import Database
from spectral_deploy.errors import CheckFailed
from spectral_deploy.ledger.store import EntryKind, record_intent
from spectral_deploy.providers.base import Color
from spectral_deploy.providers.github import API_VERSION, GitHub
from spectral_deploy.providers.http import ApiClient, Secret
from spectral_deploy.rollback.dispatch import DISPATCH_ACTION, deploy_through_workflow
from spectral_deploy.waiting import WaitProgress
from tests.providers.conftest import FAST_RETRIES, TOKENS, RecordedSleep
from tests.providers.fakes import FakeGitHub

TAG = "v1.3.0-rollback"


def github(fake: FakeGitHub) -> GitHub:
    api = ApiClient(
        provider="github",
        base_url=fake.api_url,
        token=Secret(TOKENS["github"]),
        headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION},
        policy=FAST_RETRIES,
        sleep=RecordedSleep(),
    )
    return GitHub(api, fake.repository)


def config(tmp_path: Path) -> Config:
    vcs = VcsConfig(provider="github", repository="acme/shop", workflow_poll_seconds=0.0)
    return Config(project_root=tmp_path, source="test", vcs=vcs)


def cut_over(database: Database, tag: str = TAG) -> int:
    """The deploy workflow's work, as the ledger records it: a deploy of the tag flipped."""
    with database.connect() as conn, conn.transaction():
        deploy_id = store.insert(
            conn,
            database.schema,
            tag=tag,
            commit="p" * 40,
            from_generation=None,
            from_commit=None,
            blue=Color.GREEN,
            green=Color.BLUE,
            started_by="deploy-prod",
        )
        store.mark_flipped(conn, database.schema, deploy_id, 600)
    return deploy_id


def run(fake: FakeGitHub, database: Database, tmp_path: Path, **options: object) -> object:
    return deploy_through_workflow(
        config(tmp_path),
        database,
        github(fake),
        rollback_id=7,
        deploy_id=None,
        tag=TAG,
        sleep=RecordedSleep(),
        **options,  # type: ignore[arg-type]
    )


def recorded_runs(database: Database) -> list[int]:
    with database.connect() as conn:
        rows = conn.execute(
            "SELECT details->>'run_id' FROM spectral.ledger WHERE action = %s AND outcome = 'ok'",
            (DISPATCH_ACTION,),
        ).fetchall()
    return [int(str(r[0])) for r in rows]


def test_dispatched_on_the_default_branch_and_recorded_once(
    fake_github: FakeGitHub, database: Database, tmp_path: Path
) -> None:
    """One dispatch (ref: the default branch, input: the tag), its run recorded; running the
    step again (a resumed rollback) waits for the same run and dispatches nothing more."""
    deploy_id = cut_over(database)
    deployed = run(fake_github, database, tmp_path)
    assert deployed.id == deploy_id  # type: ignore[attr-defined]
    (dispatch,) = fake_github.dispatches
    assert (dispatch["ref"], dispatch["inputs"]) == ("main", {"tag": TAG})
    assert recorded_runs(database) == list(fake_github.runs)
    run(fake_github, database, tmp_path)
    assert len(fake_github.dispatches) == 1 and len(recorded_runs(database)) == 1


def test_a_run_that_ends_without_the_cutover_stops_the_rollback(
    fake_github: FakeGitHub, database: Database, tmp_path: Path
) -> None:
    """The deploy workflow failed: CheckFailed with the run's address and the way to resume."""
    original = fake_github.queue_run

    def queue_and_fail(*args: object, **kwargs: object) -> int:
        run_id = original(*args, **kwargs)  # type: ignore[arg-type]
        fake_github.finish_run(run_id, "failure")
        return run_id

    fake_github.queue_run = queue_and_fail  # type: ignore[method-assign]
    with pytest.raises(CheckFailed, match=r"ended failure and no deploy of v1\.3\.0-rollback") as e:
        run(fake_github, database, tmp_path)
    assert "/actions/runs/" in e.value.message
    assert "rollback run" in (e.value.hint or "")


def test_a_crash_between_dispatch_and_record_finds_the_run(
    fake_github: FakeGitHub, database: Database, tmp_path: Path
) -> None:
    """The intent is in the ledger, the run was dispatched, its id never recorded: the resumed
    rollback finds the run among the workflow's dispatch runs and does not dispatch again."""
    with database.connect() as conn:
        record_intent(
            conn, database.schema, EntryKind.ROLLBACK, DISPATCH_ACTION, f"rollback:7:dispatch:{TAG}"
        )
        conn.commit()
    existing = fake_github.queue_run("deploy-prod.yml", "workflow_dispatch", "main", {"tag": TAG})
    cut_over(database)
    run(fake_github, database, tmp_path)
    assert fake_github.dispatches == []
    assert recorded_runs(database) == [existing]


def test_an_intent_without_any_run_is_dispatched_again(
    fake_github: FakeGitHub, database: Database, tmp_path: Path
) -> None:
    """The crash came before the dispatch: no run exists, so it is dispatched now."""
    with database.connect() as conn:
        record_intent(
            conn, database.schema, EntryKind.ROLLBACK, DISPATCH_ACTION, f"rollback:7:dispatch:{TAG}"
        )
        conn.commit()
    cut_over(database)
    said: list[str] = []
    run(fake_github, database, tmp_path, say=said.append)
    assert len(fake_github.dispatches) == 1
    assert any("dispatching again" in line for line in said)


def test_a_server_without_run_details_is_followed_through_the_runs_list(
    fake_github: FakeGitHub, database: Database, tmp_path: Path
) -> None:
    """Older GitHub Enterprise Server: the dispatch answers without the run; the run is found
    among the workflow's dispatch runs created since, and waited for."""
    fake_github.fail(
        422, {"message": '"return_run_details" is not a permitted key.'}, path="/dispatches"
    )
    cut_over(database)
    run(fake_github, database, tmp_path)
    assert len(fake_github.dispatches) == 1
    assert recorded_runs(database) == list(fake_github.runs)


def test_waiting_times_out_with_the_same_run_to_resume(
    fake_github: FakeGitHub, database: Database, tmp_path: Path
) -> None:
    """A run still queued after vcs.workflow_timeout_seconds: CheckFailed, resumable."""
    ticks = iter(range(0, 100_000, 1000))
    with pytest.raises(CheckFailed, match="is still queued") as caught:
        run(fake_github, database, tmp_path, clock=lambda: float(next(ticks)))
    assert "waits for the same run" in (caught.value.hint or "")


def test_waiting_for_the_workflow_reports_elapsed_limit_and_the_run(
    fake_github: FakeGitHub, database: Database, tmp_path: Path
) -> None:
    """A long wait for the deploy workflow says which run, elapsed / limit and where to look."""
    seen: list[WaitProgress] = []
    ticks = iter(range(0, 100_000, 1000))
    with pytest.raises(CheckFailed):
        run(fake_github, database, tmp_path, clock=lambda: float(next(ticks)), report=seen.append)
    assert seen
    assert all(p.limit_seconds == config(tmp_path).vcs.workflow_timeout_seconds for p in seen)
    assert "to cut over" in seen[0].what and seen[0].status == "queued"
    assert seen[0].look
