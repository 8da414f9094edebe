"""Where the generated workflows install spectral-deploy from: a pinned source, never a name.

The workflows run beside ``DATABASE_URL`` and the Render, Cloudflare and GitHub tokens, so
what they install must be exactly what the team chose. ``pip install spectral-deploy`` would
install whatever a package index serves under that name (today: nothing, so whoever
registers it first). ``init --install SPEC`` chooses one of:

- ``https://.../spectral_deploy-X-py3-none-any.whl#sha256=HEX``: a wheel the step downloads
  and checks against its sha256 before pip sees it;
- ``PATH.whl``: a wheel committed to the repository; init computes its sha256 and the step
  checks it after the checkout;
- ``git+https://github.com/OWNER/REPO@COMMIT``: a pinned VCS reference, a full 40-character
  commit (git checks the content against it; a tag or a branch can be moved, so they are
  refused).

Without ``--install``, the source spectral-deploy itself was installed from is used when pip
recorded a pinned one (PEP 610 ``direct_url.json``: a VCS commit, or a URL with its sha256);
otherwise there is nothing safe to write.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from importlib import metadata
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from spectral_deploy.errors import UsageError

__all__ = ["InstallKind", "InstallSource", "installed_source", "parse_install"]

DISTRIBUTION = "spectral-deploy"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_WHEEL_NAME = re.compile(r"^spectral_deploy-[A-Za-z0-9_.!+]+-[^/]+\.whl$")
_GIT = re.compile(
    r"^git\+(?P<url>https://[A-Za-z0-9.\-]+(?::\d+)?/[A-Za-z0-9_.\-/]+?)(?:\.git)?@(?P<ref>[^@#\s]+)$"
)
_SAFE_PATH = re.compile(r"^[A-Za-z0-9_.\-+!]+(/[A-Za-z0-9_.\-+!]+)*$")
HINT = (
    "spectral-deploy init --install https://HOST/spectral_deploy-VERSION-py3-none-any.whl#"
    "sha256=HEX  (or --install vendor/spectral_deploy-VERSION-py3-none-any.whl, or "
    "--install git+https://github.com/OWNER/REPO@COMMIT)"
)


class InstallKind(StrEnum):
    """How the workflows get spectral-deploy."""

    WHEEL_URL = "wheel"
    WHEEL_FILE = "wheel file"
    GIT = "git"


@dataclass(frozen=True)
class InstallSource:
    """A pinned source: a wheel and its sha256, or a git repository at one commit."""

    kind: InstallKind
    location: str  # the wheel's URL or repository path, or the git repository's URL
    pin: str  # the wheel's sha256, or the commit

    def describe(self) -> str:
        """One line for init's report."""
        if self.kind is InstallKind.GIT:
            return f"{self.location} at commit {self.pin}"
        return f"{self.location} (sha256 {self.pin[:16]}...)"

    def step(self, indent: str) -> str:
        """The workflow step that installs it, each line prefixed with ``indent``."""
        if self.kind is InstallKind.GIT:
            lines = [
                "- name: Install spectral-deploy (a pinned commit)",
                f'  run: python -m pip install "spectral-deploy @ git+{self.location}@{self.pin}"',
            ]
        elif self.kind is InstallKind.WHEEL_URL:
            lines = [
                "- name: Install spectral-deploy (a pinned wheel, checked against its sha256)",
                "  env:",
                f'    WHEEL_URL: "{self.location}"',
                f'    WHEEL_SHA256: "{self.pin}"',
                "  run: |",
                '    wheel="$RUNNER_TEMP/$(basename "$WHEEL_URL")"',
                '    curl --fail --silent --show-error --location --output "$wheel" "$WHEEL_URL"',
                '    echo "$WHEEL_SHA256  $wheel" | sha256sum --check --strict',
                '    python -m pip install "$wheel"',
            ]
        else:
            lines = [
                "- name: Install spectral-deploy (the wheel in the repository, checked)",
                "  env:",
                f'    WHEEL: "{self.location}"',
                f'    WHEEL_SHA256: "{self.pin}"',
                "  run: |",
                '    echo "$WHEEL_SHA256  $WHEEL" | sha256sum --check --strict',
                '    python -m pip install "./$WHEEL"',
            ]
        return "\n".join(indent + line for line in lines)


def parse_install(spec: str, root: Path) -> InstallSource:
    """``init --install SPEC`` -> a pinned source (UsageError naming what is missing)."""
    text = spec.strip()
    if text.startswith("git+"):
        found = _GIT.match(text)
        if found is None:
            raise UsageError(
                f"--install {spec!r}: expected git+https://HOST/OWNER/REPO@COMMIT", hint=HINT
            )
        ref = found["ref"].lower()
        if not _COMMIT.match(ref):
            raise UsageError(
                f"--install {spec!r}: {found['ref']!r} is not a full 40-character commit; a tag "
                "or a branch can be moved to other code",
                hint=HINT,
            )
        return InstallSource(InstallKind.GIT, found["url"], ref)
    if text.startswith(("https://", "http://")):
        url, _, fragment = text.partition("#")
        digest = fragment.removeprefix("sha256=").lower()
        if text.startswith("http://"):
            raise UsageError(f"--install {spec!r}: use https", hint=HINT)
        if not fragment.startswith("sha256=") or not _SHA256.match(digest):
            raise UsageError(
                f"--install {spec!r}: a wheel URL needs its sha256 (#sha256=<64 hex digits>)",
                hint=HINT,
            )
        name = PurePosixPath(urlsplit(url).path).name
        if urlsplit(url).query or not _WHEEL_NAME.match(name):
            raise UsageError(
                f"--install {spec!r}: the URL must end in the wheel's own file name "
                "(spectral_deploy-VERSION-...whl), which pip needs",
                hint=HINT,
            )
        return InstallSource(InstallKind.WHEEL_URL, url, digest)
    return _wheel_file(spec, root)


def _wheel_file(spec: str, root: Path) -> InstallSource:
    relative = spec.strip().removeprefix("./")
    path = (root / relative).resolve()
    inside = path.is_relative_to(root.resolve())
    if not inside or not _SAFE_PATH.match(relative) or not _WHEEL_NAME.match(path.name):
        raise UsageError(
            f"--install {spec!r}: expected a wheel URL with #sha256=, git+https://...@COMMIT, "
            "or the path of a spectral_deploy-*.whl inside this repository",
            hint=HINT,
        )
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise UsageError(f"--install {spec!r}: cannot read it: {exc.strerror}") from exc
    return InstallSource(InstallKind.WHEEL_FILE, relative, digest)


def installed_source(
    distribution: str = DISTRIBUTION, *, direct_url: str | None = None
) -> InstallSource | None:
    """The pinned source this spectral-deploy was installed from, if pip recorded one."""
    if direct_url is None:
        try:
            direct_url = metadata.distribution(distribution).read_text("direct_url.json")
        except metadata.PackageNotFoundError:
            return None
    if not direct_url:
        return None
    try:
        data = json.loads(direct_url)
    except ValueError:
        return None
    url = str(data.get("url") or "")
    vcs = data.get("vcs_info") or {}
    if vcs.get("vcs") == "git" and url.startswith("https://"):
        commit = str(vcs.get("commit_id") or "").lower()
        if _COMMIT.match(commit):
            return InstallSource(InstallKind.GIT, url.removesuffix(".git"), commit)
    archive = data.get("archive_info") or {}
    hashes = archive.get("hashes") or {}
    digest = str(hashes.get("sha256") or "").lower()
    name = PurePosixPath(urlsplit(url).path).name
    if url.startswith("https://") and _SHA256.match(digest) and _WHEEL_NAME.match(name):
        return InstallSource(InstallKind.WHEEL_URL, url, digest)
    return None
