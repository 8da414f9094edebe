"""No token (or the Slack webhook URL) in any log record, error, repr or output of the providers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from spectral_deploy.config import load_config
from spectral_deploy.errors import SpectralError
from spectral_deploy.providers import (
    chat_provider,
    dns_provider,
    error_rate_provider,
    hosting_provider,
    release_notes_provider,
    vcs_provider,
)
from spectral_deploy.providers.base import ChatMessage, Color, ReleaseSpec
from tests.providers.conftest import TOKENS
from tests.providers.fakes import FakeCloudflare, FakeGitHub, FakeRender, FakeSentry, FakeSlack


def test_no_secret_in_logs_errors_or_reprs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    fake_cloudflare: FakeCloudflare,
    fake_render: FakeRender,
    fake_github: FakeGitHub,
    fake_slack: FakeSlack,
    fake_sentry: FakeSentry,
) -> None:
    """Every provider, built from config and env as in production, working and failing, at DEBUG."""
    caplog.set_level(logging.DEBUG)  # every logger, the HTTP libraries' included
    fake_cloudflare.add_cname("app.example.com", "blue.example.net")
    web = {c: fake_render.add_service(f"shop-{c}") for c in ("blue", "green")}
    workers = {c: fake_render.add_service(f"shop-{c}-w", kind="background_worker") for c in web}
    fake_render.seed_live(web["blue"], "a" * 40, SPECTRAL_GENERATION="1")
    fake_render.seed_live(workers["blue"], "a" * 40, SPECTRAL_GENERATION="1")
    commit = fake_github.add_commit("prior")
    fake_github.add_tag("v1.0.0", commit)
    fake_github.add_release("v1.0.0", "notes")
    (tmp_path / "spectral.toml").write_text(
        f"""
[hosting]
provider = "render"
api_url = "{fake_render.api_url}"
blue_service_id = "{web["blue"]}"
green_service_id = "{web["green"]}"
blue_worker_service_id = "{workers["blue"]}"
green_worker_service_id = "{workers["green"]}"
poll_seconds = 0.01
[dns]
provider = "cloudflare"
zone_id = "{fake_cloudflare.zone_id}"
record = "app.example.com"
[vcs]
provider = "github"
repository = "{fake_github.repository}"
api_url = "{fake_github.api_url}"
[notify]
chat = "slack"
release_notes = "github"
[errors]
provider = "sentry"
organization = "acme"
project = "shop"
api_url = "{fake_sentry.api_url}"
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKENS["cloudflare"])
    monkeypatch.setenv("CLOUDFLARE_BASE_URL", fake_cloudflare.api_url)
    monkeypatch.setenv("RENDER_API_KEY", TOKENS["render"])
    monkeypatch.setenv("GITHUB_TOKEN", TOKENS["github"])
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKENS["sentry"])
    monkeypatch.setenv("SLACK_WEBHOOK_URL", fake_slack.webhook_url)
    config = load_config(cwd=tmp_path, environ={})

    dns = dns_provider(config)
    hosting = hosting_provider(config, "postgresql://app@db/shop")
    vcs = vcs_provider(config)
    notes = release_notes_provider(config)
    chat = chat_provider(config)
    errors = error_rate_provider(config)
    seen: list[str] = [repr(p) for p in (dns, hosting, vcs, notes, chat, errors)]

    def attempt(action: object) -> None:
        try:
            action()  # type: ignore[operator]
        except SpectralError as exc:
            seen.extend([str(exc), repr(exc), exc.hint or "", repr(exc.__cause__)])

    # working calls, with a retried 429 on each vendor
    for fake in (fake_cloudflare, fake_render, fake_github, fake_sentry):
        fake.fail(429, {"message": "slow"}, headers={"Retry-After": "0"})
    fake_slack.fail(429, b"rate_limited", headers={"Retry-After": "0"})
    dns.point("green.example.net", 60)
    hosting.deploy(Color.GREEN, ReleaseSpec(generation=2, commit="b" * 40, tag="v1.1.0"))
    hosting.scale_workers(Color.GREEN, 1)
    assert vcs.resolve_tag("v1.0.0") == commit
    notes.mark_rollback("v1.0.0", "rolled back")
    chat.send(ChatMessage(title="t", text="x", facts={"k": "v"}))
    now = datetime.now(UTC)
    fake_sentry.add_release("v1.1.0")
    assert errors.error_count("v1.1.0", now - timedelta(minutes=5), now) == 0
    assert len(fake_slack.messages) == 1

    # failing calls: errors built from the vendors' answers
    # (Retry-After: 0 keeps the retries of production's policy from sleeping)
    for fake in (fake_cloudflare, fake_render, fake_github, fake_sentry):
        fake.fail(500, {"message": "kaput"}, headers={"Retry-After": "0"}, times=10)
    fake_slack.fail(500, b"kaput", times=10)
    attempt(dns.read)
    attempt(lambda: hosting.current(Color.BLUE))
    attempt(lambda: vcs.resolve_tag("v1.0.0"))
    attempt(lambda: chat.send(ChatMessage(title="t", text="x")))
    attempt(lambda: errors.error_count("v1", now - timedelta(minutes=5), now))
    assert len(seen) > 6 + 5  # every failing call raised

    output = capsys.readouterr()
    texts = [*seen, output.out, output.err, caplog.text]
    texts += [r.getMessage() for r in caplog.records]
    assert any("POST" in r.getMessage() for r in caplog.records if r.name == "httpx")
    secrets = [*TOKENS.values(), fake_slack.webhook_url, fake_slack.path]
    for text in texts:
        for secret in secrets:
            assert secret not in text
