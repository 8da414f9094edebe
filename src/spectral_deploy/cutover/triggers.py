"""Why a deploy workflow run starts, and when it must not deploy at all.

The deploy workflow runs for a tag pushed (``push``) or on request (``workflow_dispatch``).
Two runs of one tag must never deploy it twice:

- a tag whose deploy already flipped the CNAME (in its hold window, finished or rolled
  back) is not deployed again by a workflow: a re-run, or a second dispatch after a crash,
  does nothing. A rolled-back release is fixed forward with a new tag;
- a rollback tag that a ``rollback run`` is deploying (its plan's deploy step names it) is
  left to the run the rollback dispatched: the ``push`` run a person's or an app's token
  started when the tag was created skips it.

The ledger decides both; the commands that act on them observe the world as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import psycopg

from spectral_deploy.db import Database
from spectral_deploy.db.access import statements

__all__ = ["CutOver", "Trigger", "WorkflowSkip", "cut_over_deploy", "workflow_skip"]

Connection = psycopg.Connection[Any]


class Trigger(StrEnum):
    """``github.event_name`` of the run (``deploy TAG --trigger``)."""

    PUSH = "push"
    WORKFLOW_DISPATCH = "workflow_dispatch"


@dataclass(frozen=True)
class WorkflowSkip:
    """Why this run does not deploy the tag."""

    reason: str


@dataclass(frozen=True)
class CutOver:
    """The newest deploy of a tag that flipped the CNAME, and how it ended (None: open)."""

    id: int
    outcome: str | None


@dataclass(frozen=True)
class _Rollback:
    id: int
    running: bool


TRIGGERS = statements("spectral_deploy.cutover", "triggers.sql")


def cut_over_deploy(conn: Connection, schema: str, tag: str) -> CutOver | None:
    """The newest deploy of ``tag`` that flipped the CNAME, if any (a workflow run never
    deploys it again; a rollback that dispatched its run finds it here)."""
    return TRIGGERS(schema).one(conn, "cut_over_deploy_of_tag", {"tag": tag}, into=CutOver)


def workflow_skip(database: Database, tag: str, trigger: Trigger) -> WorkflowSkip | None:
    """Whether a workflow run started by ``trigger`` must leave ``tag`` alone, and why."""
    queries = TRIGGERS(database.schema)
    with database.connect() as conn:
        deployed = cut_over_deploy(conn, database.schema, tag)
        rollback = queries.one(conn, "rollback_deploying_tag", {"tag": tag}, into=_Rollback)
    if deployed is not None:
        outcome = f", {deployed.outcome}" if deployed.outcome else ", in its hold window"
        return WorkflowSkip(
            f"{tag} was already deployed (deploy #{deployed.id}{outcome}); a workflow run never "
            "deploys a tag twice: fix forward with a new tag"
        )
    if trigger is Trigger.PUSH and rollback is not None:
        state = "in progress" if rollback.running else "finished"
        return WorkflowSkip(
            f"{tag} is deployed by rollback #{rollback.id} ({state}) through the run it "
            "dispatched; this push run leaves it to that one"
        )
    return None
