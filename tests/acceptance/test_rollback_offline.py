"""Communications without the database: rollback notify and rollback run --dry-run work from
--facts and config when the database does not answer (the CLI as a subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.conftest import Project

GONE = {"DATABASE_URL": "postgresql://deploy@127.0.0.1:9/app"}


def facts_file(tmp_path: Path) -> Path:
    path = tmp_path / "facts.json"
    path.write_text(
        json.dumps(
            {
                "cutover_completed": True,
                "blue_warm": True,
                "tag": "v1.8.0",
                "from_generation": 7,
                "to_generation": 8,
            }
        )
    )
    return path


def test_notify_tells_the_incident_from_facts_when_the_database_is_gone(
    project: Project, tmp_path: Path
) -> None:
    """Dry run, then for real: chat sent unrecorded, the incident note waits; exit 0."""
    facts = facts_file(tmp_path)
    shown = project.run("rollback", "notify", "--facts", str(facts), "--dry-run", env=GONE)
    assert shown.returncode == 0, shown.stderr
    assert "chat: dry-run:" in shown.stdout and "v1.8.0" in shown.stdout
    assert "Class 5" in shown.stdout
    assert "incident: pending:" in shown.stdout
    sent = project.run("rollback", "notify", "--facts", str(facts), env=GONE)
    assert sent.returncode == 0, sent.stderr
    assert "chat: sent:" in sent.stdout and "not recorded: the database is down" in sent.stdout
    chat_log = (project.root / ".spectral" / "chat.log").read_text()
    assert "v1.8.0" in chat_log and "not recorded (the database is down)" in chat_log
    assert not (project.root / "docs" / "incidents.md").exists()


def test_notify_without_facts_names_the_flag(project: Project) -> None:
    """Database gone and no --facts: exit 3 naming --facts, never a traceback."""
    refused = project.run("rollback", "notify", env=GONE)
    assert refused.returncode == 3
    assert "--facts" in refused.stderr and "Traceback" not in refused.stderr


def test_run_dry_run_plans_and_shows_the_messages_when_the_database_is_gone(
    project: Project, tmp_path: Path
) -> None:
    """rollback run --dry-run --facts: the Class 5 plan and the messages, nothing changed."""
    result = project.run(
        "rollback", "run", "--dry-run", "--symptom", "behavior", "--facts",
        str(facts_file(tmp_path)), env=GONE,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Class 5" in result.stdout
    assert "spectral-deploy backup list" in result.stdout
    assert "chat: dry-run:" in result.stdout
    assert "dry run: nothing changed" in result.stdout
