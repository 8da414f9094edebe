"""Providers: the outside world behind narrow Protocols (``base``), chosen by configuration.

``fake`` (hosting, DNS, VCS) is the in-process world of ``providers.fake``, for tests only.

``[hosting] provider``, ``[dns] provider``, ``[vcs] provider``, ``[notify] chat`` /
``release_notes`` and ``[errors] provider`` name an implementation registered here. A
registry entry is ``"module:factory"``; factories take the whole ``Config`` (and, for
hosting, the database URL the app must use) and read their secrets from the environment.
Modules are imported only when chosen, so the vendor SDKs load only when used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from spectral_deploy.config import Config
from spectral_deploy.errors import ConfigError
from spectral_deploy.providers.base import (
    ChatProvider,
    DnsProvider,
    ErrorRateProvider,
    HostingProvider,
    PublicProbe,
    ReleaseNotesProvider,
    SourceTree,
    VcsProvider,
)

if TYPE_CHECKING:
    from spectral_deploy.clock import Clock

__all__ = [
    "REGISTRY",
    "chat_provider",
    "check_dns_ttl",
    "clock",
    "dns_provider",
    "error_rate_provider",
    "fetch",
    "hosting_provider",
    "public_probe",
    "release_notes_provider",
    "source_tree",
    "vcs_provider",
]


# kind -> name -> "module:factory"
REGISTRY: dict[str, dict[str, str]] = {
    "hosting": {
        "local": "spectral_deploy.providers.local.hosting:from_config",
        "render": "spectral_deploy.providers.render:from_config",
        "fake": "spectral_deploy.providers.fake:hosting_from_config",
    },
    "dns": {
        "local": "spectral_deploy.providers.local.dns:from_config",
        "cloudflare": "spectral_deploy.providers.cloudflare:from_config",
        "fake": "spectral_deploy.providers.fake:dns_from_config",
    },
    "vcs": {
        "git": "spectral_deploy.providers.local.git:from_config",
        "github": "spectral_deploy.providers.github:vcs_from_config",
        "fake": "spectral_deploy.providers.fake:vcs_from_config",
    },
    # the release's files for the lint and the migrations, by [vcs] provider
    "source": {
        "git": "spectral_deploy.providers.local.git:from_config",
        "github": "spectral_deploy.providers.local.git:from_config",
        "fake": "spectral_deploy.providers.fake:vcs_from_config",
    },
    # a request to the public hostname that says which slot answered, by [dns] provider
    # (the real providers have none: [dns] public_url sets an HTTP probe of the address)
    "probe": {
        "fake": "spectral_deploy.providers.fake:probe_from_config",
        "http": "spectral_deploy.providers.publicprobe:from_config",
    },
    # how the deploy reaches a slot's direct address, and how it waits, by [hosting] provider
    # (every real provider: HTTP and the system clock)
    "fetch": {
        "http": "spectral_deploy.providers.direct:fetch_from_config",
        "fake": "spectral_deploy.providers.fake:fetch_from_config",
    },
    "clock": {
        "system": "spectral_deploy.clock:from_config",
        "fake": "spectral_deploy.providers.fake:clock_from_config",
    },
    "chat": {
        "console": "spectral_deploy.providers.local.console:chat_from_config",
        "slack": "spectral_deploy.providers.slack:from_config",
    },
    "release_notes": {
        "none": "spectral_deploy.providers.local.console:release_notes_from_config",
        "github": "spectral_deploy.providers.github:release_notes_from_config",
    },
    "error_rate": {
        "none": "spectral_deploy.providers.local.console:error_rate_from_config",
        "sentry": "spectral_deploy.providers.sentry:from_config",
    },
}

_KEYS = {
    "hosting": "hosting.provider",
    "dns": "dns.provider",
    "vcs": "vcs.provider",
    "chat": "notify.chat",
    "release_notes": "notify.release_notes",
    "error_rate": "errors.provider",
    "source": "vcs.provider",
    "probe": "dns.provider",
    "fetch": "hosting.provider",
    "clock": "hosting.provider",
}


def _build(kind: str, name: str, config: Config, *args: Any) -> Any:
    known = REGISTRY[kind]
    if name not in known:
        raise ConfigError(
            f"unknown provider {name!r} (known: {', '.join(sorted(known))})",
            key=_KEYS[kind],
            source=config.source,
        )
    module_name, _, factory_name = known[name].partition(":")
    factory = cast(Callable[..., Any], getattr(importlib.import_module(module_name), factory_name))
    return factory(config, *args)


def hosting_provider(config: Config, database_url: str) -> HostingProvider:
    """The configured hosting provider; apps it starts use ``database_url``."""
    return cast(HostingProvider, _build("hosting", config.hosting.provider, config, database_url))


def dns_provider(config: Config) -> DnsProvider:
    """The configured DNS provider."""
    return cast(DnsProvider, _build("dns", config.dns.provider, config))


def vcs_provider(config: Config) -> VcsProvider:
    """The configured VCS provider."""
    return cast(VcsProvider, _build("vcs", config.vcs.provider, config))


def chat_provider(config: Config) -> ChatProvider:
    """The configured ops chat."""
    return cast(ChatProvider, _build("chat", config.notify.chat, config))


def release_notes_provider(config: Config) -> ReleaseNotesProvider:
    """The configured release pages."""
    return cast(ReleaseNotesProvider, _build("release_notes", config.notify.release_notes, config))


def error_rate_provider(config: Config) -> ErrorRateProvider:
    """The configured error-rate source."""
    return cast(ErrorRateProvider, _build("error_rate", config.errors.provider, config))


def source_tree(config: Config) -> SourceTree:
    """The repository's files at a commit (the project's git checkout, except for fakes)."""
    return cast(SourceTree, _build("source", config.vcs.provider, config))


def public_probe(config: Config) -> PublicProbe | None:
    """The probe of the public hostname: ``[dns] public_url`` when set, else the configured
    DNS provider's own, if it has one."""
    if config.dns.public_url and config.dns.provider not in REGISTRY["probe"]:
        return cast(PublicProbe, _build("probe", "http", config))
    if config.dns.provider not in REGISTRY["probe"]:
        return None
    return cast(PublicProbe, _build("probe", config.dns.provider, config))


def fetch(config: Config) -> Callable[[str], int]:
    """GET a slot's direct address (the smoke test): HTTP, except in the fake world."""
    name = config.hosting.provider if config.hosting.provider in REGISTRY["fetch"] else "http"
    return cast("Callable[[str], int]", _build("fetch", name, config))


def clock(config: Config) -> Clock:
    """How waits wait: the system clock, except in the fake world."""
    name = config.hosting.provider if config.hosting.provider in REGISTRY["clock"] else "system"
    return cast("Clock", _build("clock", name, config))


def check_dns_ttl(config: Config, ttl: int) -> None:
    """InputError when the configured DNS provider would refuse (or reinterpret) ``ttl``."""
    if config.dns.provider == "cloudflare":
        from spectral_deploy.providers.cloudflare import check_ttl  # noqa: PLC0415

        check_ttl(ttl, proxied=config.dns.proxied)
