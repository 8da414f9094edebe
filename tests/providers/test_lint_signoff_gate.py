"""``lint --require-signoff``: the PR workflow's gate, end to end against GitHub's API.

A git repository with CODEOWNERS on main and a branch adding a migration with an override;
the command line as the generated workflow runs it, with GitHub played by the local fake.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gitrepo import git
from tests.providers.conftest import TOKENS
from tests.providers.fakes import FakeGitHub

LABEL = "compat-breaking-approved"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main: CODEOWNERS gives migrations/ to alice; feature: an override, and a CODEOWNERS
    edit that would make the author (bob) an owner."""
    root = tmp_path / "shop"
    (root / ".github").mkdir(parents=True)
    (root / "migrations").mkdir()
    (root / ".github/CODEOWNERS").write_text("/migrations/ @alice\n")
    (root / "migrations/0001_init.sql").write_text("CREATE TABLE sessions (id bigint);\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "init")
    git(root, "checkout", "-q", "-b", "feature")
    (root / "migrations/0002_drop.sql").write_text(
        "-- compat: breaking (reason: sessions unused since v1.4)\nDROP TABLE sessions;\n"
    )
    (root / ".github/CODEOWNERS").write_text("/migrations/ @bob\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "drop sessions")
    return root


def gate(repo: Path, fake: FakeGitHub) -> subprocess.CompletedProcess[str]:
    """The workflow's lint step."""
    env = {
        **os.environ,
        "GITHUB_TOKEN": TOKENS["github"],
        "GITHUB_REPOSITORY": fake.repository,
        "GITHUB_API_URL": fake.api_url,
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "spectral_deploy",
            "lint",
            "--base",
            "main",
            "--require-signoff",
            "7",
            "--signoff-label",
            LABEL,
            "--format",
            "json",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def signoff(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    [override] = json.loads(result.stdout)["overrides"]
    value = override["signoff"]
    assert isinstance(value, dict)
    return value


def test_an_override_without_signoff_fails_the_pull_request(
    repo: Path, fake_github: FakeGitHub
) -> None:
    """No approval: exit 1, saying who can sign off (alice, from main's CODEOWNERS)."""
    fake_github.add_pull(7, "bob", git(repo, "rev-parse", "HEAD"))
    result = gate(repo, fake_github)
    assert result.returncode == 1, result.stderr
    status = signoff(result)
    assert status["signed"] is False
    assert "migrations/0002_drop.sql (@alice)" in str(status["detail"])
    assert TOKENS["github"] not in result.stdout + result.stderr


def test_the_code_owners_approval_of_the_head_commit_passes(
    repo: Path, fake_github: FakeGitHub
) -> None:
    """alice approves the head commit: exit 0, and the report says who signed."""
    head = git(repo, "rev-parse", "HEAD")
    fake_github.add_pull(7, "bob", head)
    fake_github.add_review(7, "alice", "APPROVED", head)
    result = gate(repo, fake_github)
    assert result.returncode == 0, result.stdout + result.stderr
    assert signoff(result) == {
        "signed": True,
        "detail": "approved by @alice, a code owner of migrations/0002_drop.sql",
    }


def test_an_approval_before_the_last_push_does_not_count(
    repo: Path, fake_github: FakeGitHub
) -> None:
    """alice approved an earlier commit; the override changed since."""
    old = git(repo, "rev-parse", "HEAD")
    (repo / "migrations/0002_drop.sql").write_text(
        "-- compat: breaking (reason: sessions unused since v1.4)\n"
        "DROP TABLE sessions;\nDROP TABLE users;\n"
    )
    git(repo, "commit", "-q", "-am", "and users")
    fake_github.add_pull(7, "bob", git(repo, "rev-parse", "HEAD"))
    fake_github.add_review(7, "alice", "APPROVED", old)
    result = gate(repo, fake_github)
    assert result.returncode == 1
    assert "@alice approved an older commit" in str(signoff(result)["detail"])


def test_the_author_cannot_own_the_migrations_by_editing_codeowners(
    repo: Path, fake_github: FakeGitHub
) -> None:
    """The branch's CODEOWNERS names bob; main's is what counts. bob's label does not count."""
    head = git(repo, "rev-parse", "HEAD")
    fake_github.add_pull(7, "bob", head)
    fake_github.add_review(7, "bob", "APPROVED", head)
    fake_github.add_label(7, LABEL, "bob")
    result = gate(repo, fake_github)
    assert result.returncode == 1
    assert "added by the author" in str(signoff(result)["detail"])


def test_the_label_added_by_a_maintainer_passes(repo: Path, fake_github: FakeGitHub) -> None:
    """The named label, applied by someone other than the author, signs the override off."""
    fake_github.add_pull(7, "bob", git(repo, "rev-parse", "HEAD"))
    fake_github.add_label(7, LABEL, "erin")
    result = gate(repo, fake_github)
    assert result.returncode == 0, result.stdout
    assert signoff(result)["detail"] == f"label '{LABEL}' added by @erin"


def test_a_pull_request_without_overrides_never_calls_github(
    repo: Path, fake_github: FakeGitHub
) -> None:
    """Nothing to sign: no request at all (and no token needed)."""
    (repo / "migrations/0002_drop.sql").write_text("CREATE TABLE audit (id bigint);\n")
    git(repo, "commit", "-q", "-am", "no override")
    result = gate(repo, fake_github)
    assert result.returncode == 0, result.stdout + result.stderr
    assert fake_github.requests == []


def test_reviews_and_events_are_read_across_pages(repo: Path, fake_github: FakeGitHub) -> None:
    """Many comments before the approval: the approval on a later page is found."""
    head = git(repo, "rev-parse", "HEAD")
    fake_github.page_rows = fake_github.max_page_rows = 2
    fake_github.add_pull(7, "bob", head)
    for _ in range(5):
        fake_github.add_review(7, "carol", "COMMENTED", head)
    fake_github.add_review(7, "alice", "APPROVED", head)
    result = gate(repo, fake_github)
    assert result.returncode == 0, result.stdout + result.stderr
