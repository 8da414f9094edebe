"""Who the ledger says acted."""

from __future__ import annotations

from spectral_deploy.ledger.store import current_actor


def test_explicit_actor_wins() -> None:
    """SPECTRAL_ACTOR names the operator explicitly."""
    assert current_actor({"SPECTRAL_ACTOR": "alice", "GITHUB_ACTOR": "bot"}) == "alice"


def test_github_actions_actor() -> None:
    """In GitHub Actions the triggering user is recorded."""
    environ = {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octocat"}
    assert current_actor(environ) == "octocat (github-actions)"


def test_default_is_user_at_host() -> None:
    """Otherwise user@host."""
    assert "@" in current_actor({})
