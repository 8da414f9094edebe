"""``spectral-deploy dns show|point`` as a subprocess, against a local Cloudflare API."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest

from tests.acceptance.conftest import Project
from tests.providers.fakes import FakeCloudflare

TOKEN = f"cf-cli-{secrets.token_hex(16)}"
BLUE, GREEN = "shop-blue.onrender.com", "shop-green.onrender.com"


@pytest.fixture
def cloudflare(project: Project) -> Iterator[FakeCloudflare]:
    """A zone holding app.example.com -> blue, and the project configured for it."""
    with FakeCloudflare(TOKEN) as fake:
        fake.add_cname("app.example.com", BLUE, ttl=60)
        (project.root / "spectral.toml").write_text(
            "[dns]\n"
            'provider = "cloudflare"\n'
            f'zone_id = "{fake.zone_id}"\n'
            'record = "app.example.com"\n'
            f'blue_target = "{BLUE}"\n'
            f'green_target = "{GREEN}"\n',
            encoding="utf-8",
        )
        yield fake


def env(fake: FakeCloudflare) -> dict[str, str]:
    return {"CLOUDFLARE_API_TOKEN": TOKEN, "CLOUDFLARE_BASE_URL": fake.api_url}


def test_show(project: Project, cloudflare: FakeCloudflare) -> None:
    """dns show prints the record and its color; --format json is one JSON document."""
    result = project.run("dns", "show", env=env(cloudflare))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"app.example.com CNAME {BLUE} (blue), TTL 60 s, DNS only\n"
    result = project.run("dns", "show", "--format", "json", env=env(cloudflare))
    assert json.loads(result.stdout) == {
        "provider": "cloudflare",
        "name": "app.example.com",
        "target": BLUE,
        "color": "blue",
        "ttl": 60,
        "proxied": False,
    }


def test_point_green_with_yes_flips_and_reads_back(
    project: Project, cloudflare: FakeCloudflare
) -> None:
    """dns point green --yes patches the record, reads it back and prints it; exit 0."""
    result = project.run("dns", "point", "green", "--yes", env=env(cloudflare))
    assert result.returncode == 0, result.stderr
    assert f"app.example.com CNAME {GREEN} (green), TTL 60 s, DNS only" in result.stdout
    assert cloudflare.record("app.example.com")["content"] == GREEN
    assert len(cloudflare.calls("PATCH")) == 1
    again = project.run("dns", "point", "green", "--yes", "--format", "json", env=env(cloudflare))
    assert json.loads(again.stdout)["matches"] is True
    assert len(cloudflare.calls("PATCH")) == 1  # already there: nothing changed


def test_point_asks_first(project: Project, cloudflare: FakeCloudflare) -> None:
    """Without --yes and without a 'y' on stdin nothing changes and the exit is 1."""
    result = project.run("dns", "point", "green", env=env(cloudflare))
    assert result.returncode == 1
    assert "aborted" in result.stderr
    assert cloudflare.record("app.example.com")["content"] == BLUE
    assert cloudflare.calls("PATCH") == []


def test_a_literal_target_and_ttl(project: Project, cloudflare: FakeCloudflare) -> None:
    """TARGET may be a hostname; --ttl overrides dns.ttl."""
    result = project.run(
        "dns", "point", "maintenance.example.net", "--ttl", "120", "--yes", env=env(cloudflare)
    )
    assert result.returncode == 0, result.stderr
    record = cloudflare.record("app.example.com")
    assert (record["content"], record["ttl"]) == ("maintenance.example.net", 120)


def test_a_read_back_that_differs_exits_1(project: Project, cloudflare: FakeCloudflare) -> None:
    """If the record read back is not what was asked, the command fails and says so."""
    stale = cloudflare.record("app.example.com")
    cloudflare.fail(
        200,
        {"success": True, "errors": [], "messages": [], "result": stale},
        method="GET",
        path=rf"/dns_records/{stale['id']}$",
    )
    result = project.run("dns", "point", "green", "--yes", env=env(cloudflare))
    assert result.returncode == 1
    assert f"target is {BLUE}, expected {GREEN}" in result.stderr


def test_missing_token_names_the_variable(project: Project, cloudflare: FakeCloudflare) -> None:
    """No CLOUDFLARE_API_TOKEN: exit 2 naming it, before any request."""
    result = project.run("dns", "show", env={"CLOUDFLARE_BASE_URL": cloudflare.api_url})
    assert result.returncode == 2
    assert "CLOUDFLARE_API_TOKEN" in result.stderr
    assert cloudflare.calls() == []


def test_the_token_never_appears_in_output(project: Project, cloudflare: FakeCloudflare) -> None:
    """With -vv logs, a retried 429 and a failed call, stdout and stderr never hold the token."""
    cloudflare.fail(429, {"success": False, "errors": []}, headers={"Retry-After": "0"})
    cloudflare.fail(500, {"success": False, "errors": [{"code": 1, "message": "x"}]}, times=9)
    ok = project.run("-vv", "dns", "show", env=env(cloudflare))
    failed = project.run("-vv", "dns", "point", "green", "--yes", env=env(cloudflare))
    assert failed.returncode == 1 and "HTTP 500" in failed.stderr
    assert "action=http.retry" in ok.stderr + failed.stderr  # the logs were on
    for text in (ok.stdout, ok.stderr, failed.stdout, failed.stderr):
        assert TOKEN not in text
