"""The outbox handlers: `spectral-deploy worker --app notes.handlers:handlers`."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.db import transaction  # noqa: E402 - after django.setup()

from notes.models import HandledEvent  # noqa: E402
from spectral_deploy import Event, Handlers  # noqa: E402

handlers = Handlers()


@handlers.on("note.created")
def record_note(event: Event) -> None:
    """Record that the note's event was handled; the event id makes it idempotent."""
    with transaction.atomic():
        HandledEvent.objects.get_or_create(
            event_id=event.id,
            defaults={"note_id": event.payload["note_id"], "generation": event.generation},
        )
