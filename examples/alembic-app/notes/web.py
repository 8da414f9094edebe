"""The web app (Flask).

    GET  /health   200 when the database answers, with the generation that serves
    POST /notes    {"body": "..."} -> 201 {"id": ...}: the note and its ``note.created``
                   event are written in one transaction

    python -m notes.web --port 8101
"""

from __future__ import annotations

import argparse
import os

from flask import Flask, jsonify, request
from sqlalchemy import text
from sqlalchemy.orm import Session

from notes import VERSION
from notes.db import engine
from notes.models import Note
from spectral_deploy.outbox.sqlalchemy import emit

GENERATION = int(os.environ.get("SPECTRAL_GENERATION", "0"))

app = Flask(__name__)


@app.get("/health")
def health():  # type: ignore[no-untyped-def]
    with engine().connect() as connection:
        connection.execute(text("SELECT 1"))
    return jsonify(status="ok", generation=GENERATION, version=VERSION)


@app.post("/notes")
def create_note():  # type: ignore[no-untyped-def]
    body = (request.get_json(silent=True) or {}).get("body")
    if not isinstance(body, str) or not body:
        return jsonify(error="expected {body}"), 400
    with Session(engine()) as session, session.begin():
        note = Note(body=body, generation=GENERATION)
        session.add(note)
        session.flush()
        note_id = note.id
        emit(session, "note.created", {"note_id": note_id}, key=str(note_id))
    return jsonify(id=note_id, generation=GENERATION), 201


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args()
    app.run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
