"""What the cutover and the rollback need from the outside world: narrow Protocols.

One verb per method. Each vendor (Render, Cloudflare, GitHub, Slack, Sentry) and the
local sandbox implement them; the orchestrator only ever talks to these. Every method
observes or acts on the real world, so each is safe to call again (a resumed deploy
calls them again after a crash).

The values they pass live here too (a deployment, a record, a probe's reading), and
``color_of``: which slot a CNAME target names, by ``[dns] blue_target``/``green_target``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from spectral_deploy.config import Config, normalize_host

__all__ = [
    "ChatMessage",
    "ChatProvider",
    "Color",
    "Deployment",
    "DnsProvider",
    "DnsRecord",
    "ErrorRateProvider",
    "Health",
    "HostingProvider",
    "ProbeReading",
    "PublicProbe",
    "ReleaseNotesProvider",
    "ReleaseSpec",
    "SourceTree",
    "VcsProvider",
    "color_of",
    "same_commit",
]


def same_commit(a: str | None, b: str | None) -> bool:
    """Full and abbreviated shas of one commit are the same commit (7 characters at least)."""
    if not a or not b:
        return False
    a, b = a.lower(), b.lower()
    if min(len(a), len(b)) < 7:
        return a == b
    return a.startswith(b) or b.startswith(a)


class Color(StrEnum):
    """The two deployment slots. Which one is live alternates from deploy to deploy."""

    BLUE = "blue"
    GREEN = "green"

    @property
    def other(self) -> Color:
        """The other slot."""
        return Color.GREEN if self is Color.BLUE else Color.BLUE


@dataclass(frozen=True)
class ReleaseSpec:
    """What to run on a color: a commit, as a generation, with its environment."""

    generation: int
    commit: str
    tag: str
    env: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Deployment:
    """What a color runs, as the platform reports it.

    ``generation`` and ``tag`` are None when the platform cannot vouch that what runs was
    started with them (a build that failed after the variables were set, a deploy still in
    progress). ``deploy_id`` is the platform's own id of the running deploy, where it has one
    (Render's ``dep-...``); the ledger records it, and it decides whether a deploy is done.
    """

    color: Color
    generation: int | None
    commit: str | None
    tag: str | None
    status: str
    workers: int = 0
    address: str | None = None
    deploy_id: str | None = None


@dataclass(frozen=True)
class Health:
    """One health check of a color on its direct (non-public) address."""

    ok: bool
    detail: str
    url: str | None = None


@dataclass(frozen=True)
class DnsRecord:
    """The public CNAME, as read from the DNS provider."""

    name: str
    target: str
    ttl: int
    proxied: bool = False


@dataclass(frozen=True)
class ChatMessage:
    """An ops-chat message: a title line, a body, and key facts."""

    title: str
    text: str
    facts: Mapping[str, str] = field(default_factory=dict)


class HostingProvider(Protocol):
    """Runs blue and green: the web app and its workers."""

    def deploy(
        self,
        color: Color,
        release: ReleaseSpec,
        *,
        on_started: Callable[[str], None] | None = None,
    ) -> Deployment:
        """Run ``release`` on ``color`` (replacing what ran there); returns when it is live.

        ``on_started`` is called with the platform's id of the deploy as soon as the platform
        has one, before waiting for it (so a crash while waiting leaves the id recorded).
        """
        ...

    def current(self, color: Color) -> Deployment | None:
        """What ``color`` runs now, or None when nothing is deployed there."""
        ...

    def health(self, color: Color) -> Health:
        """Check the app's health endpoint on ``color``'s direct address."""
        ...

    def address(self, color: Color) -> str | None:
        """The direct (non-public) base URL of ``color``, for smoke tests."""
        ...

    def stop_web(self, color: Color) -> None:
        """Stop ``color``'s web app only; its workers keep running (retiring a color)."""
        ...

    def scale_workers(self, color: Color, count: int) -> None:
        """Run ``count`` worker processes on ``color`` (0 stops them; they drain first)."""
        ...

    def stop(self, color: Color) -> None:
        """Stop everything on ``color`` (workers drain first)."""
        ...

    def build_available(self, commit: str) -> bool:
        """Whether a build of ``commit`` can still be deployed (image retention)."""
        ...


class DnsProvider(Protocol):
    """The public hostname's CNAME."""

    def read(self) -> DnsRecord:
        """The record as the provider has it now."""
        ...

    def point(self, target: str, ttl: int) -> DnsRecord:
        """Point the record at ``target`` with ``ttl``; returns the record read back."""
        ...


class VcsProvider(Protocol):
    """Tags of the app's repository."""

    def resolve_tag(self, tag: str) -> str:
        """The commit a tag points at (raises InputError if there is no such tag)."""
        ...

    def create_tag(self, tag: str, commit: str, message: str) -> None:
        """Create ``tag`` at ``commit``; a tag that already points there is fine."""
        ...

    def tag_names(self) -> list[str]:
        """Every tag of the repository (a rollback tag must not take one)."""
        ...


class SourceTree(Protocol):
    """The repository's files at a commit: what the deploy's lint and migrations and the
    rollback planner read (the project's git checkout, for either VCS provider)."""

    def changed_files(self, base: str | None, commit: str, directory: str) -> list[str]:
        """Files under ``directory`` added or changed from ``base`` to ``commit`` (all of them
        when there is no base)."""
        ...

    def export(self, commit: str, destination: Path) -> Path:
        """The tree of ``commit`` at ``destination`` (reused when already there)."""
        ...


@dataclass(frozen=True)
class ProbeReading:
    """What a request to the public address showed: the slot and generation that answered."""

    color: Color | None
    generation: int | None
    detail: str
    # the address answered without the app's generation header (no middleware): what
    # serves it cannot be told from the answer
    header_missing: bool = False


class PublicProbe(Protocol):
    """A request to the public hostname that reports which slot served it."""

    def probe(self) -> ProbeReading:
        """Request the public address now."""
        ...


def color_of(config: Config, target: str) -> Color | None:
    """The slot a CNAME target sends traffic to (compared without case or trailing dot)."""
    wanted = normalize_host(target)
    if not wanted:
        return None
    for color, name in (
        (Color.BLUE, config.dns.blue_target),
        (Color.GREEN, config.dns.green_target),
    ):
        if normalize_host(name) == wanted:
            return color
    return None


class ChatProvider(Protocol):
    """The ops chat."""

    def send(self, message: ChatMessage) -> None:
        """Post ``message``."""
        ...


class ReleaseNotesProvider(Protocol):
    """Release pages (GitHub Releases)."""

    def mark_rollback(self, tag: str, note: str) -> None:
        """Mark the release of ``tag`` as a pre-release and append ``note``."""
        ...


class ErrorRateProvider(Protocol):
    """Error counts per release (Sentry), read by the hold-window watch."""

    def error_count(self, release: str, start: datetime, end: datetime) -> int:
        """Errors reported for ``release`` between ``start`` and ``end``."""
        ...
