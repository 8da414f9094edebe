"""The signoff gate's logic: CODEOWNERS matching and who may sign an override off."""

from __future__ import annotations

import pytest

from spectral_deploy.lint.signoff import Evidence, PullRequest, Review, decide, owners_of

HEAD = "a" * 40
OLD = "b" * 40
CODEOWNERS = """\
# everything else
*                       @acme/devs
/db/migrations/         @alice @acme/dba
/db/migrations/seeds/   # no owners: anyone
"""


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*", "db/migrations/0001.sql", True),
        ("/db/migrations/", "db/migrations/0001.sql", True),
        ("/db/migrations/", "other/db/migrations/0001.sql", False),
        ("migrations/", "svc/migrations/0001.sql", True),
        ("*.sql", "deep/down/x.sql", True),
        ("db/*", "db/x.sql", True),
        ("db/*", "db/migrations/x.sql", False),
        ("db/**/x.sql", "db/a/b/x.sql", True),
        ("db/**/x.sql", "db/x.sql", True),
        ("**/migrations", "a/b/migrations/1.sql", True),
        ("/db/migrations/0001.sql", "db/migrations/0001.sql", True),
        ("/db/migrations/0001.sql", "db/migrations/0001.sql.bak", False),
    ],
)
def test_codeowners_patterns_match_as_github_matches_them(
    pattern: str, path: str, matches: bool
) -> None:
    """gitignore-style patterns: anchoring, directories, *, ** and ?."""
    assert bool(owners_of(f"{pattern} @o", path)) is matches


def test_the_last_matching_line_wins_and_may_have_no_owners() -> None:
    """A later, more specific line replaces the owners; one without owners clears them."""
    assert owners_of(CODEOWNERS, "app/main.py") == ("@acme/devs",)
    assert owners_of(CODEOWNERS, "db/migrations/0042.sql") == ("@alice", "@acme/dba")
    assert owners_of(CODEOWNERS, "db/migrations/seeds/x.sql") == ()


def evidence(
    reviews: tuple[Review, ...] = (),
    labels: tuple[str, ...] = (),
    actors: dict[str, str] | None = None,
    codeowners: str | None = CODEOWNERS,
) -> Evidence:
    """A pull request by bob at HEAD."""
    return Evidence(PullRequest(7, "bob", HEAD, labels), reviews, actors or {}, codeowners)


def signed(ev: Evidence, path: str = "db/migrations/0042.sql", members: bool | None = None) -> str:
    """The decision for one file, as 'yes: ...' or 'no: ...'."""
    result = decide([path], ev, "compat-ok", lambda team, login: members)[path]
    return ("yes: " if result.signed else "no: ") + result.detail


def test_nobody_signed_says_who_can() -> None:
    """No approval, no label: not signed off, naming the owners, the commit and the label."""
    text = signed(evidence())
    assert text.startswith("no: not signed off: needs an approval on aaaaaaa")
    assert "@alice, @acme/dba" in text and "label 'compat-ok'" in text


def test_an_owner_approving_the_head_commit_signs_off() -> None:
    """alice owns db/migrations/ and approved the current head."""
    ev = evidence((Review("Alice", "APPROVED", HEAD),))
    assert signed(ev) == "yes: approved by @Alice, a code owner of db/migrations/0042.sql"


def test_an_approval_of_an_older_commit_does_not_count() -> None:
    """A push after the approval needs a fresh one; the message says why."""
    text = signed(evidence((Review("alice", "APPROVED", OLD),)))
    assert text.startswith("no:") and "@alice approved an older commit (bbbbbbb)" in text


def test_a_reviewer_who_is_not_an_owner_does_not_count() -> None:
    """carol approved, but she owns nothing under db/migrations/."""
    assert signed(evidence((Review("carol", "APPROVED", HEAD),))).startswith("no:")


def test_the_latest_decisive_review_counts_comments_do_not() -> None:
    """Changes requested after approving withdraws it; a comment afterwards does not."""
    withdrawn = (Review("alice", "APPROVED", HEAD), Review("alice", "CHANGES_REQUESTED", HEAD))
    commented = (Review("alice", "APPROVED", HEAD), Review("alice", "COMMENTED", HEAD))
    dismissed = (Review("alice", "APPROVED", HEAD), Review("alice", "DISMISSED", HEAD))
    assert signed(evidence(withdrawn)).startswith("no:")
    assert signed(evidence(commented)).startswith("yes:")
    assert signed(evidence(dismissed)).startswith("no:")


def test_a_team_owner_counts_when_the_token_sees_the_membership() -> None:
    """dave is in @acme/dba; when the token cannot see the team, the message says so."""
    ev = evidence((Review("dave", "APPROVED", HEAD),))
    assert signed(ev, members=True).startswith("yes: approved by @dave")
    unseen = signed(ev, members=None)
    assert unseen.startswith("no:") and "cannot see who is in @acme/dba" in unseen
    assert signed(ev, members=False).startswith("no:")


def test_the_label_signs_off_unless_the_author_added_it() -> None:
    """A named label works as a signoff, but not one the author put there."""
    by_other = evidence(labels=("compat-ok",), actors={"compat-ok": "erin"})
    by_author = evidence(labels=("compat-ok",), actors={"compat-ok": "bob"})
    removed = evidence(labels=(), actors={"compat-ok": "erin"})
    assert signed(by_other) == "yes: label 'compat-ok' added by @erin"
    author_text = signed(by_author)
    assert author_text.startswith("no:") and "added by the author" in author_text
    assert signed(removed).startswith("no:")


def test_the_author_cannot_sign_their_own_override() -> None:
    """Even an owner who wrote the pull request (GitHub forbids it; the gate too)."""
    ev = Evidence(
        PullRequest(7, "alice", HEAD, ()), (Review("alice", "APPROVED", HEAD),), {}, CODEOWNERS
    )
    assert signed(ev).startswith("no:")


def test_without_codeowners_only_the_label_signs_off() -> None:
    """No CODEOWNERS on the base branch: said so; the label still works."""
    text = signed(evidence((Review("alice", "APPROVED", HEAD),), codeowners=None))
    assert "no CODEOWNERS on the base branch" in text
    unowned = signed(evidence(), path="db/migrations/seeds/x.sql")
    assert "no CODEOWNERS line on the base branch covers" in unowned


def test_each_file_needs_its_own_owner() -> None:
    """An approval by the owner of one file does not sign another's off."""
    codeowners = "/db/a/ @alice\n/db/b/ @carol\n"
    ev = evidence((Review("alice", "APPROVED", HEAD),), codeowners=codeowners)
    result = decide(["db/a/1.sql", "db/b/1.sql"], ev, "compat-ok", lambda t, u: None)
    assert [result[p].signed for p in ("db/a/1.sql", "db/b/1.sql")] == [True, False]
