"""The ordered steps of a rollback for each failure class, each with the exact command (pure).

A step is ``automatic`` when ``rollback run`` performs it, or a checklist item the operator
does (investigate, call vendor support, restore with an identity only they hold).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from spectral_deploy.rollback.classify import Classification, Facts

__all__ = [
    "Plan",
    "PlanContext",
    "PlanStep",
    "StepId",
    "escalates",
    "make_plan",
    "rollback_tag",
]


class StepId(StrEnum):
    """A step's stable id: what ``rollback run`` executes, stored with the plan and in the
    ledger (the values are that text)."""

    ABORT_DEPLOY = "abort-deploy"
    DRAIN = "drain"
    INVESTIGATE = "investigate"
    FLIP_BACK = "flip-back"
    STOP_WORKERS = "stop-workers"
    RETIRE_GREEN = "retire-green"
    CLOSE_DEPLOY = "close-deploy"
    TAG_PRIOR = "tag-prior"
    DEPLOY_PRIOR = "deploy-prior"
    RETIRE_BAD = "retire-bad"
    RELINT = "relint"
    FIX_FORWARD = "fix-forward"
    DECIDE = "decide"
    DECLARE_DR = "declare-dr"
    VENDOR_SUPPORT = "vendor-support"
    PICK_BACKUP = "pick-backup"
    VERIFY_BACKUP = "verify-backup"
    RESTORE = "restore"
    NOTIFY = "notify"


@dataclass(frozen=True)
class PlanStep:
    """One step: a stable id (what ``rollback run`` executes), words, and the command."""

    id: StepId
    title: str
    command: str
    automatic: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """``{"title", "command"}`` plus the step id and whether ``run`` does it."""
        return {
            "id": str(self.id),
            "title": self.title,
            "command": self.command,
            "automatic": self.automatic,
            "params": dict(self.params),
        }


@dataclass(frozen=True)
class PlanContext:
    """What the commands need beyond the facts: colors' targets, where things live."""

    blue_target: str = "blue"
    green_slot: str = "green"
    existing_tags: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Plan:
    """A classification and its steps."""

    failure_class: int
    reasons: tuple[str, ...]
    steps: tuple[PlanStep, ...]
    escalated_from: int | None = None

    def as_json(self) -> dict[str, Any]:
        """``{"class": 2, "reasons": [...], "steps": [{"title": ..., "command": ...}]}``."""
        return {
            "class": self.failure_class,
            "escalated_from": self.escalated_from,
            "reasons": list(self.reasons),
            "steps": [step.as_json() for step in self.steps],
        }


def escalates(steps: tuple[PlanStep, ...]) -> bool:
    """Whether a plan hands over to people (disaster recovery, a decision only they can make):
    a checklist step other than the follow-up investigation every class ends with."""
    return any(not step.automatic and step.id is not StepId.INVESTIGATE for step in steps)


def rollback_tag(tag: str, existing: frozenset[str]) -> str:
    """``v1.4.0`` -> ``v1.4.0-rollback`` (then ``-rollback.2``... if taken)."""
    candidate = f"{tag}-rollback"
    number = 2
    while candidate in existing:
        candidate = f"{tag}-rollback.{number}"
        number += 1
    return candidate


def make_plan(classification: Classification, facts: Facts, context: PlanContext) -> Plan:
    """The runbook's steps for the class."""
    builders = {1: _class_1, 2: _class_2, 3: _class_3, 4: _class_4, 5: _class_5}
    builder = (
        _class_4 if classification.escalated_from == 4 else builders[classification.failure_class]
    )
    steps = builder(facts, context)
    return Plan(
        classification.failure_class,
        classification.reasons,
        tuple(steps),
        escalated_from=classification.escalated_from,
    )


def _new(n: int | None) -> str:
    return str(n) if n is not None else "N+1"


def _class_1(facts: Facts, context: PlanContext) -> list[PlanStep]:
    new, old = _new(facts.to_generation), facts.from_generation
    rows = facts.rows_at_new_generation
    steps = [
        PlanStep(
            StepId.ABORT_DEPLOY,
            "Abort the deploy: green stops, blue keeps serving (public traffic never reached "
            f"the new generation; the rows generation {new} wrote are counted again and "
            "adopted by the live generation)",
            "spectral-deploy deploy abort --yes",
        )
    ]
    if rows:
        steps.append(
            PlanStep(
                StepId.DRAIN,
                f"Adopt the {rows} row(s) generation {new} wrote (smoke tests or direct "
                f"traffic) into generation {old if old is not None else 'N'}",
                f"spectral-deploy drain --target-generation {new} --mode adopt --yes",
                params={"rows": rows},
            )
        )
    return [
        *steps,
        PlanStep(
            StepId.INVESTIGATE,
            "Investigate green; fix it; tag a new release and deploy it",
            "spectral-deploy deploy <fixed tag>",
            automatic=False,
        ),
    ]


def _class_2(facts: Facts, context: PlanContext) -> list[PlanStep]:
    new, old = _new(facts.to_generation), facts.from_generation
    return [
        PlanStep(
            StepId.FLIP_BACK,
            f"Flip the CNAME back to blue (generation {old}) and read it back",
            f"spectral-deploy dns point {context.blue_target} --yes",
            params={"target": context.blue_target},
        ),
        PlanStep(
            StepId.STOP_WORKERS,
            f"Green's workers stop claiming generation {new}'s rows at once (they finish the "
            "rows in hand): the faulty code handles nothing more",
            f"spectral-deploy outbox stop-workers --generation {new}",
        ),
        PlanStep(
            StepId.DRAIN,
            f"Adopt generation {new}'s rows into blue's generation {old} now, with a fresh "
            "attempt budget; rows of a topic blue has no handler for stay and are listed",
            f"spectral-deploy drain --target-generation {new} --mode adopt --yes",
        ),
        PlanStep(
            StepId.RETIRE_GREEN,
            "Green stops after one TTL (clients still resolving to it are answered); the "
            "rows its web app wrote meanwhile are adopted too",
            f"spectral-deploy hosting stop {context.green_slot} --yes",
            params={"slot": context.green_slot},
        ),
        *_communications(),
    ]


def _class_3(facts: Facts, context: PlanContext) -> list[PlanStep]:
    new = _new(facts.to_generation)
    tag = rollback_tag(facts.tag or "vX.Y.Z", context.existing_tags)
    prior = facts.prior_commit or "<prior commit>"
    return [
        PlanStep(
            StepId.CLOSE_DEPLOY,
            f"Close the deploy of {facts.tag} as rolled back (its slot stays up for now)",
            "spectral-deploy rollback run",
        ),
        PlanStep(
            StepId.TAG_PRIOR,
            f"Tag the prior code {prior[:12]} as {tag} (a tag pushed with the default GitHub "
            "Actions token does not trigger workflows: push it with an app token, or dispatch "
            "deploy-prod.yml)",
            f"git tag -a {tag} {prior} -m 'rollback of {facts.tag}' && git push origin {tag}",
            params={"tag": tag, "commit": prior},
        ),
        PlanStep(
            StepId.DEPLOY_PRIOR,
            f"Deploy {tag}: the full cutover, at a new generation (the schema stays)",
            f"spectral-deploy deploy {tag}",
            params={"tag": tag},
        ),
        PlanStep(
            StepId.RETIRE_BAD,
            f"Retire generation {new}'s slot: after one TTL its web app stops, its workers "
            "finish its rows, then they stop (its code serves and handles nothing more)",
            f"spectral-deploy hosting stop {context.green_slot} --yes",
            params={"slot": context.green_slot},
        ),
        PlanStep(
            StepId.DRAIN,
            f"Legacy drain of generation {new} into the new generation (prior code)",
            f"spectral-deploy drain --target-generation {new} --mode adopt --yes",
        ),
        *_communications(),
    ]


def _class_4(facts: Facts, context: PlanContext) -> list[PlanStep]:
    new = _new(facts.to_generation)
    prior = facts.prior_commit or "<prior commit>"
    relint = PlanStep(
        StepId.RELINT,
        "Re-lint the migrations the deploy applied, against the prior code (never roll the "
        "schema back)",
        f"spectral-deploy lint --base {prior}",
    )
    if facts.migration_compatible_with_prior is True:
        return [relint, *_class_3(facts, context)]
    fix = PlanStep(
        StepId.FIX_FORWARD,
        "Write a follow-up migration that restores compatibility (e.g. DROP NOT NULL until the "
        "backfill is done); review it, ship it with the corrected code in a new release",
        f"spectral-deploy migrate fix-forward --generation {new}",
        params={"generation": facts.to_generation},
    )
    if facts.migration_compatible_with_prior is False:
        return [relint, fix, *_class_5_checklist(escalation=True), *_communications()]
    return [
        relint,
        PlanStep(
            StepId.DECIDE,
            "If the re-lint is clean, follow Class 3 (redeploy the prior code); if not, fix "
            "forward and escalate to Class 5",
            "spectral-deploy rollback plan --symptom migration --deploy <id>  (after the lint)",
            automatic=False,
        ),
        fix,
        *_communications(),
    ]


def _class_5(facts: Facts, context: PlanContext) -> list[PlanStep]:
    return [*_class_5_checklist(escalation=False), *_communications()]


def _class_5_checklist(*, escalation: bool) -> list[PlanStep]:
    why = "the lint missed a breaking change" if escalation else "disaster recovery"
    return [
        PlanStep(
            StepId.DECLARE_DR,
            f"Declare DR ({why}): call the cofounder and the on-call (the chat message is the "
            "notify step)",
            "(phone)",
            automatic=False,
        ),
        PlanStep(
            StepId.VENDOR_SUPPORT,
            "If the database is involved, open a ticket with the database provider (Supabase "
            "support); if hosting or DNS is down, check the vendor's status page",
            "(vendor support portal)",
            automatic=False,
        ),
        PlanStep(
            StepId.PICK_BACKUP,
            "Pick the latest verified backup (or, while the provider account is intact, "
            "Supabase point-in-time recovery: RPO about 2 minutes)",
            "spectral-deploy backup list",
            automatic=False,
        ),
        PlanStep(
            StepId.VERIFY_BACKUP,
            "Verify it restores (downloads, checks sha256, decrypts, restores into scratch)",
            "spectral-deploy backup verify --latest --identity <age identity file>",
            automatic=False,
        ),
        PlanStep(
            StepId.RESTORE,
            "Restore into a new database, point the app at it, then deploy the last good release",
            "spectral-deploy backup restore --latest --identity <age identity file> "
            "--to-database <new database URL>",
            automatic=False,
        ),
    ]


def _communications() -> list[PlanStep]:
    return [
        PlanStep(
            StepId.NOTIFY,
            "Tell the ops chat (tag, generations, class), mark the GitHub Release pre-release "
            "with a rollback note; the incident note (this incident's timeline) is appended "
            "once the rollback is resolved",
            "spectral-deploy rollback notify",
        )
    ]
