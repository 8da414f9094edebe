"""The [backup] configuration section: defaults, types, precedence and secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectral_deploy.config import load_config
from spectral_deploy.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_backup_defaults(tmp_path: Path) -> None:
    """No [backup] table: local storage under .spectral/backups, 7/4/6 kept, no recipients."""
    backup = load_config(cwd=tmp_path, environ={}).backup
    assert backup.storage == "file://.spectral/backups"
    assert backup.recipients == ()
    assert (backup.keep_daily, backup.keep_weekly, backup.keep_monthly) == (7, 4, 6)
    assert backup.pg_bin_dir is None
    assert backup.scratch_server_url is None


def test_backup_section_from_the_file(tmp_path: Path) -> None:
    """Every key of [backup] is read with its declared type."""
    write(
        tmp_path / "spectral.toml",
        "[backup]\n"
        'storage = "gs://shop-backups/prod"\n'
        'recipients = ["age1one", "age1two"]\n'
        "keep_daily = 3\nkeep_weekly = 2\nkeep_monthly = 12\n"
        'pg_bin_dir = "/usr/lib/postgresql/16/bin"\n',
    )
    backup = load_config(cwd=tmp_path, environ={}).backup
    assert backup.storage == "gs://shop-backups/prod"
    assert backup.recipients == ("age1one", "age1two")
    assert (backup.keep_daily, backup.keep_weekly, backup.keep_monthly) == (3, 2, 12)
    assert backup.pg_bin_dir == Path("/usr/lib/postgresql/16/bin")


def test_recipients_from_the_environment_are_comma_separated(tmp_path: Path) -> None:
    """SPECTRAL_BACKUP_RECIPIENTS=a,b overrides the file's list; --set overrides both."""
    write(tmp_path / "spectral.toml", '[backup]\nrecipients = ["age1file"]\n')
    environ = {"SPECTRAL_BACKUP_RECIPIENTS": "age1env, age1breakglass"}
    assert load_config(cwd=tmp_path, environ=environ).backup.recipients == (
        "age1env",
        "age1breakglass",
    )
    flagged = load_config(
        cwd=tmp_path, environ=environ, overrides={"backup.keep_daily": "30"}
    ).backup
    assert flagged.keep_daily == 30


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[backup]\nkeep_daily = -1\n", "backup.keep_daily"),
        ('[backup]\nkeep_weekly = "many"\n', "backup.keep_weekly"),
        ('[backup]\nrecipients = "age1notalist"\n', "backup.recipients"),
        ('[backup]\nstorag = "gs://x"\n', "backup.storag"),
    ],
)
def test_bad_backup_values_name_the_key_and_file(tmp_path: Path, text: str, key: str) -> None:
    """Negative counts, wrong types and unknown keys are ConfigErrors naming key and file."""
    path = write(tmp_path / "spectral.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(cwd=tmp_path, environ={})
    assert caught.value.key == key
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("scratch_server_url", "postgresql://verify:hunter2@scratch/postgres"),
        ("storage", "s3://AKIA:hunter2@bucket/prefix"),
    ],
)
def test_passwords_in_backup_urls_are_refused(tmp_path: Path, key: str, url: str) -> None:
    """A secret inside a backup URL in the file is refused without being echoed."""
    write(tmp_path / "spectral.toml", f'[backup]\n{key} = "{url}"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(cwd=tmp_path, environ={})
    assert caught.value.key == f"backup.{key}"
    assert "hunter2" not in str(caught.value)


def test_scratch_server_url_is_not_in_repr(tmp_path: Path) -> None:
    """The scratch server URL never reaches repr (it may carry a user name)."""
    config = load_config(
        cwd=tmp_path,
        environ={"SPECTRAL_BACKUP_SCRATCH_SERVER_URL": "postgresql://verify:pw@scratch/postgres"},
    )
    assert "pw@" not in repr(config)
