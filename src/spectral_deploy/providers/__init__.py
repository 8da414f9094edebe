"""Providers: the outside world behind narrow Protocols (``base``), chosen by configuration.

``[hosting] provider``, ``[dns] provider``, ``[vcs] provider``, ``[notify] chat`` /
``release_notes`` and ``[errors] provider`` name an implementation registered here. A
registry entry is ``"module:factory"``; factories take the whole ``Config`` (and, for
hosting, the database URL the app must use) and read their secrets from the environment.
Modules are imported only when chosen, so the vendor SDKs load only when used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, cast

from spectral_deploy.config import Config
from spectral_deploy.errors import ConfigError
from spectral_deploy.providers.base import (
    ChatProvider,
    DnsProvider,
    ErrorRateProvider,
    HostingProvider,
    ReleaseNotesProvider,
    VcsProvider,
)

__all__ = [
    "REGISTRY",
    "chat_provider",
    "check_dns_ttl",
    "dns_provider",
    "error_rate_provider",
    "hosting_provider",
    "release_notes_provider",
    "vcs_provider",
]


# kind -> name -> "module:factory"
REGISTRY: dict[str, dict[str, str]] = {
    "hosting": {
        "local": "spectral_deploy.providers.local.hosting:from_config",
        "render": "spectral_deploy.providers.render:from_config",
    },
    "dns": {
        "local": "spectral_deploy.providers.local.dns:from_config",
        "cloudflare": "spectral_deploy.providers.cloudflare:from_config",
    },
    "vcs": {
        "git": "spectral_deploy.providers.local.git:from_config",
        "github": "spectral_deploy.providers.github:vcs_from_config",
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


def check_dns_ttl(config: Config, ttl: int) -> None:
    """InputError when the configured DNS provider would refuse (or reinterpret) ``ttl``."""
    if config.dns.provider == "cloudflare":
        from spectral_deploy.providers.cloudflare import check_ttl  # noqa: PLC0415

        check_ttl(ttl, proxied=config.dns.proxied)
