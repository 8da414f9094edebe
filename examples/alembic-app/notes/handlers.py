"""The outbox handlers: `spectral-deploy worker --app notes.handlers:handlers`."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from notes.db import engine
from notes.models import HandledEvent
from spectral_deploy import Event, Handlers

handlers = Handlers()


@handlers.on("note.created")
def record_note(event: Event) -> None:
    """Record that the note's event was handled; the event id makes it idempotent."""
    with Session(engine()) as session, session.begin():
        session.execute(
            insert(HandledEvent)
            .values(
                event_id=event.id,
                note_id=event.payload["note_id"],
                generation=event.generation,
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
        )
