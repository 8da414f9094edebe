"""Proof that traffic moved: the public address answers from the generation a flip sent it to.

A CNAME read back says where the record points, not where requests land: a Render custom
domain attached to blue's service keeps every request on blue whatever the record says. So
after a flip (and a flip back) the public address is requested until the generation header
its answers carry (``spectral_deploy.middleware``) shows the generation the flip meant, for
at most the TTL plus a margin. An app without the header cannot prove it: the record read
back stands alone, and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from spectral_deploy.clock import Clock
from spectral_deploy.errors import CheckFailed, SpectralError
from spectral_deploy.providers.base import ProbeReading, PublicProbe
from spectral_deploy.waiting import Reporter, Wait, no_report

__all__ = [
    "PROBE_MARGIN_SECONDS",
    "PROBE_POLL_SECONDS",
    "TrafficNotMoved",
    "TrafficProof",
    "await_generation",
]

PROBE_POLL_SECONDS = 1.0
# resolvers and the probe's own resolver may hold the old answer a little past the TTL
PROBE_MARGIN_SECONDS = 10.0


class TrafficNotMoved(CheckFailed):
    """The record moved but the public address is still served by another generation."""


@dataclass(frozen=True)
class TrafficProof:
    """Whether the public address was seen served by the generation (False: not provable,
    the record read back alone decides), and the sentence that says how."""

    proved: bool
    detail: str


def await_generation(
    probe: PublicProbe | None,
    generation: int,
    *,
    record: str,
    ttl_seconds: float,
    clock: Clock,
    report: Reporter = no_report,
) -> TrafficProof:
    """Request the public address until generation ``generation`` answers it.

    ``TrafficNotMoved`` when another generation still answers after the TTL and margin."""
    if probe is None:
        return TrafficProof(
            False,
            f"no public probe ([dns] public_url unset): the record read back alone says {record}",
        )
    limit = ttl_seconds + PROBE_MARGIN_SECONDS
    wait = Wait(
        f"the public address to be served by generation {generation}",
        limit,
        clock=clock,
        report=report,
        look="spectral-deploy status",
    )
    reading: ProbeReading | None = None
    error = ""
    while True:
        try:
            reading = probe.probe()
            error = ""
        except SpectralError as exc:
            reading, error = None, exc.message
        if reading is not None and reading.generation == generation:
            return TrafficProof(
                True, f"the public address is served by generation {generation} ({reading.detail})"
            )
        if reading is not None and reading.header_missing:
            return TrafficProof(
                False,
                f"the public address answers without the Spectral-Generation header "
                f"({reading.detail}): the record read back alone says {record} (add "
                "spectral_deploy.middleware to the app to prove where traffic lands)",
            )
        if wait.elapsed_seconds >= limit:
            break
        wait.tick(error or (reading.detail if reading is not None else ""))
        clock.sleep(PROBE_POLL_SECONDS)
    if reading is None or reading.generation is None:
        return TrafficProof(
            False,
            f"the public address gave no generation within {limit:g} s "
            f"({error or (reading.detail if reading else 'no answer')}): the record read back "
            f"alone says {record}",
        )
    raise TrafficNotMoved(
        f"the record moved ({record}) but after {limit:g} s the public address is still "
        f"served by generation {reading.generation}, not {generation} ({reading.detail}): the "
        "flip moved the record, not the traffic (on Render, the custom domain is attached to "
        "one service: see docs/traffic.md)",
        hint="spectral-deploy status  (fix what forwards the hostname, then run the command again)",
    )
