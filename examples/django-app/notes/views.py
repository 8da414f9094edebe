"""GET /health, POST /notes: a note and its ``note.created`` event in one transaction."""

from __future__ import annotations

import json
import os

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from notes import VERSION
from notes.models import Note
from spectral_deploy import emit

GENERATION = int(os.environ.get("SPECTRAL_GENERATION", "0"))


def health(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "generation": GENERATION, "version": VERSION})


@csrf_exempt
def create_note(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return JsonResponse({"error": "POST a note"}, status=405)
    try:
        body = json.loads(request.body or b"{}").get("body")
    except ValueError:
        body = None
    if not isinstance(body, str) or not body:
        return JsonResponse({"error": "expected {body}"}, status=400)
    with transaction.atomic():
        note = Note.objects.create(body=body, generation=GENERATION)
        connection.ensure_connection()
        # the raw psycopg connection, inside the transaction atomic() opened
        emit(connection.connection, "note.created", {"note_id": note.pk}, key=str(note.pk))
    return JsonResponse({"id": note.pk, "generation": GENERATION}, status=201)
