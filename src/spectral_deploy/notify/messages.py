"""What a rollback says, to whom (pure): the chat message, the release note, the incident note."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from spectral_deploy.ledger.store import LedgerEntry
from spectral_deploy.providers.base import ChatMessage

__all__ = ["RollbackStory", "chat_message", "incident_note", "release_note"]

CLASS_NAMES = {
    1: "Class 1: cutover incomplete",
    2: "Class 2: post-cutover behavior issue",
    3: "Class 3: post-cutover data issue",
    4: "Class 4: migration-caused issue",
    5: "Class 5: catastrophic / disaster recovery",
}


@dataclass(frozen=True)
class RollbackStory:
    """The facts a message tells."""

    # None: told from --facts while the database is down (no rollback recorded)
    rollback_id: int | None
    failure_class: int
    tag: str | None
    from_generation: int | None
    to_generation: int | None
    serving_generation: int | None
    reasons: tuple[str, ...]
    steps: tuple[str, ...]
    operator: str
    started_at: datetime
    # the resolution (the rollback finished), for the incident note written after it
    outcome: str | None = None
    finished_at: datetime | None = None
    # when the incident began (the rolled-back deploy started): the timeline starts there
    incident_since: datetime | None = None

    @property
    def rollback_name(self) -> str:
        """``#12``, or what stands in for it when nothing could be recorded."""
        if self.rollback_id is None:
            return "not recorded (the database is down)"
        return f"#{self.rollback_id}"


def chat_message(story: RollbackStory) -> ChatMessage:
    """The ops-chat message: tag, generations and failure class up front."""
    generations = f"{story.to_generation or '?'} -> {story.serving_generation or '?'}"
    return ChatMessage(
        title=f"Rollback of {story.tag or 'the last deploy'}: {CLASS_NAMES[story.failure_class]}",
        text="\n".join(f"- {reason}" for reason in story.reasons),
        facts={
            "tag": story.tag or "?",
            "generations (bad -> serving)": generations,
            "failure class": str(story.failure_class),
            "operator": story.operator,
            "rollback": story.rollback_name,
        },
    )


def release_note(story: RollbackStory) -> str:
    """The note appended to the GitHub Release of the rolled-back tag."""
    return (
        f"**Rolled back** on {story.started_at:%Y-%m-%d %H:%M UTC} "
        f"({CLASS_NAMES[story.failure_class]}). Generation {story.to_generation or '?'} was "
        f"replaced; see the incident log. Rollback {story.rollback_name} by {story.operator}."
    )


def incident_note(story: RollbackStory, timeline: Sequence[LedgerEntry]) -> str:
    """A markdown incident note with the ledger's timeline of the deploy and the rollback."""
    lines = [
        f"## {story.started_at:%Y-%m-%d %H:%M} UTC: rollback of {story.tag or '?'} "
        f"({CLASS_NAMES[story.failure_class]})",
        "",
        f"- Generations: {story.to_generation or '?'} (rolled back) -> "
        f"{story.serving_generation or '?'} (serving)",
        f"- Operator: {story.operator}; rollback {story.rollback_name}",
        f"- Outcome: {story.outcome or 'unresolved'}"
        + (f" at {story.finished_at:%Y-%m-%d %H:%M:%S} UTC" if story.finished_at else ""),
        "",
        "Why this class:",
        *(f"- {reason}" for reason in story.reasons),
        "",
        "Steps:",
        *(f"{number}. {step}" for number, step in enumerate(story.steps, 1)),
        "",
        "Timeline of this incident (from the ledger, since the rolled-back deploy began):",
        "",
        "| when (UTC) | what | outcome | generations |",
        "|---|---|---|---|",
    ]
    for entry in timeline:
        generations = (
            f"{entry.from_generation}->{entry.to_generation}"
            if entry.from_generation is not None and entry.to_generation is not None
            else str(entry.generation or "")
        )
        lines.append(
            f"| {entry.recorded_at:%H:%M:%S} | {entry.kind} {entry.action} | "
            f"{entry.outcome or ''} | {generations} |"
        )
    lines += [
        "",
        "Follow-up: if the failure class shows a gap in deploy-pipeline doctrine, record it in "
        "the ADR / forward-considerations log.",
        "",
    ]
    return "\n".join(lines)
