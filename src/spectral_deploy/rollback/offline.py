"""Communications while the database is down: the story told from ``--facts`` and config.

Class 5 is when the messages matter most and when the ledger cannot be read. ``rollback
notify --facts FILE`` and ``rollback run --dry-run --facts FILE`` plan from the facts
(``gather`` notes the database it could not reach) and tell that plan: the chat message
and the release note can go out unrecorded, the incident note waits for the database (it
is written after resolution, from the ledger's timeline).
"""

from __future__ import annotations

from datetime import datetime

from spectral_deploy.ledger.store import current_actor
from spectral_deploy.notify.messages import RollbackStory
from spectral_deploy.rollback.facts import Gathered
from spectral_deploy.rollback.plan import Plan

__all__ = ["offline_story"]


def offline_story(gathered: Gathered, plan: Plan, now: datetime) -> RollbackStory:
    """What the messages tell of a plan no rollback record holds (nothing recorded)."""
    facts = gathered.facts
    # after a flip back blue's generation serves; otherwise what serves is not known here
    serving = facts.from_generation if plan.failure_class in (1, 2) else None
    return RollbackStory(
        rollback_id=None,
        failure_class=plan.failure_class,
        tag=facts.tag,
        from_generation=facts.from_generation,
        to_generation=facts.to_generation,
        serving_generation=serving,
        reasons=(*plan.reasons, *(f"observed: {note}" for note in gathered.notes)),
        steps=tuple(step.title for step in plan.steps),
        operator=current_actor(),
        started_at=now,
    )
