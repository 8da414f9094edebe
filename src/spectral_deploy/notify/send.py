"""Sending a rollback's communications: each once, none blocking the rollback.

Each channel is recorded in the ledger as an intent (unique key per rollback and channel)
before it is sent and confirmed after, so a resumed rollback never posts twice; a failed
send is reported and can be retried with ``spectral-deploy rollback notify``.

The chat message and the release note go out while the rollback runs; the incident note
is appended after resolution (the rollback finished, its outcome known), with the ledger's
timeline of this incident only: from when the rolled-back deploy began. Without a database
(``database`` None: Class 5, told from ``--facts``) chat and release are sent unrecorded
and the incident note waits for the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from spectral_deploy import providers
from spectral_deploy.config import Config
from spectral_deploy.db import Database
from spectral_deploy.errors import SpectralError
from spectral_deploy.ledger import store as ledger
from spectral_deploy.ledger.store import EntryKind, Outcome
from spectral_deploy.notify.messages import (
    RollbackStory,
    chat_message,
    incident_note,
    release_note,
)

__all__ = ["CHANNELS", "Delivery", "deliver"]

log = logging.getLogger(__name__)

CHANNELS = ("chat", "release", "incident")
Timeline = list[ledger.LedgerEntry]


@dataclass(frozen=True)
class Delivery:
    """What happened to one channel."""

    channel: str
    status: str  # sent, already-sent, failed, dry-run
    detail: str


def deliver(
    config: Config,
    database: Database | None,
    story: RollbackStory,
    *,
    dry_run: bool = False,
    channels: tuple[str, ...] = CHANNELS,
) -> list[Delivery]:
    """Send chat, release note and incident note; never raise for a channel's failure."""
    deliveries: list[Delivery] = []
    timeline = incident_timeline(database, story) if database is not None else []
    for channel in channels:
        key = f"rollback:{story.rollback_id}:{channel}"
        text = _describe(channel, config, story, timeline)
        if channel == "incident" and (story.outcome is None or database is None):
            why = (
                f"appended once rollback {story.rollback_name} is resolved"
                if database is not None
                else "appended after resolution, once the database answers "
                "(spectral-deploy rollback notify)"
            )
            deliveries.append(Delivery(channel, "pending", f"{text}: {why}"))
            continue
        if dry_run:
            deliveries.append(Delivery(channel, "dry-run", text))
            continue
        if channel == "release" and config.notify.release_notes == "none":
            deliveries.append(Delivery(channel, "skipped", "no release pages configured"))
            continue
        if database is None:
            deliveries.append(_send_unrecorded(channel, config, story, text))
            continue
        with database.connect() as conn:
            done = [
                e
                for e in ledger.entries(conn, database.schema, kind=str(EntryKind.NOTIFICATION))
                if e.details.get("key") == key and e.outcome == str(Outcome.OK)
            ]
            if done:
                deliveries.append(Delivery(channel, "already-sent", text))
                continue
            ledger.record_intent(
                conn,
                database.schema,
                EntryKind.NOTIFICATION,
                f"send-{channel}",
                key,
                details={"key": key, "rollback": story.rollback_id},
            )
            conn.commit()
        try:
            _send(channel, config, story, timeline)
        except (SpectralError, OSError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            _record(database, channel, key, Outcome.FAILED, message)
            log.warning("action=notify.failed channel=%s error=%s", channel, message)
            deliveries.append(Delivery(channel, "failed", message))
            continue
        _record(database, channel, key, Outcome.OK, text)
        deliveries.append(Delivery(channel, "sent", text))
    return deliveries


# a note holds the incident, not the project's history: at most this many entries of it
TIMELINE_ENTRIES = 200


def incident_timeline(database: Database, story: RollbackStory) -> Timeline:
    """The ledger's deploy, step, rollback and drain entries since the incident began."""
    since = story.incident_since or story.started_at
    with database.connect() as conn:
        found = [
            entry
            for entry in ledger.entries(conn, database.schema)
            if entry.kind in ("deploy", "step", "rollback", "drain") and entry.recorded_at >= since
        ]
    return found[:TIMELINE_ENTRIES]


def _send_unrecorded(channel: str, config: Config, story: RollbackStory, text: str) -> Delivery:
    """Send without the ledger (the database is down): nothing stops a second send."""
    try:
        _send(channel, config, story, [])
    except (SpectralError, OSError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        log.warning("action=notify.failed channel=%s error=%s", channel, message)
        return Delivery(channel, "failed", message)
    return Delivery(channel, "sent", f"{text} (not recorded: the database is down)")


def _describe(
    channel: str, config: Config, story: RollbackStory, timeline: list[ledger.LedgerEntry]
) -> str:
    if channel == "chat":
        message = chat_message(story)
        facts = ", ".join(f"{k}: {v}" for k, v in message.facts.items())
        return f"{config.notify.chat}: {message.title} ({facts})"
    if channel == "release":
        return f"{config.notify.release_notes}: mark {story.tag} pre-release; {release_note(story)}"
    return f"append to {_incident_log(config)} ({len(timeline)} ledger entries in the timeline)"


def _send(
    channel: str, config: Config, story: RollbackStory, timeline: list[ledger.LedgerEntry]
) -> None:
    if channel == "chat":
        providers.chat_provider(config).send(chat_message(story))
    elif channel == "release":
        if story.tag:
            providers.release_notes_provider(config).mark_rollback(story.tag, release_note(story))
    else:
        path = _incident_log(config)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = "" if path.exists() else "# Incident log\n\n"
        with path.open("a", encoding="utf-8") as out:
            out.write(header + incident_note(story, timeline) + "\n")


def _incident_log(config: Config) -> Path:
    path = config.notify.incident_log
    return path if path.is_absolute() else config.project_root / path


def _record(database: Database, channel: str, key: str, outcome: Outcome, detail: str) -> None:
    with database.connect() as conn:
        ledger.append(
            conn,
            database.schema,
            EntryKind.NOTIFICATION,
            f"send-{channel}",
            outcome=outcome,
            details={"key": key, "detail": detail[:500]},
        )
        conn.commit()
