"""Configuration: file discovery, precedence, types, and secrets only from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectral_deploy.config import load_config
from spectral_deploy.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    """No config file: embedded server under .spectral/pg of the working directory."""
    config = load_config(cwd=tmp_path, environ={})
    assert config.source == "defaults"
    assert config.database.url is None
    assert config.database.schema == "spectral"
    assert config.embedded_data_dir == tmp_path.resolve() / ".spectral" / "pg"


def test_spectral_toml_found_from_a_subdirectory(tmp_path: Path) -> None:
    """The nearest spectral.toml above the cwd is used and sets the project root."""
    write(tmp_path / "spectral.toml", '[database]\nschema = "ops"\n')
    sub = tmp_path / "app" / "web"
    sub.mkdir(parents=True)
    config = load_config(cwd=sub, environ={})
    assert config.database.schema == "ops"
    assert config.project_root == tmp_path.resolve()
    assert config.embedded_data_dir == tmp_path.resolve() / ".spectral" / "pg"


def test_pyproject_table_is_read(tmp_path: Path) -> None:
    """[tool.spectral-deploy] in pyproject.toml is a config file."""
    write(
        tmp_path / "pyproject.toml",
        '[project]\nname = "shop"\n\n[tool.spectral-deploy.database]\nschema = "deploys"\n',
    )
    config = load_config(cwd=tmp_path, environ={})
    assert config.database.schema == "deploys"
    assert config.source.endswith("pyproject.toml")


def test_pyproject_without_our_table_is_not_a_config(tmp_path: Path) -> None:
    """A pyproject.toml without our table does not stop the search or set values."""
    write(tmp_path / "pyproject.toml", '[project]\nname = "shop"\n')
    assert load_config(cwd=tmp_path, environ={}).source == "defaults"


def test_environment_overrides_file_and_flags_override_environment(tmp_path: Path) -> None:
    """Precedence: file < SPECTRAL_* environment < --set."""
    write(
        tmp_path / "spectral.toml", '[database]\nschema = "from_file"\nlock_timeout_seconds = 3\n'
    )
    environ = {
        "SPECTRAL_DATABASE_SCHEMA": "from_env",
        "SPECTRAL_DATABASE_LOCK_TIMEOUT_SECONDS": "7",
    }
    config = load_config(cwd=tmp_path, environ=environ)
    assert config.database.schema == "from_env"
    assert config.database.lock_timeout_seconds == 7
    config = load_config(cwd=tmp_path, environ=environ, overrides={"database.schema": "from_flag"})
    assert config.database.schema == "from_flag"


def test_database_url_from_the_conventional_variable(tmp_path: Path) -> None:
    """DATABASE_URL sets database.url, password and all."""
    url = "postgresql://app:s3cret@db.internal:5432/app"
    config = load_config(cwd=tmp_path, environ={"DATABASE_URL": url})
    assert config.database.url == url
    assert "s3cret" not in repr(config)


def test_password_in_the_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    """A password in database.url in a file is a ConfigError naming the key and the file."""
    path = write(tmp_path / "spectral.toml", '[database]\nurl = "postgresql://a:hunter2@h/db"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(cwd=tmp_path, environ={})
    message = str(caught.value)
    assert "database.url" in message
    assert str(path) in message
    assert "hunter2" not in message
    assert caught.value.hint is not None and "DATABASE_URL" in caught.value.hint


def test_password_on_the_command_line_is_refused(tmp_path: Path) -> None:
    """--set database.url with a password is refused too (command lines show up in ps)."""
    with pytest.raises(ConfigError, match=r"database\.url"):
        load_config(cwd=tmp_path, environ={}, overrides={"database.url": "postgresql://a:pw@h/db"})


def test_url_without_password_may_live_in_the_file(tmp_path: Path) -> None:
    """A URL that relies on .pgpass or peer auth is fine in the file."""
    write(tmp_path / "spectral.toml", '[database]\nurl = "postgresql://deploy@db.internal/app"\n')
    assert (
        load_config(cwd=tmp_path, environ={}).database.url == "postgresql://deploy@db.internal/app"
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[databse]\nschema = "x"\n', "databse"),
        ('[database]\nschemaa = "x"\n', "database.schemaa"),
        ('[database]\nlock_timeout_seconds = "soon"\n', "database.lock_timeout_seconds"),
        ("[database]\nschema = 5\n", "database.schema"),
        ("database = 5\n", "database"),
    ],
)
def test_bad_keys_and_types_name_the_key_and_the_file(tmp_path: Path, text: str, key: str) -> None:
    """Unknown sections, unknown keys and wrong types are errors naming key and file."""
    path = write(tmp_path / "spectral.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(cwd=tmp_path, environ={})
    assert caught.value.key == key
    assert caught.value.source == str(path)
    assert str(path) in str(caught.value)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    """A TOML syntax error names the file and the position."""
    path = write(tmp_path / "spectral.toml", "[database\n")
    with pytest.raises(ConfigError, match="invalid TOML") as caught:
        load_config(cwd=tmp_path, environ={})
    assert caught.value.source == str(path)


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    """A non-integer in SPECTRAL_DATABASE_LOCK_TIMEOUT_SECONDS names the variable."""
    with pytest.raises(ConfigError, match=r"\$SPECTRAL_DATABASE_LOCK_TIMEOUT_SECONDS"):
        load_config(cwd=tmp_path, environ={"SPECTRAL_DATABASE_LOCK_TIMEOUT_SECONDS": "ten"})


def test_unknown_override_key(tmp_path: Path) -> None:
    """--set with an unknown key is an error naming it."""
    with pytest.raises(ConfigError, match=r"database\.nope"):
        load_config(cwd=tmp_path, environ={}, overrides={"database.nope": "1"})


def test_explicit_config_file_must_exist(tmp_path: Path) -> None:
    """--config pointing nowhere is an error naming the path."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(cwd=tmp_path, environ={}, config_file=Path("missing.toml"))


def test_config_file_from_environment(tmp_path: Path) -> None:
    """SPECTRAL_CONFIG selects the file."""
    path = write(tmp_path / "ops.toml", '[embedded]\ndata_dir = "/var/lib/spectral/shop"\n')
    config = load_config(cwd=Path("/"), environ={"SPECTRAL_CONFIG": str(path)})
    assert config.embedded_data_dir == Path("/var/lib/spectral/shop")
