"""The sample shop as a git repository of releases, for the tests and the demo.

The app's files come from ``examples/shop`` (or the copy packaged in the wheel). Each
``ShopRelease`` becomes one commit and one tag: its ``shop/release.py`` says the version,
the fault it carries (``behavior`` for Class 2, ``data`` for Class 3) and whether it writes
the expand migration's column; it ships the migrations up to ``migrations``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from spectral_deploy.errors import InputError

__all__ = [
    "STANDARD_RELEASES",
    "Ports",
    "ShopRelease",
    "add_release",
    "build_repository",
    "free_port",
    "local_settings",
    "template_dir",
]


@dataclass(frozen=True)
class ShopRelease:
    """One tag of the sample app."""

    tag: str
    version: str
    migrations: int
    fault: str | None = None
    writes_email: bool = True
    extra_files: Mapping[str, str] | None = None


STANDARD_RELEASES = (
    ShopRelease("v1.0.0", "1.0.0", migrations=2, writes_email=False),
    ShopRelease("v1.1.0", "1.1.0", migrations=3),
)


@dataclass(frozen=True)
class Ports:
    """The loopback ports of a sandbox: each color's web app and the router (the record)."""

    blue: int
    green: int
    router: int

    @classmethod
    def free(cls) -> Ports:
        """Three ports nothing listens on now."""
        return cls(blue=free_port(), green=free_port(), router=free_port())


def local_settings(ports: Ports, *, workers: int = 1, ttl: int = 1, tuning: str = "") -> str:
    """A ``spectral.toml`` that runs the shop on the local providers: the supervisor runs each
    color's web app and ``workers`` worker processes, the router on ``ports.router`` is the DNS
    record with a ``ttl``-second TTL. ``tuning`` (more TOML: ``[deploy]``, ``[outbox]``) is
    appended as it is."""
    return f"""[hosting]
provider = "local"
web_command = "{{python}} -m shop.web --port {{port}}"
worker_app = "shop.handlers:handlers"
workers = {workers}
blue_port = {ports.blue}
green_port = {ports.green}

[dns]
provider = "local"
record = "shop.localhost"
listen = "127.0.0.1:{ports.router}"
ttl = {ttl}
{tuning}"""


def free_port() -> int:
    """A loopback TCP port nothing listens on now. Not reserved: another process may take it
    before ours binds it. Used only where ``spectral.toml`` must name a port before its server
    starts (the app slots' ``blue_port``/``green_port``, the router's ``[dns] listen``, which
    the deploy reads to reach them); a server that can report its port binds 0 instead."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def template_dir() -> Path:
    """``examples/shop`` of a source checkout, else the copy inside the installed package."""
    checkout = Path(__file__).resolve().parents[3] / "examples" / "shop"
    if (checkout / "shop" / "web.py").is_file():
        return checkout
    packaged = Path(__file__).resolve().parent / "shop_template"
    if (packaged / "shop" / "web.py").is_file():
        return packaged
    raise InputError("the sample shop is missing (examples/shop)")


def build_repository(
    destination: Path,
    releases: Iterable[ShopRelease] = STANDARD_RELEASES,
    *,
    settings: str | None = None,
) -> dict[str, str]:
    """Create a git repository at ``destination`` with one tagged commit per release.

    ``settings`` replaces the template's ``spectral.toml``. Returns tag -> commit.
    """
    template = template_dir()
    destination.mkdir(parents=True, exist_ok=True)
    _git(destination, "init", "--quiet", "--initial-branch=main")
    _git(destination, "config", "user.name", "Spectral Sandbox")
    _git(destination, "config", "user.email", "sandbox@spectral.invalid")
    (destination / ".gitignore").write_text(".spectral/\n__pycache__/\n")
    (destination / "spectral.toml").write_text(
        settings if settings is not None else (template / "spectral.toml").read_text()
    )
    return {release.tag: add_release(destination, release) for release in releases}


def add_release(destination: Path, release: ShopRelease) -> str:
    """Commit and tag ``release`` on top of the repository; returns its commit."""
    template = template_dir()
    shutil.copytree(
        template / "shop",
        destination / "shop",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (destination / "shop" / "release.py").write_text(_release_module(release))
    target = destination / "migrations"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for path in sorted((template / "migrations").glob("*.sql"))[: release.migrations]:
        shutil.copy2(path, target / path.name)
    for relative, text in (release.extra_files or {}).items():
        extra = destination / relative
        extra.parent.mkdir(parents=True, exist_ok=True)
        extra.write_text(text)
    _git(destination, "add", "--all")
    _git(destination, "commit", "--quiet", "--allow-empty", "-m", f"shop {release.version}")
    _git(destination, "tag", "-a", release.tag, "-m", f"release {release.version}")
    return _git(destination, "rev-parse", "HEAD").strip()


def _release_module(release: ShopRelease) -> str:
    return (
        '"""What this release is. Each tag of the sample app changes these lines."""\n\n'
        f"VERSION = {release.version!r}\n"
        f"FAULT: str | None = {release.fault!r}\n"
        f"WRITES_EMAIL = {release.writes_email!r}\n"
    )


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise InputError(f"git {args[0]} failed in {root}: {result.stderr.strip()}")
    return result.stdout
