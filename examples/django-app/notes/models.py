"""The app's tables."""

from django.db import models


class Note(models.Model):
    """A note someone wrote."""

    body = models.TextField()
    generation = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)


class HandledEvent(models.Model):
    """An outbox event the worker handled (its id makes handling idempotent)."""

    event_id = models.BigIntegerField(primary_key=True)
    note_id = models.BigIntegerField()
    generation = models.IntegerField()
