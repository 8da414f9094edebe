"""The outbox status model: which workers count as running for a generation."""

from __future__ import annotations

from dataclasses import replace

from spectral_deploy.outbox.status import OutboxStatus
from tests.unit.statuskit import worker


def test_running_counts_live_workers_of_the_generation_in_state_running_only() -> None:
    """A stale, a draining, a starting worker and one of another generation are not running."""
    up = worker(7)
    status = OutboxStatus(
        generations=(),
        workers=(
            up,
            worker(7, live=False),
            worker(7, "draining"),
            worker(7, "starting"),
            worker(8),
            replace(worker(7), live=True),
        ),
    )
    assert len(status.running(7)) == 2
    assert up in status.running(7)
    assert status.running(9) == ()
