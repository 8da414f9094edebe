"""The CLI itself, in-process, over the fake world (``provider = "fake"``) and the real
PostgreSQL: exit codes and what the commands print after a crash at ``flip:dns-changed``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from spectral_deploy.cli.main import main
from spectral_deploy.db import Database
from spectral_deploy.providers.base import Color
from spectral_deploy.providers.fake import register, unregister
from tests.integration.fakeworld import Operator, SimulatedCrash, crash_at

CONFIG = """
[hosting]
provider = "fake"
workers = 1

[dns]
provider = "fake"
record = "app.example.test"
blue_target = "blue.example.test"
green_target = "green.example.test"
ttl = 1

[vcs]
provider = "fake"

[deploy]
smoke_paths = ["/health", "/smoke"]
health_timeout_seconds = 1
workers_ready_timeout_seconds = 1
"""


@pytest.fixture
def project(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Operator]:
    """A project directory whose spectral.toml selects the fake providers of its world."""
    (tmp_path / "spectral.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    for name in ("SPECTRAL_CRASH_AT", "SPECTRAL_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database.url)
    operator = Operator.start(tmp_path, database)
    register(operator.world, tmp_path)
    try:
        yield operator
    finally:
        unregister(tmp_path)
        operator.world.close()


def cli(*args: str) -> int:
    """``spectral-deploy ARGS``: its exit code."""
    with pytest.raises(SystemExit) as ended:
        main(list(args))
    return int(ended.value.code or 0)


def test_abort_exits_3_after_an_unrecorded_flip_and_resume_fixes_it(
    project: Operator, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reproduction through the CLI: `deploy abort --yes` exits 3 naming both ways out and
    stops nothing; `status --format json` is critical; the advised `deploy resume` exits 0."""
    assert cli("deploy", "v1.0.0") == 0
    with pytest.raises(SimulatedCrash), crash_at("flip:dns-changed"):
        main(["deploy", "v2.0.0"])
    capsys.readouterr()
    assert cli("deploy", "abort", "--yes") == 3
    err = capsys.readouterr().err
    assert "never recorded" in err
    assert "spectral-deploy deploy resume" in err
    assert "spectral-deploy rollback run --symptom behavior" in err
    assert project.world.serving(Color.GREEN)
    assert cli("status", "--format", "json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["live"]["generation"] == 2 and status["live"]["recorded_generation"] == 1
    (critical,) = [a for a in status["next"] if a["level"] == "critical"]
    assert critical["commands"][0] == "spectral-deploy deploy resume"
    assert cli(*critical["commands"][0].split()[1:]) == 0
    capsys.readouterr()
    assert cli("deploy", "status", "--format", "json") == 0
    deploy = json.loads(capsys.readouterr().out)["deploy"]
    assert (deploy["phase"], deploy["generation"]) == ("HoldWindow", 2)


def test_rollback_plan_reads_the_record_and_run_is_class_2(
    project: Operator, capsys: pytest.CaptureFixture[str]
) -> None:
    """After the same crash, `rollback plan --symptom behavior` is Class 2 (it used to read
    the flag and say Class 1) and `rollback run` completes with traffic back on blue."""
    assert cli("deploy", "v1.0.0") == 0
    with pytest.raises(SimulatedCrash), crash_at("flip:dns-changed"):
        main(["deploy", "v2.0.0"])
    capsys.readouterr()
    assert cli("rollback", "plan", "--symptom", "behavior", "--format", "json") == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["class"] == 2 and plan["facts"]["cutover_completed"] is True
    assert cli("rollback", "run", "--symptom", "behavior", "--yes") == 0
    assert "rollback #1 completed" in capsys.readouterr().out
    assert project.world.color_at(project.world.record.target) is Color.BLUE
