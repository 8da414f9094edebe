"""The drain's preflight and report logic (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from spectral_deploy.errors import GenerationRefused, PreconditionFailed
from spectral_deploy.ledger.generations import Generation, GenerationState
from spectral_deploy.outbox.drain import (
    BlockedKey,
    DrainMode,
    DrainReport,
    Preflight,
    TopicBacklog,
    check_adopt_target,
    check_preconditions,
)
from spectral_deploy.outbox.status import WorkerRow
from spectral_deploy.outbox.store import WorkerState

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def worker(generation: int = 8) -> WorkerRow:
    return WorkerRow(
        id=uuid4(),
        generation=generation,
        host="web-1",
        pid=4242,
        app="shop.handlers:handlers",
        state=WorkerState.RUNNING,
        live=True,
        concurrency=1,
        started_at=NOW,
        heartbeat_at=NOW,
        heartbeat_age_seconds=0.5,
        stopped_at=None,
        last_error=None,
    )


def plan(*topics: TopicBacklog, workers: tuple[WorkerRow, ...] = ()) -> Preflight:
    return Preflight(
        generation=8,
        known=True,
        tag="v1.8.0",
        state="failed",
        topics=topics,
        live_workers=workers,
        active_generation=7,
    )


def test_unhandled_topics_are_those_with_work_and_no_handler() -> None:
    """Only topics with unfinished rows count; dead-only topics are not 'unhandled'."""
    preflight = plan(
        TopicBacklog("a", 3, 1, 0, 10.0),
        TopicBacklog("b", 0, 0, 2, None),
        TopicBacklog("c", 5, 0, 0, 30.0),
    )
    assert [t.topic for t in preflight.unhandled(frozenset({"a"}))] == ["c"]
    assert preflight.unfinished == 9
    assert preflight.dead == 2
    assert preflight.oldest_pending_age_seconds == 30.0


def test_live_workers_refuse_unless_forced() -> None:
    """A live worker of G is a failed precondition naming it; --force lets it pass."""
    preflight = plan(TopicBacklog("a", 1, 0, 0, 1.0), workers=(worker(),))
    with pytest.raises(PreconditionFailed, match="web-1:4242") as caught:
        check_preconditions(preflight, force=False)
    assert caught.value.hint is not None and "--force" in caught.value.hint
    check_preconditions(preflight, force=True)
    check_preconditions(plan(TopicBacklog("a", 1, 0, 0, 1.0)), force=False)


def test_rows_left_counts_unfinished_and_dead() -> None:
    """A drain is done only when G has no pending, in-flight or dead rows."""
    report = DrainReport(
        mode=DrainMode.PROCESS,
        generation=8,
        to_generation=None,
        remaining=(TopicBacklog("a", 0, 0, 0, None), TopicBacklog("b", 1, 0, 2, 5.0)),
    )
    assert report.rows_left == 3
    assert [t["topic"] for t in report.as_json()["remaining"]] == ["b"]


def generation_record(state: GenerationState) -> Generation:
    return Generation(
        generation=3,
        tag="v1.2.0",
        commit_sha="abc",
        state=state,
        allocated_by="test",
        allocated_at=NOW,
        activated_at=None,
        retired_at=None,
    )


@pytest.mark.parametrize(
    ("record", "refused"),
    [
        (None, "does not exist"),
        (generation_record(GenerationState.FAILED), "failed"),
        (generation_record(GenerationState.ACTIVE), None),
        (generation_record(GenerationState.RETIRED), None),
        (generation_record(GenerationState.ALLOCATED), None),
    ],
    ids=["missing", "failed", "active", "retired", "allocated"],
)
def test_adopt_targets_that_do_not_exist_or_failed_are_refused(
    record: Generation | None, refused: str | None
) -> None:
    """Exit 3 (GenerationRefused) naming why and --force; --force lets any target through."""
    if refused is None:
        check_adopt_target(record, 3, force=False)
    else:
        with pytest.raises(GenerationRefused, match=refused) as caught:
            check_adopt_target(record, 3, force=False)
        assert caught.value.exit_code == 3
        assert caught.value.hint is not None and "--force" in caught.value.hint
    check_adopt_target(record, 3, force=True)


def test_a_blocked_key_says_what_blocks_it() -> None:
    """Behind a topic without a handler here, or behind another generation's row."""
    here = BlockedKey(key="c-7", rows=2, blocker_id=41, blocker_generation=8, blocker_topic="x")
    there = BlockedKey(key="c-7", rows=1, blocker_id=40, blocker_generation=9, blocker_topic="y")
    assert here.describe(8) == (
        "2 row(s) of key 'c-7' wait behind row 41 (topic 'x', no handler for it here)"
    )
    assert "generation 9: drain that generation first" in there.describe(8)
    report = DrainReport(mode=DrainMode.PROCESS, generation=8, to_generation=None, blocked=(here,))
    assert report.as_json()["blocked"] == [here.as_json()]
