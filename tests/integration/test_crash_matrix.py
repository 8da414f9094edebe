"""The crash matrix: every crash point of the deployer and the rollback runner, times every
command an operator may type next, with a second crash during that command; then the
operator follows ``status``'s critical advice. Every case must end with the record at a
running, healthy slot, exactly one generation live, no rows without live workers, a ledger
that tells what happened, and no command having claimed what it did not observe.

The world is ``providers.fake`` on the real PostgreSQL; each case starts from a saved state
(the rows and the world), so a case costs its own commands only. Each follow-up runs twice:
to its end, then killed at one of the crash points that first run passed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spectral_deploy.cutover.steps import StepFailed
from spectral_deploy.db import Database
from spectral_deploy.errors import SpectralError
from spectral_deploy.rollback.classify import Symptom
from tests.integration.fakeworld import (
    Operator,
    PooledDatabase,
    SavedState,
    SimulatedCrash,
    check_abort_claims,
    check_status_claims,
    crash_at,
    invariants,
    restore_state,
    save_state,
)

FOLLOW_UPS = (
    "deploy resume",
    "deploy abort",
    "rollback run --symptom behavior",
    "rollback run --symptom data",
    "rollback run --symptom migration",
    "rollback run --symptom catastrophic",
    "status",
)


@dataclass(frozen=True)
class Scenario:
    """From the base state (v1.0.0 live on blue): ``prepare``, then ``command`` crashes at
    each of its crash points (``nested``: only these of the points of a deploy it runs)."""

    name: str
    prepare: Callable[[Operator], None]
    command: Callable[[Operator], Any]
    nested: frozenset[str] | None = None

    def crashes_at(self, point: str) -> bool:
        """Whether the matrix crashes the command at ``point``."""
        own = not point.startswith("step-") and point != "flip:dns-changed"
        return self.nested is None or own or point in self.nested


# a Class 3 rollback runs a whole deploy: its points are every deploy's (the first scenario
# has them all); here the ones at the edges of what the deploy changes
NESTED_DEPLOY_POINTS = frozenset(
    {
        "step-1:start",
        "step-5:done",
        "step-9:done",
        "step-10:done",
        "flip:dns-changed",
        "step-11:done",
    }
)


def _nothing(operator: Operator) -> None:
    return None


def _failing_deploy(operator: Operator) -> None:
    """v2.0.0's workers never reach running: the deploy stops at step 9, with the row its
    smoke test wrote at generation 2 and nobody to handle it."""
    operator.world.workers_start = False
    with pytest.raises(StepFailed):
        operator.deploy("v2.0.0")
    operator.world.workers_start = True


def _cut_over(operator: Operator) -> None:
    """v2.0.0 live on green in its hold window, public traffic written at generation 2."""
    operator.deploy("v2.0.0")
    for _ in range(3):
        operator.world.public_request()


SCENARIOS = (
    Scenario("deploy v2.0.0", _nothing, lambda op: op.deploy("v2.0.0")),
    Scenario("deploy abort after step 9 failed", _failing_deploy, lambda op: op.abort()),
    Scenario(
        "rollback run (class 1) after step 9 failed",
        _failing_deploy,
        lambda op: op.rollback_run(None),
    ),
    Scenario("deploy finish", _cut_over, lambda op: op.finish()),
    Scenario(
        "rollback run --symptom behavior (class 2)",
        _cut_over,
        lambda op: op.rollback_run(Symptom.BEHAVIOR),
    ),
    Scenario(
        "rollback run --symptom data (class 3)",
        _cut_over,
        lambda op: op.rollback_run(Symptom.DATA),
        nested=NESTED_DEPLOY_POINTS,
    ),
)


@dataclass
class Case:
    """One cell of the matrix and how it went."""

    scenario: str
    first: str
    follow_up: str
    second: str | None = None
    outcome: str = ""
    recovery: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


@pytest.fixture
def operator(database: Database, tmp_path: Path) -> Iterator[Operator]:
    """A project on the fake world, its sessions pooled."""
    pooled = PooledDatabase(
        url=database.url, schema=database.schema, settings=database.settings, embedded=True
    )
    operator = Operator.start(tmp_path, pooled)
    try:
        yield operator
    finally:
        operator.world.close()
        pooled.close_all()


def follow_up(operator: Operator, command: str) -> str:
    """Type ``command``; check what it claims against the world; how it ended."""
    words = command.split()
    if command == "deploy resume":
        deploy = operator.resume()
        color = operator.world.color_at(operator.world.record.target)
        if deploy.flipped and color is not deploy.green and not deploy.finished:
            assert any("but now" in text for text in operator.said), (
                f"resume called deploy #{deploy.id} cut over while the record points at {color}"
            )
    elif command == "deploy abort":
        check_abort_claims(operator, operator.abort())
    elif command == "status":
        check_status_claims(operator, operator.status())
    else:
        symptom = Symptom(words[-1])
        if operator.runner().open_record() is None:
            gathered, plan = operator.plan(symptom)
            world = operator.world
            if plan.failure_class == 1 and gathered.deploy is not None:
                assert world.color_at(world.record.target) is not gathered.deploy.green, (
                    "planned Class 1 while the record points at green"
                )
        operator.rollback_run(symptom)
    return "done"


def run_case(
    operator: Operator, state: SavedState, case: Case, crash: tuple[str, int] | None
) -> list[str]:
    """Restore, type the follow-up (killed at the ``crash[1]``-th passing of the crash point
    ``crash[0]``), then follow status's advice; the crash points the follow-up passed."""
    restore_state(operator, state)
    seen: list[str] = []
    point, skip = crash if crash is not None else (None, 0)
    try:
        with crash_at(point, skip=skip, seen=seen):
            case.outcome = follow_up(operator, case.follow_up)
    except SimulatedCrash as crashed:
        case.second = str(crashed)
        case.outcome = "crashed"
    except SpectralError as exc:
        case.outcome = f"refused (exit {exc.exit_code})"
        if not exc.hint:
            case.problems = (f"refused without naming a way out: {exc.message}",)
            return seen
    except AssertionError as claimed:
        case.outcome = "claimed what it did not observe"
        case.problems = (str(claimed),)
        return seen
    for _ in range(2):  # a public request now and then: rows at the live generation
        operator.world.public_request()
    try:
        case.recovery = tuple(operator.recover())
        case.problems = tuple(invariants(operator))
    except AssertionError as failed:
        case.problems = (str(failed),)
    return seen


def crash_points(operator: Operator, base: SavedState, scenario: Scenario) -> list[str]:
    """The crash points ``scenario.command`` passes when nothing crashes."""
    restore_state(operator, base)
    scenario.prepare(operator)
    seen: list[str] = []
    with crash_at(None, seen=seen):
        scenario.command(operator)
    return list(dict.fromkeys(point for point in seen if scenario.crashes_at(point)))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.name)
def test_every_crash_point_then_every_follow_up(operator: Operator, scenario: Scenario) -> None:
    """Each crash point of the scenario x every follow-up, run to its end and again killed at
    one of the crash points it passes (rotating from case to case), ends in the contract's
    state once the operator has typed what status advises."""
    started = time.monotonic()
    operator.deploy("v1.0.0")
    base = save_state(operator)
    cases: list[Case] = []
    for p_index, point in enumerate(crash_points(operator, base, scenario)):
        restore_state(operator, base)
        scenario.prepare(operator)
        with pytest.raises(SimulatedCrash), crash_at(point):
            scenario.command(operator)
        crashed = save_state(operator)
        for f_index, command in enumerate(FOLLOW_UPS):
            clean = Case(scenario.name, point, command)
            passed = run_case(operator, crashed, clean, None)
            cases.append(clean)
            if passed:  # again, killed at one of the points it passed (rotating)
                chosen = (p_index + f_index) % len(passed)
                second = Case(scenario.name, point, command)
                run_case(
                    operator,
                    crashed,
                    second,
                    (passed[chosen], passed[:chosen].count(passed[chosen])),
                )
                cases.append(second)
    report(scenario, cases, time.monotonic() - started)
    failed = [c for c in cases if c.problems]
    assert not failed, "\n".join(
        f"{c.scenario} / {c.first} / {c.follow_up} / 2nd crash {c.second}: {c.outcome}; "
        f"then {list(c.recovery)}: {list(c.problems)}"
        for c in failed[:10]
    )


def report(scenario: Scenario, cases: list[Case], seconds: float) -> None:
    """This part of the matrix: its size and results, in the test output."""
    points = sorted({c.first for c in cases})
    print(f"\ncrash matrix, {scenario.name}: {len(cases)} cases in {seconds:.1f} s")
    print(f"  first crash points: {len(points)} ({', '.join(points)})")
    print(f"  follow-ups: {', '.join(FOLLOW_UPS)}")
    second = Counter(c.second for c in cases if c.second)
    print(f"  second crashes: {sum(second.values())} at {len(second)} points ({', '.join(second)})")
    outcomes = Counter(c.outcome for c in cases)
    print("  follow-up outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    recoveries = Counter(step.split(" -> ")[0] for c in cases for step in c.recovery)
    typed = ", ".join(f"{k} x{v}" for k, v in recoveries.most_common())
    print(f"  advised commands typed: {typed}")
    print(f"  cases breaking the contract: {sum(1 for c in cases if c.problems)}")
