"""The deploy as stored: what the operator asked for, what was observed, and the step list."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from spectral_deploy.providers.base import Color

__all__ = [
    "Condition",
    "ConditionReason",
    "ConditionStatus",
    "ConditionType",
    "Deploy",
    "Intent",
    "Outcome",
    "Step",
]


class Step(IntEnum):
    """The runbook's steps in order; the value is what ``deploys.step`` stores when done."""

    PREFLIGHT = 1
    ALLOCATE_GENERATION = 2
    LINT_MIGRATIONS = 3
    APPLY_MIGRATIONS = 4
    DEPLOY_GREEN = 5
    GREEN_HEALTHY = 6
    START_WORKERS = 7
    SMOKE_TEST = 8
    WORKERS_RUNNING = 9
    FINAL_GATE = 10
    CUTOVER = 11

    @property
    def slug(self) -> str:
        """``apply-migrations``: the name used in the ledger and in crash points."""
        return self.name.lower().replace("_", "-")

    @property
    def title(self) -> str:
        """What the step does, in the runbook's words."""
        return _TITLES[self]


_TITLES = {
    Step.PREFLIGHT: "preflight: tag resolves, no other deploy, blue healthy, CNAME at blue",
    Step.ALLOCATE_GENERATION: "allocate the new generation",
    Step.LINT_MIGRATIONS: "migration-compat lint of the migrations new since blue",
    Step.APPLY_MIGRATIONS: "apply the migrations",
    Step.DEPLOY_GREEN: "deploy green with SPECTRAL_GENERATION set",
    Step.GREEN_HEALTHY: "wait until green's health check passes",
    Step.START_WORKERS: "start green's workers",
    Step.SMOKE_TEST: "smoke-test green on its direct address",
    Step.WORKERS_RUNNING: "verify green's workers reached state 'running'",
    Step.FINAL_GATE: "final gate: blue healthy, CNAME at blue; record the flip intent",
    Step.CUTOVER: "cutover: flip the CNAME to green and read it back",
}


class Intent(StrEnum):
    """What the operator asked for; the value is stored in ``deploys.intent``."""

    DEPLOY = "deploy"
    ABORT = "abort"
    FINISH = "finish"
    ROLLBACK = "rollback"


class Outcome(StrEnum):
    """How a deploy ended; the value is stored in ``deploys.outcome``."""

    COMPLETED = "completed"
    ABORTED = "aborted"
    ROLLED_BACK = "rolled-back"


class ConditionStatus(StrEnum):
    """Whether a condition holds."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    """What a condition observes (its text is in the ledger and ``status --json``)."""

    BLUE_HEALTHY = "BlueHealthy"
    GREEN_HEALTHY = "GreenHealthy"
    CNAME_TARGET = "CnameTarget"
    FLIP_RECORDED = "FlipRecorded"
    PUBLIC_PROBE = "PublicProbe"
    GREEN_WORKERS_RUNNING = "GreenWorkersRunning"


class ConditionReason(StrEnum):
    """Why a condition has its status: the catalog (its text is stored, like the type's)."""

    HEALTH_CHECK_PASSED = "HealthCheckPassed"
    HEALTH_CHECK_FAILED = "HealthCheckFailed"
    CANNOT_READ = "CannotRead"
    POINTS_AT_BLUE = "PointsAtBlue"
    POINTS_AT_GREEN = "PointsAtGreen"
    POINTS_AT_ELSEWHERE = "PointsAtElsewhere"
    TRAFFIC_AT_GREEN_NOT_RECORDED = "TrafficAtGreenNotRecorded"
    ANSWERED = "Answered"
    NO_ANSWER = "NoAnswer"
    ALL_RUNNING = "AllRunning"
    NOT_ALL_RUNNING = "NotAllRunning"


@dataclass(frozen=True)
class Condition:
    """An observation with a reason from a fixed catalog and a message for people."""

    type: ConditionType
    status: ConditionStatus
    reason: ConditionReason
    message: str

    def as_json(self) -> dict[str, str]:
        """JSON-ready."""
        return {
            "type": str(self.type),
            "status": str(self.status),
            "reason": str(self.reason),
            "message": self.message,
        }


@dataclass(frozen=True)
class Deploy:
    """One row of ``deploys``."""

    id: int
    tag: str
    commit: str
    generation: int | None
    from_generation: int | None
    from_commit: str | None
    blue: Color
    green: Color
    intent: Intent
    step: int
    failed_step: int | None
    error: str | None
    flipped_at: datetime | None
    hold_until: datetime | None
    started_by: str
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    outcome: Outcome | None
    conditions: tuple[Condition, ...] = field(default_factory=tuple)

    @property
    def flipped(self) -> bool:
        """Whether the CNAME was flipped to green."""
        return self.flipped_at is not None

    @property
    def finished(self) -> bool:
        """Whether the deploy is over (completed, aborted or rolled back)."""
        return self.finished_at is not None

    @property
    def has_blue(self) -> bool:
        """False for the very first deploy: nothing served traffic before it."""
        return self.from_generation is not None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "id": self.id,
            "tag": self.tag,
            "commit": self.commit,
            "generation": self.generation,
            "from_generation": self.from_generation,
            "from_commit": self.from_commit,
            "blue": str(self.blue),
            "green": str(self.green),
            "intent": str(self.intent),
            "step": self.step,
            "failed_step": self.failed_step,
            "error": self.error,
            "flipped_at": self.flipped_at.isoformat() if self.flipped_at else None,
            "hold_until": self.hold_until.isoformat() if self.hold_until else None,
            "started_by": self.started_by,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "outcome": str(self.outcome) if self.outcome else None,
            "conditions": [c.as_json() for c in self.conditions],
        }
