"""The foundation commands end to end, as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.acceptance.conftest import Project

COMMANDS = [
    [],
    ["db"],
    ["db", "start"],
    ["db", "stop"],
    ["db", "status"],
    ["db", "url"],
    ["db", "init"],
    ["ledger"],
    ["ledger", "show"],
    ["generations"],
    ["generations", "list"],
    ["generations", "allocate"],
    ["outbox"],
    ["outbox", "status"],
    ["outbox", "dead"],
    ["outbox", "dead", "list"],
    ["outbox", "dead", "retry"],
    ["outbox", "dead", "discard"],
    ["worker"],
    ["drain"],
    ["migrate"],
    ["migrate", "status"],
    ["migrate", "apply"],
    ["migrate", "fix-forward"],
    ["rollback"],
    ["rollback", "plan"],
    ["rollback", "run"],
    ["rollback", "notify"],
    ["hosting"],
    ["hosting", "status"],
    ["hosting", "stop"],
    ["hosting", "scale"],
    ["deploy"],
    ["deploy", "start"],
    ["deploy", "resume"],
    ["deploy", "abort"],
    ["deploy", "finish"],
    ["deploy", "status"],
    ["deploy", "watch"],
    ["deploy", "list"],
    ["sandbox"],
    ["sandbox", "down"],
    ["demo"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_every_command_explains_itself_with_an_example(
    project: Project, command: list[str]
) -> None:
    """--help works without a database and shows an example."""
    result = project.run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert "Example" in result.stdout


def test_embedded_server_lifecycle(project: Project) -> None:
    """status (stopped) -> start -> url -> init twice -> status json -> stop."""
    stopped = project.run("db", "status")
    assert stopped.returncode == 3
    assert "not running" in stopped.stderr
    assert "next: spectral-deploy db start" in stopped.stderr

    started = project.run("db", "start")
    assert started.returncode == 0, started.stderr
    assert (project.root / ".spectral" / "pg" / "data" / "PG_VERSION").is_file()

    url = project.run("db", "url")
    assert url.returncode == 0
    # Spectral's own URL is the owner role's, never the superuser's (issue 18)
    assert url.stdout.strip().startswith("postgresql://spectral_owner@/spectral?host=")

    first = project.run("db", "init")
    second = project.run("db", "init")
    assert first.returncode == 0 and "applied migration(s) 1, 2" in first.stdout
    assert second.returncode == 0 and "up to date" in second.stdout

    status = project.run("db", "status", "--format", "json")
    report = json.loads(status.stdout)
    assert report["running"] is True
    assert report["schema_version"] == report["required_schema_version"]

    assert project.run("db", "stop").returncode == 0
    assert project.run("db", "status").returncode == 3


def test_commands_start_the_server_on_first_use(project: Project) -> None:
    """A stopped server is started by the first command that needs it, and reused."""
    project.run("db", "stop")
    allocated = project.run(
        "generations", "allocate", "--tag", "v1.0.0", "--commit", "abc123", "--format", "json"
    )
    assert allocated.returncode == 0, allocated.stderr
    generation = json.loads(allocated.stdout)["generation"]
    listed = json.loads(project.run("generations", "list", "--format", "json").stdout)
    assert listed["generations"][0]["generation"] == generation
    ledger = json.loads(project.run("ledger", "show", "--format", "json").stdout)
    assert ledger["entries"][-1]["action"] == "allocate"
    assert ledger["entries"][-1]["generation"] == generation
    text = project.run("ledger", "show", "--kind", "generation")
    assert "allocate" in text.stdout


def test_demo_tells_the_whole_story_and_cleans_up(project: Project) -> None:
    """make demo: two rollbacks (Class 2 and 3) under traffic, nothing lost, nothing left."""
    result = project.run("demo", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    workdir = first.rsplit(" in ", 1)[1]
    assert workdir.startswith(tempfile.gettempdir())
    assert "$ spectral-deploy rollback run --symptom behavior --yes" in result.stdout
    assert "$ spectral-deploy rollback run --symptom data --yes" in result.stdout
    assert "0 lost" in result.stdout
    assert not Path(workdir).exists(), "the demo deletes its project"
    leftovers = subprocess.run(
        ["pgrep", "-f", workdir], capture_output=True, text=True, check=False
    ).stdout.split()
    assert leftovers == [], "the demo stops every process it started"


def test_demo_json_summary(project: Project) -> None:
    """--format json: the documented shape, every figure counted, lost = 0."""
    result = project.run("demo", "--format", "json", timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    assert [s["class"] for s in summary["scenarios"]] == [2, 3]
    assert all(s["ok"] and s["seconds"] > 0 for s in summary["scenarios"])
    assert summary["requests"]["served"] > 0
    assert set(summary["requests"]["failed_by_cause"]) <= {"app fault"}
    events = summary["events"]
    assert events["emitted"] == events["handled"] > 0
    assert events["lost"] == 0


def test_config_error_names_file_and_key(project: Project) -> None:
    """A bad key is exit 2 with `error: <file>: <key>: ...`."""
    config = project.root / "spectral.toml"
    config.write_text("[database]\nschemaa = 'x'\n")
    try:
        result = project.run("ledger", "show")
    finally:
        config.unlink()
    assert result.returncode == 2
    assert f"error: {config}: database.schemaa: unknown key" in result.stderr


def test_unreachable_database_is_one_clear_line(project: Project) -> None:
    """Exit 3, host and port named, no traceback, no password."""
    url = "postgresql://deploy:hunter2@127.0.0.1:9/app"
    result = project.run("ledger", "show", env={"DATABASE_URL": url})
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: cannot reach PostgreSQL at 127.0.0.1:9/app")
    assert lines[1].startswith("  next: ")
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_verbose_shows_the_traceback(project: Project) -> None:
    """-v adds the traceback to the error line."""
    result = project.run(
        "-v", "ledger", "show", env={"DATABASE_URL": "postgresql://x@127.0.0.1:9/app"}
    )
    assert result.returncode == 3
    assert "Traceback" in result.stderr


def test_usage_errors_exit_2_and_point_at_help(project: Project) -> None:
    """Unknown options are exit 2 with the help command to run."""
    result = project.run("ledger", "show", "--bogus")
    assert result.returncode == 2
    assert "No such option: --bogus" in result.stderr
    assert "spectral-deploy ledger show --help" in result.stderr


def test_version(project: Project) -> None:
    """--version prints the version."""
    result = project.run("--version")
    assert re.fullmatch(r"spectral-deploy \d+\.\d+\.\d+\n", result.stdout)
