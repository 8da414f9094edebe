"""The runbook's decision tree: facts and a symptom in, a failure class and its reasons out.

Pure: no I/O. The most specific class wins, in the runbook's order of precedence:

* the database does not answer, a provider is down, or the symptom is catastrophic -> 5
* the cutover did not complete (the CNAME, read back, still points at blue)      -> 1
* behavior: 2 while blue is still warm, else 3
* data -> 3
* migration -> 4; when the re-lint finds the prior code incompatible, 4 escalates to 5
  (the runbook: "the lint missed something; see Class 5") and the fix forward is written
* any plan that needs the prior build when it is gone                             -> 5
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from spectral_deploy.errors import InputError

__all__ = ["Classification", "Facts", "Symptom", "classify", "facts_from_json"]


class Symptom(StrEnum):
    """What the operator sees."""

    BEHAVIOR = "behavior"
    DATA = "data"
    MIGRATION = "migration"
    CATASTROPHIC = "catastrophic"


@dataclass(frozen=True)
class Facts:
    """What the planner knows. Keys and JSON names are the ``--facts`` file's."""

    cutover_completed: bool
    blue_warm: bool
    symptom: Symptom | None
    prior_build_available: bool = True
    database_healthy: bool = True
    provider_outage: bool = False
    migration_compatible_with_prior: bool | None = None
    from_generation: int | None = None
    to_generation: int | None = None
    tag: str | None = None
    prior_commit: str | None = None
    # unfinished outbox rows at the new generation, counted (None: not counted)
    rows_at_new_generation: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The facts as the ``--facts`` file would hold them."""
        return {
            f.name: (
                str(getattr(self, f.name))
                if f.name == "symptom" and self.symptom
                else getattr(self, f.name)
            )
            for f in fields(self)
        }


@dataclass(frozen=True)
class Classification:
    """A failure class (1-5) and the facts that decided it, in words."""

    failure_class: int
    reasons: tuple[str, ...]
    # the class the situation first matched, when the runbook sends it on (4 -> 5)
    escalated_from: int | None = None


_BOOL_KEYS = (
    "cutover_completed",
    "blue_warm",
    "prior_build_available",
    "database_healthy",
    "provider_outage",
)
_INT_KEYS = ("from_generation", "to_generation", "rows_at_new_generation")
_STR_KEYS = ("tag", "prior_commit")


def facts_from_json(data: Any, source: str, base: Facts | None = None) -> Facts:
    """Facts from a ``--facts`` document, over ``base``; bad keys and types name the file."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a JSON object of facts")
    known = {f.name for f in fields(Facts)}
    values: dict[str, Any] = base.__dict__.copy() if base is not None else {}
    for key, value in data.items():
        if key not in known:
            raise InputError(f"{source}: unknown fact {key!r} (known: {', '.join(sorted(known))})")
        if key in _BOOL_KEYS and not isinstance(value, bool):
            raise InputError(f"{source}: {key} must be true or false, got {value!r}")
        if (
            key in _INT_KEYS
            and value is not None
            and (isinstance(value, bool) or not isinstance(value, int))
        ):
            raise InputError(f"{source}: {key} must be an integer or null, got {value!r}")
        if key in _STR_KEYS and value is not None and not isinstance(value, str):
            raise InputError(f"{source}: {key} must be a string or null, got {value!r}")
        if key == "migration_compatible_with_prior" and not (
            value is None or isinstance(value, bool)
        ):
            raise InputError(f"{source}: {key} must be true, false or null, got {value!r}")
        values[key] = _symptom(value, source) if key == "symptom" else value
    for required in ("cutover_completed", "blue_warm"):
        if required not in values:
            raise InputError(f"{source}: the fact {required!r} is missing")
    values.setdefault("symptom", None)
    return Facts(**values)


def _symptom(value: Any, source: str) -> Symptom | None:
    if value is None:
        return None
    try:
        return Symptom(value)
    except ValueError:
        raise InputError(
            f"{source}: symptom must be one of {', '.join(s.value for s in Symptom)}, got {value!r}"
        ) from None


def classify(facts: Facts) -> Classification:
    """The runbook's class for these facts, with the reasons that decided it."""
    catastrophic = _catastrophe(facts)
    if catastrophic:
        return Classification(5, catastrophic)
    if not facts.cutover_completed:
        return Classification(1, (NOT_CUT_OVER, _rows_reason(facts)))
    if facts.symptom is None:
        raise InputError(
            "the cutover completed, so the class depends on the symptom",
            hint="spectral-deploy rollback plan --symptom behavior|data|migration|catastrophic",
        )
    if facts.symptom is Symptom.MIGRATION:
        return _migration(facts)
    if facts.symptom is Symptom.BEHAVIOR and facts.blue_warm:
        return Classification(2, (BEHAVIOR, BLUE_WARM))
    if facts.symptom is Symptom.BEHAVIOR:
        return _needs_prior_build(facts, 3, [BEHAVIOR, BLUE_GONE])
    return _needs_prior_build(facts, 3, [DATA, REDEPLOY_PRIOR])


NOT_CUT_OVER = (
    "the cutover did not complete: the CNAME still points at blue (read back), so public "
    "traffic never reached the new generation"
)


def _rows_reason(facts: Facts) -> str:
    new = facts.to_generation if facts.to_generation is not None else "N+1"
    rows = facts.rows_at_new_generation
    if rows is None:
        return f"rows at generation {new} were not counted: the abort counts them again"
    if rows == 0:
        return f"no outbox row waits at generation {new} (counted): nothing to drain"
    old = facts.from_generation if facts.from_generation is not None else "N"
    return (
        f"{rows} outbox row(s) wait at generation {new} (smoke tests or direct traffic wrote "
        f"them): generation {old} adopts them"
    )


BEHAVIOR = "green misbehaves (behavior symptom); the schema is not at fault"
BLUE_WARM = "blue is still warm, so flipping the CNAME back restores service"
BLUE_GONE = "blue is no longer warm: the prior code must be deployed again at a new generation"
DATA = "green writes wrong data (data symptom): flipping back would leave its state behind"
REDEPLOY_PRIOR = "the prior code is deployed again at a new generation; the schema stays"
MIGRATION = "the migration the deploy applied is itself the problem (migration symptom)"
FORWARD_ONLY = "the schema is forward-only: it is never rolled back"
PRIOR_BUILD_GONE = (
    "but the prior build is gone (image retention expired, or it cannot be rebuilt): "
    "disaster recovery"
)


def _catastrophe(facts: Facts) -> tuple[str, ...]:
    reasons = []
    if not facts.database_healthy:
        reasons.append("the production database does not answer (PITR or backup restore)")
    if facts.provider_outage:
        reasons.append("a provider the cutover relies on is down (region-wide outage)")
    if facts.symptom is Symptom.CATASTROPHIC:
        reasons.append("the operator reports a catastrophic failure")
    return tuple(reasons)


def _migration(facts: Facts) -> Classification:
    reasons = [MIGRATION, FORWARD_ONLY]
    if facts.migration_compatible_with_prior is False:
        reasons.append(
            "the re-lint finds the prior code cannot run on the new schema: the lint missed a "
            "breaking change, so Class 4 escalates to Class 5; fix forward"
        )
        return Classification(5, tuple(reasons), escalated_from=4)
    if facts.migration_compatible_with_prior is True:
        reasons.append("the prior code runs on the new schema: it can be deployed again")
        return _needs_prior_build(facts, 4, reasons)
    reasons.append("whether the prior code runs on the new schema is decided by re-linting")
    return Classification(4, tuple(reasons))


def _needs_prior_build(facts: Facts, failure_class: int, reasons: list[str]) -> Classification:
    if facts.prior_build_available:
        return Classification(failure_class, tuple(reasons))
    return Classification(5, (*reasons, PRIOR_BUILD_GONE))
