"""What is live, observed: the CNAME read back, what each slot runs and whether it answers,
and (where one is configured) the public probe.

Every decision about what serves traffic reads this, never a flag in the database: the
ledger says what was done, the observation says what is. ``deploy abort``, ``rollback
plan/run``, ``status``, the dashboard and ``/metrics`` all take their "live" from here.
``flip_state`` compares a deploy's record with the observation (pure).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from spectral_deploy.config import Config
from spectral_deploy.cutover.model import Deploy
from spectral_deploy.errors import SpectralError
from spectral_deploy.providers.base import (
    Color,
    Deployment,
    DnsProvider,
    DnsRecord,
    Health,
    HostingProvider,
    ProbeReading,
    PublicProbe,
    color_of,
)

__all__ = [
    "FlipState",
    "LiveObservation",
    "SlotState",
    "flip_state",
    "observe",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlotState:
    """One slot as the hosting provider reports it now."""

    color: Color
    deployment: Deployment | None
    health: Health | None = None
    error: str | None = None
    # the provider's error itself: whether it shows an outage depends on its class
    failure: SpectralError | None = field(default=None, compare=False, repr=False)

    @property
    def known(self) -> bool:
        """False when the hosting provider could not be read."""
        return self.error is None

    @property
    def running(self) -> bool:
        """Something is deployed there and its web app has not been stopped."""
        return self.deployment is not None and self.deployment.status != "retiring"

    @property
    def serving(self) -> bool:
        """Running and its health check passes."""
        return self.running and self.health is not None and self.health.ok

    @property
    def generation(self) -> int | None:
        """The generation it runs (None when nothing runs there)."""
        return self.deployment.generation if self.deployment is not None else None


@dataclass(frozen=True)
class LiveObservation:
    """The record, the slots and the probe, read now."""

    record: DnsRecord | None
    record_color: Color | None
    record_error: str | None = None
    slots: tuple[SlotState, ...] = ()
    probe: ProbeReading | None = None
    probe_error: str | None = None
    record_failure: SpectralError | None = field(default=None, compare=False, repr=False)

    @property
    def failures(self) -> tuple[SpectralError, ...]:
        """The provider errors behind what could not be read (the record's, the slots')."""
        found = [self.record_failure] + [slot.failure for slot in self.slots]
        return tuple(f for f in found if f is not None)

    def slot(self, color: Color | None) -> SlotState | None:
        """The observed slot of ``color`` (None when not observed)."""
        for slot in self.slots:
            if slot.color is color:
                return slot
        return None

    @property
    def record_known(self) -> bool:
        """The DNS provider answered."""
        return self.record is not None

    @property
    def live_slot(self) -> SlotState | None:
        """The slot the record points at."""
        return self.slot(self.record_color) if self.record_color is not None else None

    @property
    def live_generation(self) -> int | None:
        """The generation running on the slot the record points at (None: nothing runs there,
        or the record points at neither slot)."""
        live = self.live_slot
        return live.generation if live is not None and live.running else None

    @property
    def serves(self) -> bool:
        """The record points at a slot that runs and passes its health check."""
        live = self.live_slot
        return live is not None and live.serving

    @property
    def traffic_colors(self) -> frozenset[Color]:
        """Slots that public traffic reaches, by the record or by the probe."""
        colors = {self.record_color} if self.record_color is not None else set()
        if self.probe is not None and self.probe.color is not None:
            colors.add(self.probe.color)
        return frozenset(colors)

    @property
    def probe_disagrees(self) -> bool:
        """The probe was answered by another slot than the one the record points at."""
        return (
            self.probe is not None
            and self.probe.color is not None
            and self.record_color is not None
            and self.probe.color is not self.record_color
        )

    def describe_record(self) -> str:
        """``app.example.com -> green.example.net (slot green)`` or why it is unknown."""
        if self.record is None:
            return f"the CNAME cannot be read ({self.record_error or 'unknown'})"
        where = f"slot {self.record_color}" if self.record_color else "neither slot"
        return f"{self.record.name} -> {self.record.target or '(nothing)'} ({where})"


def observe(
    config: Config,
    dns: DnsProvider | None,
    hosting: HostingProvider | None,
    *,
    probe: PublicProbe | None = None,
    colors: Iterable[Color] = tuple(Color),
    health: bool = True,
) -> LiveObservation:
    """Read the record, the slots in ``colors`` (with their health) and the probe; a source
    that fails is recorded with why, never guessed."""
    record: DnsRecord | None = None
    record_error: str | None = None
    record_failure: SpectralError | None = None
    if dns is None:
        record_error = "no DNS provider"
    else:
        try:
            record = dns.read()
        except SpectralError as exc:
            record_error = exc.message
            record_failure = exc
            log.warning("action=observe.dns_unknown error=%s", exc.message)
    slots = tuple(_slot(hosting, color, health=health) for color in colors)
    reading: ProbeReading | None = None
    probe_error: str | None = None
    if probe is not None:
        try:
            reading = probe.probe()
        except SpectralError as exc:
            probe_error = exc.message
    return LiveObservation(
        record=record,
        record_color=color_of(config, record.target) if record is not None else None,
        record_error=record_error,
        record_failure=record_failure,
        slots=slots,
        probe=reading,
        probe_error=probe_error,
    )


def _slot(hosting: HostingProvider | None, color: Color, *, health: bool) -> SlotState:
    if hosting is None:
        return SlotState(color, None, error="no hosting provider")
    try:
        current = hosting.current(color)
        checked = hosting.health(color) if health and current is not None else None
    except SpectralError as exc:
        log.warning("action=observe.hosting_unknown color=%s error=%s", color, exc.message)
        return SlotState(color, None, error=exc.message, failure=exc)
    return SlotState(color, current, checked)


class FlipState(StrEnum):
    """A deploy's flip as recorded, against where the record points now."""

    NOT_FLIPPED = "not-flipped"  # the record is not at green and no flip was recorded
    FLIPPED = "flipped"  # recorded, and the record points at green
    UNRECORDED = "unrecorded"  # the record points at green; the deploy never recorded it
    FLIPPED_BACK = "flipped-back"  # recorded, but the record no longer points at green
    UNKNOWN = "unknown"  # the record cannot be read


def flip_state(deploy: Deploy, observed: LiveObservation) -> FlipState:
    """Where the deploy's flip stands; the probe counts as much as the record."""
    if not observed.record_known:
        return FlipState.UNKNOWN
    at_green = deploy.green in observed.traffic_colors
    if deploy.flipped:
        return FlipState.FLIPPED if at_green else FlipState.FLIPPED_BACK
    return FlipState.UNRECORDED if at_green else FlipState.NOT_FLIPPED
