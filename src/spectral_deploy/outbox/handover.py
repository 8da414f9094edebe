"""Handing a generation's rows to another generation's fleet (a rollback's drain).

Only the topics the receiving fleet's live workers handle are adopted (``drain.adopt``: a fresh
attempt budget, no inherited backoff, the lease token kept). Rows of a topic it has no handler
for would only retry there until dead-lettered: they stay where they are and are listed with
the commands that handle them. Adopted rows keep their key's order, so a key whose adopted rows
wait behind a row left behind is named too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spectral_deploy.config import OutboxConfig
from spectral_deploy.db import Database
from spectral_deploy.outbox import drain as drains
from spectral_deploy.outbox.fleet import fleet_topics

__all__ = ["Handover", "Unhandled", "hand_over", "unhandled_commands"]


def unhandled_commands(generation: int, topic: str) -> tuple[str, ...]:
    """How an operator handles rows of ``topic`` left at ``generation``: run them with handlers
    that have it, or adopt them once a release that has it is live."""
    return (
        f"spectral-deploy drain --target-generation {generation} --mode process "
        f"--app <module:handlers with a handler for {topic}> --yes",
        f"spectral-deploy drain --target-generation {generation} --mode adopt --yes  "
        "(once the live generation handles it)",
    )


@dataclass(frozen=True)
class Unhandled:
    """Rows of one topic left at their generation: the receiving fleet has no handler."""

    topic: str
    rows: int
    commands: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """JSON-ready (what the ledger records)."""
        return {"topic": self.topic, "rows": self.rows, "commands": list(self.commands)}


@dataclass(frozen=True)
class Handover:
    """What was adopted, what stays (by topic) and which keys wait behind it."""

    generation: int
    into: int
    topics: frozenset[str] | None
    live_workers: int
    report: drains.DrainReport
    unhandled: tuple[Unhandled, ...]
    blocked: tuple[drains.BlockedKey, ...]

    def lines(self) -> list[str]:
        """What the operator is told, in order."""
        said = []
        if self.topics is None:
            said.append(
                f"generation {self.into}'s workers did not record the topics they handle "
                f"({self.live_workers} live): every row of generation {self.generation} is "
                "adopted"
            )
        said.append(
            f"adopted {self.report.adopted} row(s) of generation {self.generation} into "
            f"generation {self.into}"
        )
        for item in self.unhandled:
            commands = "\n      $ ".join(item.commands)
            said.append(
                f"{item.rows} row(s) of topic {item.topic!r} stay at generation "
                f"{self.generation}: generation {self.into} has no handler for it (not adopted "
                f"into a retry loop). Handle them with:\n      $ {commands}"
            )
        said.extend(key.describe(self.into) for key in self.blocked)
        return said

    def as_json(self) -> dict[str, Any]:
        """JSON-ready (what the ledger records)."""
        return {
            "generation": self.generation,
            "into": self.into,
            "topics": sorted(self.topics) if self.topics is not None else None,
            "adopted": self.report.adopted,
            "unhandled": [item.as_json() for item in self.unhandled],
            "blocked": [key.as_json() for key in self.blocked],
        }


def hand_over(database: Database, outbox: OutboxConfig, generation: int, into: int) -> Handover:
    """Adopt ``generation``'s rows of the topics ``into``'s live workers handle into ``into``."""
    with database.connect() as conn:
        fleet = fleet_topics(conn, database.schema, into, stale_after=outbox.stale_after_seconds)
    report = drains.adopt(database, outbox, generation, into, topics=fleet.topics)
    unhandled: tuple[Unhandled, ...] = ()
    blocked: tuple[drains.BlockedKey, ...] = ()
    if fleet.topics is not None:
        unhandled = tuple(
            Unhandled(t.topic, t.unfinished, unhandled_commands(generation, t.topic))
            for t in report.remaining
            if t.unfinished and t.topic not in fleet.topics
        )
    if unhandled and fleet.topics is not None:
        with database.connect() as conn:
            blocked = tuple(drains.blocked_keys(conn, database.schema, into, fleet.topics))
    return Handover(generation, into, fleet.topics, fleet.live_workers, report, unhandled, blocked)
