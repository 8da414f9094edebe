"""The exception tree and its exit codes."""

from __future__ import annotations

import pytest

from spectral_deploy import errors


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.CheckFailed("x"), 1),
        (errors.DatabaseError("x"), 1),
        (errors.LedgerIsAppendOnly("x"), 1),
        (errors.UsageError("x"), 2),
        (errors.InputError("x"), 2),
        (errors.ConfigError("x", key="k", source="f"), 2),
        (errors.PreconditionFailed("x"), 3),
        (errors.DatabaseUnreachable("x"), 3),
        (errors.SchemaNotInstalled("x"), 3),
        (errors.EmbeddedServerError("x"), 3),
        (errors.BackupCorrupt("x"), 1),
        (errors.ToolFailed("x"), 1),
        (errors.WrongIdentity("x"), 2),
        (errors.ToolNotFound("x"), 3),
        (errors.StorageUnavailable("x"), 3),
        (errors.TargetNotEmpty("x"), 3),
        (errors.RetentionLocked("x"), 3),
    ],
)
def test_exit_codes(error: errors.SpectralError, code: int) -> None:
    """0 ok, 1 check failed, 2 usage/config/input, 3 precondition."""
    assert error.exit_code == code
    assert isinstance(error, errors.SpectralError)


def test_config_error_names_source_and_key() -> None:
    """A config error reads `file: key: problem`."""
    error = errors.ConfigError("expected an integer", key="database.port", source="spectral.toml")
    assert str(error) == "spectral.toml: database.port: expected an integer"


def test_hint_is_kept() -> None:
    """The hint (next command) travels with the error."""
    assert errors.SchemaNotInstalled("x", hint="spectral-deploy db init").hint == (
        "spectral-deploy db init"
    )
