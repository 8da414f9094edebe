"""The PostgreSQL client programs a backup runs: found by major version, fed without secrets.

``pg_dump`` must match the server's major version, so the archive restores with
the same tools the server's operators have. Candidates, in order: the directory
pinned by ``backup.pg_bin_dir`` (then nothing else), the embedded server's
binaries, ``PATH``, and the usual per-version install locations.

Passwords never reach a command line (``ps`` shows those): the connection string
handed to the tool has none, the password travels in ``PGPASSWORD``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from spectral_deploy.db.embedded import bin_dir
from spectral_deploy.errors import EmbeddedServerError, ToolNotFound

__all__ = ["PgTool", "candidate_dirs", "find_tool", "libpq_target", "tool_version"]

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
VERSION_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class PgTool:
    """One client program and its version."""

    path: Path
    major: int
    version: str


def candidate_dirs(major: int, *, environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where a ``major`` client may live, most specific first (pinned dir excluded)."""
    environ = os.environ if environ is None else environ
    found: list[Path] = []
    with contextlib.suppress(EmbeddedServerError):  # no embedded wheel: look elsewhere
        found.append(bin_dir())
    found += [Path(p) for p in environ.get("PATH", "").split(os.pathsep) if p]
    found += [
        Path(f"/usr/lib/postgresql/{major}/bin"),
        Path(f"/usr/pgsql-{major}/bin"),
        Path(f"/opt/homebrew/opt/postgresql@{major}/bin"),
        Path(f"/usr/local/opt/postgresql@{major}/bin"),
        Path(f"/Applications/Postgres.app/Contents/Versions/{major}/bin"),
    ]
    unique: list[Path] = []
    for directory in found:
        if directory not in unique:
            unique.append(directory)
    return unique


@functools.cache
def tool_version(path: Path) -> tuple[int, str] | None:
    """``(major, "16.4")`` from ``path --version``; None when it is not a PostgreSQL tool."""
    try:
        result = subprocess.run(
            [str(path), "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(result.stdout)
    if result.returncode != 0 or match is None:
        return None
    version = match.group(1) + (f".{match.group(2)}" if match.group(2) else "")
    return int(match.group(1)), version


def find_tool(
    name: str,
    major: int,
    *,
    pinned_dir: Path | None = None,
    search: Sequence[Path] | None = None,
) -> PgTool:
    """The ``name`` program of PostgreSQL ``major``; ToolNotFound says what was seen where."""
    directories = [pinned_dir] if pinned_dir is not None else list(search or candidate_dirs(major))
    seen: list[str] = []
    for directory in directories:
        path = directory / name
        if not (path.is_file() and os.access(path, os.X_OK)):
            continue
        version = tool_version(path)
        if version is None:
            seen.append(f"{path} (not a PostgreSQL {name})")
            continue
        if version[0] == major:
            return PgTool(path=path, major=major, version=version[1])
        seen.append(f"{path} is {version[1]}")
    where = f" in {pinned_dir}" if pinned_dir is not None else ""
    found = f"; found only: {', '.join(seen)}" if seen else ""
    raise ToolNotFound(
        f"the server runs PostgreSQL {major}, and no {name} {major} was found{where}{found}",
        hint=f"install the PostgreSQL {major} client programs (Debian/Ubuntu: "
        f"apt-get install postgresql-client-{major}), or set backup.pg_bin_dir to their directory",
    )


def libpq_target(url: str, *, application_name: str) -> tuple[str, dict[str, str]]:
    """A connection string without the password, and the environment that carries it."""
    params = {k: v for k, v in conninfo_to_dict(url).items() if v is not None}
    password = params.pop("password", None)
    params["application_name"] = application_name
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: str(v) for k, v in params.items()}), env
