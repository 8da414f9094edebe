"""The lint's fast settings reader agrees with the full configuration, or steps aside."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectral_deploy.config import LintConfig, MigrationsConfig, load_config
from spectral_deploy.lint import settings


def both(cwd: Path, environ: dict[str, str] | None = None) -> tuple[object, object]:
    """The fast reading and the full configuration's, for the same directory."""
    fast = settings.load(cwd, environ or {})
    full = settings.from_config(load_config(cwd=cwd, environ=environ or {}))
    return fast, full


def test_the_defaults_are_the_configurations(tmp_path: Path) -> None:
    """No file: the same defaults as LintConfig and MigrationsConfig."""
    fast, full = both(tmp_path)
    assert fast == full
    assert isinstance(fast, settings.LintSettings)
    assert fast.max_file_bytes == LintConfig().max_file_bytes
    assert fast.migrations_dir == tmp_path.resolve() / MigrationsConfig().directory


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "spectral.toml",
            '[lint]\nenable = ["drop-not-null"]\ndisable = ["MC203"]\njobs = 2\n'
            'override_scope = "statement"\nmax_file_bytes = 1000\n'
            '[migrations]\ndirectory = "db/migrations"\n[database]\nschema = "ops"\n',
        ),
        (
            "pyproject.toml",
            '[project]\nname = "x"\n[tool.spectral-deploy.lint]\njobs = 1\n'
            '[tool.spectral-deploy.migrations]\ndirectory = "/abs/migrations"\n',
        ),
    ],
)
def test_a_config_file_reads_the_same(tmp_path: Path, name: str, text: str) -> None:
    """spectral.toml or pyproject.toml, found from a subdirectory: identical settings."""
    (tmp_path / name).write_text(text, encoding="utf-8")
    below = tmp_path / "a" / "b"
    below.mkdir(parents=True)
    fast, full = both(below)
    assert fast == full


@pytest.mark.parametrize(
    ("text", "environ"),
    [
        ("[lint]\njobs = 1\n", {"SPECTRAL_LINT_JOBS": "3"}),
        ("[migrations]\ndirectory = 'x'\n", {"SPECTRAL_MIGRATIONS_DIRECTORY": "y"}),
        ("[lint]\njobz = 1\n", {}),
        ("[lint]\njobs = true\n", {}),
        ("[lint]\njobs = '2'\n", {}),
        ("[lint]\nenable = [1]\n", {}),
        ("[lint]\n", {"SPECTRAL_CONFIG": "other.toml"}),
        ("[lint\n", {}),
        ("lint = 3\n", {}),
    ],
)
def test_anything_unusual_goes_to_the_full_loader(
    tmp_path: Path, text: str, environ: dict[str, str]
) -> None:
    """Environment overrides, unknown keys, wrong types, bad TOML: None (full loader decides)."""
    (tmp_path / "spectral.toml").write_text(text, encoding="utf-8")
    assert settings.load(tmp_path, environ) is None


def test_other_sections_are_left_to_their_commands(tmp_path: Path) -> None:
    """A section the lint does not read is not validated here."""
    (tmp_path / "spectral.toml").write_text("[outbox]\nlease_seconds = 'soon'\n")
    fast = settings.load(tmp_path, {})
    assert fast is not None and fast.jobs == 0
