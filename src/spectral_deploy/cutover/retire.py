"""Retiring a color after traffic left it: wait out the TTL, stop its web app, let its
workers finish its generation's rows, then stop them.

The order matters: stopping the workers while the web app still takes orders (clients whose
resolvers cached the old answer) would strand the rows written after they stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from spectral_deploy.clock import SYSTEM_CLOCK, Clock
from spectral_deploy.db import Database
from spectral_deploy.outbox.drain import unfinished_rows
from spectral_deploy.providers.base import Color, HostingProvider
from spectral_deploy.waiting import Reporter, Wait, logs_command, no_report

__all__ = ["DRAIN_TIMEOUT_SECONDS", "TTL_MARGIN_SECONDS", "retire_color"]

# resolvers honour the TTL from when they cached the answer: allow a little more
TTL_MARGIN_SECONDS = 0.5
DRAIN_TIMEOUT_SECONDS = 120.0
# a long TTL wait sleeps in slices, to report its progress
TTL_STEP_SECONDS = 1.0


def retire_color(
    hosting: HostingProvider,
    database: Database,
    color: Color,
    generation: int,
    *,
    ttl_seconds: float,
    moved_at: datetime | None,
    say: Callable[[str], None] = lambda text: None,
    drain_timeout: float = DRAIN_TIMEOUT_SECONDS,
    clock: Clock = SYSTEM_CLOCK,
    report: Reporter = no_report,
) -> int:
    """Stop ``color`` (running ``generation``) cleanly; returns the rows of it left over.

    ``drain_timeout`` 0: its workers were told to stop claiming (a Class 2 rollback), so their
    generation's rows are not waited for: they are adopted by the caller."""
    if moved_at is not None:
        wait = (moved_at.timestamp() + ttl_seconds + TTL_MARGIN_SECONDS) - datetime.now(
            UTC
        ).timestamp()
        if wait > 0:
            say(f"waiting {wait:.1f} s: clients may still resolve to {color} for one TTL")
            ttl = Wait(
                f"the TTL to pass ({color} may still get traffic)",
                wait,
                clock=clock,
                report=report,
                look="spectral-deploy status",
            )
            while (left := wait - ttl.elapsed_seconds) > 0:
                ttl.tick()
                clock.sleep(min(left, TTL_STEP_SECONDS))
    running = hosting.current(color)
    if running is not None and running.generation == generation:
        say(f"stopping the web app of slot {color} (generation {generation})")
        hosting.stop_web(color)
        if drain_timeout > 0:
            say(f"its workers finish generation {generation}'s rows")
        deadline = clock.monotonic() + drain_timeout
        drain = Wait(
            f"slot {color}'s workers to finish generation {generation}'s rows",
            drain_timeout,
            clock=clock,
            report=report,
            look=logs_command(color, worker=True),
        )
        with database.connect(autocommit=True) as conn:
            while drain_timeout > 0 and (
                rows := unfinished_rows(conn, database.schema, generation, None)
            ):
                if clock.monotonic() > deadline:
                    break
                drain.tick(f"{rows} row(s) left")
                # the slot's workers do the work: stop waiting if the slot is gone
                still = hosting.current(color)
                if still is None or still.generation != generation:
                    break
                clock.sleep(0.25)
        say(f"stopping slot {color}")
        hosting.stop(color)
    with database.connect(autocommit=True) as conn:
        return unfinished_rows(conn, database.schema, generation, None)
