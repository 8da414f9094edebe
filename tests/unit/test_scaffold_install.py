"""`init --install`: the workflows install spectral-deploy from a pinned source with its hash
(a wheel and its sha256, or a full commit), never from a name a package index serves."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from spectral_deploy.errors import UsageError
from spectral_deploy.scaffold.install import (
    InstallKind,
    InstallSource,
    installed_source,
    parse_install,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SHA = "ab" * 32
WHEEL = "spectral_deploy-0.1.0-py3-none-any.whl"


def test_a_wheel_url_with_its_sha256(tmp_path: Path) -> None:
    """https://.../spectral_deploy-*.whl#sha256=HEX: the step downloads, checks, installs."""
    source = parse_install(f"https://dl.example.com/x/{WHEEL}#sha256={SHA.upper()}", tmp_path)
    assert source == InstallSource(InstallKind.WHEEL_URL, f"https://dl.example.com/x/{WHEEL}", SHA)
    step = source.step("")
    assert "sha256sum --check --strict" in step
    assert step.index("sha256sum") < step.index("pip install")


def test_a_wheel_in_the_repository_is_hashed_by_init(tmp_path: Path) -> None:
    """A committed wheel: init computes its sha256; the step checks it after the checkout."""
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / WHEEL).write_bytes(b"wheel bytes")
    source = parse_install(f"./vendor/{WHEEL}", tmp_path)
    assert source.kind is InstallKind.WHEEL_FILE and source.location == f"vendor/{WHEEL}"
    assert source.pin == hashlib.sha256(b"wheel bytes").hexdigest()
    assert 'python -m pip install "./$WHEEL"' in source.step("")


def test_a_git_reference_pinned_to_a_full_commit(tmp_path: Path) -> None:
    """git+https://HOST/OWNER/REPO@COMMIT, installed as `spectral-deploy @ git+...@COMMIT`."""
    source = parse_install(f"git+https://github.com/acme/spectral-deploy.git@{COMMIT}", tmp_path)
    assert source.location == "https://github.com/acme/spectral-deploy"
    assert f"spectral-deploy @ git+https://github.com/acme/spectral-deploy@{COMMIT}" in (
        source.step("")
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("spectral-deploy==0.1.0", "a wheel URL with #sha256="),
        ("spectral-deploy", "a wheel URL with #sha256="),
        (f"https://dl.example.com/{WHEEL}", "needs its sha256"),
        (f"https://dl.example.com/{WHEEL}#sha256=abc", "needs its sha256"),
        (f"http://dl.example.com/{WHEEL}#sha256={SHA}", "use https"),
        (f"https://dl.example.com/latest#sha256={SHA}", "wheel's own file name"),
        ("git+https://github.com/acme/spectral-deploy@v1.0.0", "not a full 40-character commit"),
        ("git+https://github.com/acme/spectral-deploy@main", "not a full 40-character commit"),
        (f"git+ssh://git@github.com/acme/spectral-deploy@{COMMIT}", r"expected git\+https"),
        (f"../elsewhere/{WHEEL}", "inside this repository"),
        (f"vendor/{WHEEL}", "cannot read it"),
    ],
)
def test_unpinned_or_unsafe_sources_are_refused(tmp_path: Path, spec: str, message: str) -> None:
    """A bare name, a version pin, a URL without its hash, a movable git ref, a path outside
    the repository: each is a usage error (exit 2) saying what is missing."""
    with pytest.raises(UsageError, match=message) as caught:
        parse_install(spec, tmp_path)
    assert caught.value.exit_code == 2


def test_the_installed_source_is_used_when_pip_recorded_a_pinned_one() -> None:
    """PEP 610 direct_url.json: a VCS commit or a wheel URL with sha256 is reused; an
    editable checkout or a local file is not a source a runner can fetch."""
    vcs = {
        "url": "https://github.com/acme/spectral-deploy.git",
        "vcs_info": {"vcs": "git", "commit_id": COMMIT},
    }
    assert installed_source(direct_url=json.dumps(vcs)) == InstallSource(
        InstallKind.GIT, "https://github.com/acme/spectral-deploy", COMMIT
    )
    wheel = {"url": f"https://dl.example.com/{WHEEL}", "archive_info": {"hashes": {"sha256": SHA}}}
    assert installed_source(direct_url=json.dumps(wheel)) == InstallSource(
        InstallKind.WHEEL_URL, f"https://dl.example.com/{WHEEL}", SHA
    )
    for unusable in (
        {"url": "file:///home/me/spectral-deploy", "dir_info": {"editable": True}},
        {"url": f"file:///tmp/{WHEEL}", "archive_info": {"hashes": {"sha256": SHA}}},
        {"url": "https://github.com/acme/spectral-deploy.git", "vcs_info": {"vcs": "git"}},
    ):
        assert installed_source(direct_url=json.dumps(unusable)) is None
    assert installed_source(direct_url="") is None
