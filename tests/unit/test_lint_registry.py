"""Rule selection from config and flags, and the [lint] config section."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectral_deploy.config import LintConfig, load_config
from spectral_deploy.errors import ConfigError, UsageError
from spectral_deploy.lint.registry import find_rule, select_rules

DEFAULTS = LintConfig()


def names(
    config: LintConfig = DEFAULTS, select: tuple[str, ...] = (), ignore: tuple[str, ...] = ()
) -> list[str]:
    return [rule.name for rule in select_rules(config, select=select, ignore=ignore)]


def test_defaults_leave_out_opt_in_rules() -> None:
    """Default selection: every rule on by default, drop-not-null off."""
    selected = names()
    assert "drop-table" in selected and "drop-not-null" not in selected


def test_config_enables_and_disables_by_name_or_code() -> None:
    """enable turns on an opt-in rule; disable takes names or codes."""
    selected = names(LintConfig(enable=("drop-not-null",), disable=("MC103", "rename-table")))
    assert "drop-not-null" in selected
    assert "drop-table" not in selected and "rename-table" not in selected


def test_select_replaces_and_ignore_removes() -> None:
    """--select runs exactly those rules; --ignore takes some away."""
    assert names(select=("drop-table", "mc102")) == ["drop-column", "drop-table"]
    assert names(select=("drop-table", "drop-column"), ignore=("drop-table",)) == ["drop-column"]


def test_unknown_rule_in_config_names_key_value_and_file() -> None:
    """A typo in the config is a ConfigError with the key, the value and the source."""
    with pytest.raises(ConfigError) as caught:
        select_rules(LintConfig(disable=("drop-tabel",)), source="/p/spectral.toml")
    assert "lint.disable" in str(caught.value) and "drop-tabel" in str(caught.value)
    assert "/p/spectral.toml" in str(caught.value)


def test_unknown_rule_on_the_command_line_is_a_usage_error() -> None:
    """A typo in --ignore names the flag and the value."""
    with pytest.raises(UsageError, match="--ignore: unknown rule 'nope'"):
        select_rules(LintConfig(), ignore=["nope"])


def test_find_rule_by_name_or_code() -> None:
    """Codes match case-insensitively."""
    assert find_rule("mc101") is find_rule("adding-required-column") is not None
    assert find_rule("no-such-rule") is None


def test_lint_section_from_file_environment_and_flags(tmp_path: Path) -> None:
    """[lint] reads from spectral.toml, SPECTRAL_LINT_* and --set, lists comma-separated."""
    (tmp_path / "spectral.toml").write_text(
        '[migrations]\ndirectory = "db/migrations"\n[lint]\ndisable = ["drop-table"]\n',
        encoding="utf-8",
    )
    config = load_config(cwd=tmp_path, environ={"SPECTRAL_LINT_ENABLE": "drop-not-null, MC114"})
    assert config.lint.disable == ("drop-table",)
    assert config.lint.enable == ("drop-not-null", "MC114")
    assert config.migrations_dir == tmp_path.resolve() / "db" / "migrations"
    config = load_config(cwd=tmp_path, environ={}, overrides={"lint.jobs": "1"})
    assert config.lint.jobs == 1


def test_lint_section_defaults(tmp_path: Path) -> None:
    """Without config: migrations/ under the project root, default rules, jobs per core."""
    config = load_config(cwd=tmp_path, environ={})
    assert config.lint == LintConfig()
    assert config.migrations_dir == tmp_path.resolve() / "migrations"


def test_lint_section_rejects_unknown_keys_and_bad_types(tmp_path: Path) -> None:
    """A misspelt key or a string where a list belongs is refused with the key."""
    (tmp_path / "spectral.toml").write_text('[lint]\ndisabled = ["x"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"lint\.disabled"):
        load_config(cwd=tmp_path, environ={})
    (tmp_path / "spectral.toml").write_text('[lint]\ndisable = "drop-table"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a list"):
        load_config(cwd=tmp_path, environ={})
