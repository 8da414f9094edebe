"""The production path's configuration: never the embedded server behind production providers,
DNS names compared as DNS compares them, and Cloudflare's TTL floor enforced before any call."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectral_deploy.config import load_config, normalize_host, production_providers
from spectral_deploy.db.connect import resolve_url
from spectral_deploy.errors import ConfigError, InputError
from spectral_deploy.providers import check_dns_ttl
from spectral_deploy.providers.cloudflare import from_config

PRODUCTION = """
[hosting]
provider = "render"
[dns]
provider = "cloudflare"
zone_id = "zone"
record = "App.Example.com."
blue_target = "Shop-Blue.onrender.com."
green_target = "shop-green.onrender.com"
"""


def project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "spectral.toml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("database_url", [None, "", "  "])
def test_no_database_url_with_production_providers_is_a_config_error(
    tmp_path: Path, database_url: str | None
) -> None:
    """DATABASE_URL unset or empty (an unset Actions secret) with render/cloudflare: exit 2, and
    the embedded server is never started (no data directory appears)."""
    environ = {} if database_url is None else {"DATABASE_URL": database_url}
    config = load_config(cwd=project(tmp_path, PRODUCTION), environ=environ)
    with pytest.raises(ConfigError) as caught:
        resolve_url(config)
    assert caught.value.exit_code == 2
    assert "DATABASE_URL" in caught.value.message
    assert "hosting.provider = 'render'" in caught.value.message
    assert caught.value.hint is not None and "DATABASE_URL" in caught.value.hint
    assert not (tmp_path / ".spectral").exists()


@pytest.mark.parametrize(
    ("section", "line"),
    [
        ("vcs", 'provider = "github"\nrepository = "acme/shop"'),
        ("notify", 'chat = "slack"'),
        ("errors", 'provider = "sentry"'),
    ],
)
def test_any_non_local_provider_needs_a_database_url(
    tmp_path: Path, section: str, line: str
) -> None:
    """Not only hosting and DNS: any provider that is not the sandbox's needs DATABASE_URL."""
    config = load_config(cwd=project(tmp_path, f"[{section}]\n{line}\n"), environ={})
    assert production_providers(config)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        resolve_url(config)


def test_a_database_url_satisfies_the_check(tmp_path: Path) -> None:
    """With DATABASE_URL set, the production config resolves to it (nothing else is started)."""
    url = "postgresql://deploy@db.internal:5432/app"
    config = load_config(cwd=project(tmp_path, PRODUCTION), environ={"DATABASE_URL": url})
    assert resolve_url(config) == url


def test_the_sandbox_config_has_no_production_providers(tmp_path: Path) -> None:
    """The defaults are the local sandbox: the embedded server stays the default there."""
    assert production_providers(load_config(cwd=tmp_path, environ={})) == {}


def test_dns_names_are_normalised_as_dns_compares_them(tmp_path: Path) -> None:
    """Record and targets lose case and trailing dot, so a read-back matches whatever the
    operator typed."""
    dns = load_config(cwd=project(tmp_path, PRODUCTION), environ={}).dns
    assert (dns.record, dns.blue_target, dns.green_target) == (
        "app.example.com",
        "shop-blue.onrender.com",
        "shop-green.onrender.com",
    )
    assert normalize_host(" Shop-Green.OnRender.com. ") == "shop-green.onrender.com"


@pytest.mark.parametrize("ttl", [1, 30, 59])
def test_cloudflare_ttl_below_60_is_refused_in_config(tmp_path: Path, ttl: int) -> None:
    """dns.ttl < 60 for a DNS-only Cloudflare record is a config error naming the key (1 would
    mean Automatic, 300 s, while the cutover waited 1 s)."""
    text = PRODUCTION.replace('zone_id = "zone"', f'zone_id = "z"\nttl = {ttl}')
    config = load_config(cwd=project(tmp_path, text), environ={})
    with pytest.raises(ConfigError, match=r"dns\.ttl.*minimum is 60"):
        from_config(config)


def test_cloudflare_ttl_floor_for_the_command_line(tmp_path: Path) -> None:
    """`dns point --ttl 30` is refused before anything is read or changed; a proxied record's
    TTL is Cloudflare's to choose, so any value passes there."""
    config = load_config(cwd=project(tmp_path, PRODUCTION), environ={})
    with pytest.raises(InputError, match="below Cloudflare's minimum of 60"):
        check_dns_ttl(config, 30)
    check_dns_ttl(config, 60)
    proxied = load_config(cwd=project(tmp_path, PRODUCTION + "proxied = true\n"), environ={})
    check_dns_ttl(proxied, 1)
