"""Finding 5: read-only commands create nothing: no server, no database, no schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.security.conftest import cli

READ_ONLY = [
    ("status",),
    ("ledger", "show"),
    ("generations", "list"),
    ("outbox", "status"),
    ("outbox", "dead", "list"),
    ("deploy", "status"),
    ("deploy", "list"),
    ("migrate", "status"),
    ("drain", "--target-generation", "1", "--dry-run"),
    ("db", "status"),
]


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_command_on_a_directory_that_holds_no_server(
    workdir: Path, command: tuple[str, ...]
) -> None:
    """A mistyped data directory (here one with files, like /etc) is left untouched: exit 3."""
    mistyped = workdir / "etc"
    mistyped.mkdir()
    (mistyped / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    mistyped.chmod(0o755)
    before = (_tree(mistyped), mistyped.stat().st_mode)
    result = cli(workdir, *command, env={"SPECTRAL_EMBEDDED_DATA_DIR": str(mistyped)})
    assert result.returncode == 3, result.stdout + result.stderr
    assert "nothing is deployed" not in result.stdout
    assert "spectral-deploy db start" in result.stderr
    assert (_tree(mistyped), mistyped.stat().st_mode) == before


def test_read_only_commands_on_a_missing_data_directory(workdir: Path) -> None:
    """No .spectral/pg at all: each read-only command says so (exit 3) and creates nothing."""
    for command in READ_ONLY:
        result = cli(workdir, *command)
        assert result.returncode == 3, (command, result.stdout, result.stderr)
        assert "spectral-deploy db start" in result.stderr, (command, result.stderr)
    assert not (workdir / ".spectral").exists()


def test_read_only_commands_never_install_the_schema(workdir: Path) -> None:
    """A server without Spectral's schema, or a mistyped schema: exit 3, `db init`, none made."""
    try:
        assert cli(workdir, "db", "start").returncode == 0
        for command in READ_ONLY[:-1]:
            result = cli(workdir, *command)
            assert result.returncode == 3, (command, result.stdout, result.stderr)
            assert "spectral-deploy db init" in result.stderr, (command, result.stderr)
        report = json.loads(cli(workdir, "db", "status", "--format", "json").stdout)
        assert report["schema_version"] is None

        assert cli(workdir, "db", "init").returncode == 0
        typo = cli(workdir, "--set", "database.schema=spectrall", "ledger", "show")
        assert typo.returncode == 3 and "spectral-deploy db init" in typo.stderr
        assert "'spectrall' is not installed" in typo.stderr
        report = json.loads(
            cli(
                workdir, "--set", "database.schema=spectrall", "db", "status", "--format", "json"
            ).stdout
        )
        assert report["schema_version"] is None
    finally:
        cli(workdir, "db", "stop")
