"""The app's environment from the command line: no migrations is not a pass at deploy step 3,
`migrate status` does not guess another tool's record, `logs` reads the slots' output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from spectral_deploy.sandbox.shop import ShopRelease
from tests.acceptance.conftest import Project
from tests.acceptance.sandbox import make_sandbox


def test_deploy_step_3_stops_when_the_release_has_no_migrations() -> None:
    """A release whose configured migrations are missing fails at step 3, naming why."""
    sandbox = make_sandbox((ShopRelease("v1.0.0", "1.0.0", migrations=0),))
    try:
        result = sandbox.run("deploy", "v1.0.0")
        assert result.returncode == 1, result.stdout + result.stderr
        output = result.stdout + result.stderr
        assert "migrations directory migrations does not exist" in output
        deploy = sandbox.deploy_status()
        assert deploy["phase"] == "Failed"
        failed = [s["name"] for s in deploy["steps"] if s["state"] == "failed"]
        assert failed == ["lint-migrations"], deploy["steps"]
    finally:
        sandbox.down()
        shutil.rmtree(sandbox.root, ignore_errors=True)


def test_migrate_status_does_not_guess_another_tools_record(
    project: Project, tmp_path: Path
) -> None:
    """With [migrations] command (dbmate, ...) the files' state is unknown, never pending."""
    for command in (("db", "start"), ("db", "init")):  # status only reads: make what it reads
        made = project.run(*command)
        assert made.returncode == 0, made.stderr
    root = project.root / "dbmate-app"
    (root / "migrations").mkdir(parents=True)
    (root / "migrations" / "0001_init.sql").write_text("CREATE TABLE t (id int);\n")
    (root / "spectral.toml").write_text(
        '[migrations]\ncommand = "dbmate up"\n'
        f'[embedded]\ndata_dir = "{project.root / ".spectral" / "pg"}"\n'
    )
    result = Project(root).run("migrate", "status", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["source"] == "unknown"
    assert [(m["name"], m["state"]) for m in document["migrations"]] == [
        ("0001_init.sql", "unknown")
    ]
    assert "cannot know which are applied" in document["note"]
    text = Project(root).run("migrate", "status")
    assert "pending" not in text.stdout
    assert "cannot know which are applied" in text.stderr


def test_logs_prints_a_slots_output_and_says_when_there_is_none(project: Project) -> None:
    """logs [COLOR] [--worker] [--lines N]: the last lines, labelled when several files."""
    root = project.root / "logs-app"
    root.mkdir()
    (root / "spectral.toml").write_text("")
    nothing = Project(root).run("logs")
    assert nothing.returncode == 2
    assert "no web log for blue, green yet" in nothing.stderr
    hosting = root / ".spectral" / "hosting"
    (hosting / "blue").mkdir(parents=True)
    (hosting / "green").mkdir(parents=True)
    (hosting / "blue" / "web.log").write_text("one\ntwo\nthree\n")
    (hosting / "green" / "worker-1.log").write_text("claimed 3 rows\n")
    blue = Project(root).run("logs", "blue", "--lines", "2")
    assert (blue.returncode, blue.stdout) == (0, "two\nthree\n")
    workers = Project(root).run("logs", "--worker")
    assert (workers.returncode, workers.stdout) == (0, "claimed 3 rows\n")
    both = Project(root).run("logs", "-n", "1")
    assert both.stdout == "three\n"
    assert Project(root).run("logs", "purple").returncode == 2
