"""Pointing the public CNAME at a slot: the one flip the cutover and the rollback both make.

The record is read first (by the caller, as it observes); it is changed only when it does
not already send traffic to the slot, and only after the caller's check that the slot
serves; then it is read back, and a record that reads back anything else fails the step.
Running it again after a crash is safe: a record already pointing there is left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from spectral_deploy.config import Config
from spectral_deploy.cutover import crash
from spectral_deploy.errors import CheckFailed, SpectralError
from spectral_deploy.providers.base import DnsProvider, DnsRecord, color_of

__all__ = ["point_cname"]


def point_cname(
    config: Config,
    dns: DnsProvider,
    current: DnsRecord,
    target: str,
    *,
    serves: Callable[[], object],
    crash_point: str,
    misread: Callable[[str], SpectralError] | None = None,
) -> tuple[DnsRecord, bool]:
    """Point the CNAME (read as ``current``) at ``target`` unless it already sends traffic
    there; ``serves()`` raises when the slot must not take the traffic. The record read back,
    and whether it was changed now. A record that reads back another target raises
    ``misread(read_back_target)`` (each caller keeps its own words in its ledger)."""
    color = color_of(config, target)
    flipped_now = color_of(config, current.target) is not color
    record = current
    if flipped_now:
        serves()  # observed now: never point the record at a slot that does not serve
        record = dns.point(target, config.dns.ttl)
        crash.point(crash_point)
    if color_of(config, record.target) is not color:
        if misread is not None:
            raise misread(record.target)
        raise CheckFailed(f"pointed the CNAME at {target!r} but it reads back {record.target!r}")
    return record, flipped_now
