"""The worker runtime: claim rows of one generation under a lease, run handlers, finish them.

A worker process registers itself (``starting``), loads its handlers and opens one store
session per claim loop, then turns ``running``. Each loop repeats one statement: finish the
rows of the last batch and lease the next batch, starting just past the ids it claimed
last. A heartbeat thread refreshes the registry, renews the leases in flight (every
``heartbeat_seconds``, at most a third of a lease) and now and then releases the leases of
workers whose heartbeat went stale. ``request_stop`` (SIGTERM) turns the worker
``draining``: no new claims, the batch in hand finishes and is acked, then ``stopped``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, cast
from uuid import UUID, uuid4

from spectral_deploy.config import OutboxConfig
from spectral_deploy.errors import SpectralError
from spectral_deploy.outbox.cursor import ClaimCursor
from spectral_deploy.outbox.handlers import Event, Handlers
from spectral_deploy.outbox.ratelimit import RateLimiter
from spectral_deploy.outbox.retry import backoff_seconds
from spectral_deploy.outbox.store import Lease, OutboxStore, WorkerInfo, WorkerState
from spectral_deploy.redaction import redact

__all__ = ["Wakeable", "Worker", "WorkerSettings", "WorkerSummary"]

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 4000
RECONNECT_MAX_SECONDS = 10.0
REAP_EVERY_BEATS = 3


class Wakeable(Protocol):
    """Something that wakes idle claim loops (the LISTEN thread)."""

    def start(self) -> None:
        """Begin listening."""
        ...

    def stop(self) -> None:
        """Stop listening."""
        ...


@dataclass(frozen=True)
class WorkerSettings:
    """How one worker process claims and retries (see ``OutboxConfig`` for the meanings and the
    defaults: build it with ``from_config``)."""

    generation: int
    concurrency: int
    batch_rows: int
    lease_seconds: float
    heartbeat_seconds: float
    stale_after_seconds: float
    poll_seconds: float
    max_attempts: int
    backoff_base_seconds: float
    backoff_max_seconds: float
    # a legacy drain claims only the topics it has handlers for, at a bounded rate
    topics: frozenset[str] | None = None
    max_rows_per_second: float | None = None

    @classmethod
    def from_config(
        cls,
        config: OutboxConfig,
        *,
        generation: int,
        concurrency: int = 1,
        lease_seconds: float | None = None,
        topics: frozenset[str] | None = None,
        max_rows_per_second: float | None = None,
    ) -> WorkerSettings:
        """Settings from ``[outbox]``; a shorter lease also shortens the heartbeat."""
        lease = lease_seconds if lease_seconds is not None else config.lease_seconds
        heartbeat = min(config.heartbeat_seconds, lease / 3)
        return cls(
            generation=generation,
            concurrency=concurrency,
            batch_rows=config.batch_rows,
            lease_seconds=lease,
            heartbeat_seconds=heartbeat,
            stale_after_seconds=max(config.stale_after_seconds, 3 * heartbeat),
            poll_seconds=config.poll_seconds,
            max_attempts=config.max_attempts,
            backoff_base_seconds=config.backoff_base_seconds,
            backoff_max_seconds=config.backoff_max_seconds,
            topics=topics,
            max_rows_per_second=max_rows_per_second,
        )


@dataclass(frozen=True)
class WorkerSummary:
    """What a worker did, counted as it went."""

    worker: UUID
    handled: int
    failed: int
    dead_lettered: int
    lost_leases: int
    error: str | None = None


class _Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.handled = 0
        self.failed = 0
        self.dead = 0
        self.lost = 0

    def add(self, *, handled: int = 0, failed: int = 0, dead: int = 0, lost: int = 0) -> None:
        with self._lock:
            self.handled += handled
            self.failed += failed
            self.dead += dead
            self.lost += lost


class Worker:
    """One worker process: ``concurrency`` claim loops, a heartbeat, a listener."""

    def __init__(
        self,
        handlers: Handlers | Callable[[], Handlers],
        settings: WorkerSettings,
        store_factory: Callable[[], OutboxStore],
        *,
        app: str = "?",
        listener_factory: Callable[[Callable[[], None]], Wakeable] | None = None,
    ) -> None:
        self.id = uuid4()
        self.settings = settings
        self.app = app
        self._load = handlers if callable(handlers) else (lambda: handlers)
        self._handlers: Handlers | None = handlers if isinstance(handlers, Handlers) else None
        self._store_factory = store_factory
        self._listener_factory = listener_factory
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._wake = threading.Condition()
        self._wake_count = 0
        self._counters = _Counters()
        self._fatal: str | None = None
        self._state = WorkerState.STARTING
        self._control: OutboxStore  # opened by run()
        self._limiter = (
            RateLimiter(settings.max_rows_per_second) if settings.max_rows_per_second else None
        )

    # -- control --------------------------------------------------------------

    @property
    def state(self) -> WorkerState:
        """The state last recorded."""
        return self._state

    def request_stop(self) -> None:
        """Drain: no new claims; the batches in hand finish. Safe from a signal handler."""
        self._stop.set()
        self.wake()

    def wake(self) -> None:
        """Tell idle claim loops that there may be work."""
        with self._wake:
            self._wake_count += 1
            self._wake.notify_all()

    # -- the run --------------------------------------------------------------

    def run(self) -> WorkerSummary:
        """Run until ``request_stop``; returns what was done."""
        control = self._control = self._store_factory()
        info = WorkerInfo(
            id=self.id,
            generation=self.settings.generation,
            host=socket.gethostname(),
            pid=os.getpid(),
            app=self.app,
            concurrency=self.settings.concurrency,
            lease_seconds=self.settings.lease_seconds,
        )
        control.register_worker(info)
        log.info(
            "action=worker.starting worker=%s generation=%s app=%s",
            self.id,
            self.settings.generation,
            self.app,
        )
        try:
            handlers = self._handlers if self._handlers is not None else self._load()
            sessions = [self._store_factory() for _ in range(self.settings.concurrency)]
        except BaseException as exc:
            control.set_worker_state(self.id, WorkerState.STOPPED, error=_describe(exc))
            control.close()
            raise
        self._handlers = handlers

        listener = self._listener_factory(self.wake) if self._listener_factory else None
        heartbeat = threading.Thread(
            target=self._heartbeat_loop, name="outbox-heartbeat", daemon=True
        )
        loops = [
            threading.Thread(
                target=self._claim_loop_guarded,
                args=(session, handlers),
                name=f"outbox-claim-{index}",
                daemon=True,
            )
            for index, session in enumerate(sessions)
        ]
        self._record_state(WorkerState.RUNNING)
        heartbeat.start()
        if listener is not None:
            listener.start()
        for loop in loops:
            loop.start()
        try:
            self._stop.wait()
        finally:
            self._stop.set()
            self.wake()
            self._record_state(WorkerState.DRAINING)
            for loop in loops:
                loop.join()
            if listener is not None:
                listener.stop()
            self._finished.set()
            heartbeat.join()
            self._record_state(WorkerState.STOPPED, error=self._fatal)
            self._control.close()
        counters = self._counters
        log.info(
            "action=worker.stopped worker=%s handled=%s failed=%s dead=%s",
            self.id,
            counters.handled,
            counters.failed,
            counters.dead,
        )
        return WorkerSummary(
            worker=self.id,
            handled=counters.handled,
            failed=counters.failed,
            dead_lettered=counters.dead,
            lost_leases=counters.lost,
            error=self._fatal,
        )

    def _record_state(self, state: WorkerState, error: str | None = None) -> None:
        self._state = state
        try:
            self._control.set_worker_state(self.id, state, error=error)
        except SpectralError as exc:
            log.warning("action=worker.state_not_recorded state=%s error=%s", state, exc)
        log.info("action=worker.%s worker=%s", state, self.id)

    # -- claim loops ----------------------------------------------------------

    def _claim_loop_guarded(self, store: OutboxStore, handlers: Handlers) -> None:
        try:
            self._claim_loop(store, handlers)
        except BaseException as exc:  # a bug: stop the whole worker, loudly
            self._fatal = _describe(exc)
            log.error("action=worker.loop_crashed worker=%s error=%s", self.id, self._fatal)
            self._stop.set()

    def _claim_loop(self, store: OutboxStore, handlers: Handlers) -> None:
        settings = self.settings
        acks: list[Lease] = []
        cursor = ClaimCursor(settings.poll_seconds)
        failures = 0
        loop = asyncio.new_event_loop()
        session: OutboxStore | None = store
        try:
            while session is not None:
                store = session
                stopping = self._stop.is_set()
                with self._wake:
                    seen = self._wake_count
                limit = 0 if stopping else settings.batch_rows
                if self._limiter is not None and limit:
                    limit = self._limiter.take(limit)
                try:
                    result = store.ack_and_claim(
                        self.id,
                        settings.generation,
                        acks,
                        limit=limit,
                        lease_seconds=settings.lease_seconds,
                        after_id=cursor.start(),
                        topics=settings.topics,
                    )
                except SpectralError as exc:
                    failures += 1
                    session = self._reconnect(store, exc, failures)
                    continue
                failures = 0
                if result.acked < len(acks):
                    self._counters.add(lost=len(acks) - result.acked)
                    log.warning(
                        "action=outbox.lease_lost worker=%s rows=%s",
                        self.id,
                        len(acks) - result.acked,
                    )
                acks = []
                if stopping:
                    return
                events = result.events
                if self._limiter is not None:
                    self._limiter.refund(limit - len(events))
                cursor.claimed(events[-1].id if events else None)
                if not events:
                    if cursor.idle_now():
                        self._idle(seen)
                    continue
                for event in events:
                    if self._handle(store, handlers, event, loop):
                        acks.append(Lease(event.id, event.attempt))
        finally:
            loop.close()
            if session is not None:
                session.close()

    def _idle(self, seen: int) -> None:
        with self._wake:
            if self._wake_count == seen and not self._stop.is_set():
                self._wake.wait(self.settings.poll_seconds)

    def _reconnect(
        self, store: OutboxStore, exc: SpectralError, failures: int
    ) -> OutboxStore | None:
        log.warning("action=outbox.store_error worker=%s error=%s", self.id, exc)
        store.close()  # the failed session; a new one replaces it
        delay = min(RECONNECT_MAX_SECONDS, 0.2 * 2 ** min(failures, 10))
        while not self._stop.wait(delay):
            try:
                return self._store_factory()
            except SpectralError as again:
                log.warning("action=outbox.reconnect_failed worker=%s error=%s", self.id, again)
        return None

    def _handle(
        self,
        store: OutboxStore,
        handlers: Handlers,
        event: Event,
        loop: asyncio.AbstractEventLoop,
    ) -> bool:
        """Run one event; True means acknowledge it with the next claim."""
        lease = Lease(event.id, event.attempt)
        settings = self.settings
        if event.attempt > settings.max_attempts:
            # claimed again after its lease ran out more often than it may be tried:
            # the handler keeps killing its worker, so stop feeding it
            error = (
                f"gave up after {event.attempt - 1} attempts: the lease kept running out "
                "(worker killed or crashed while handling it?)"
            )
            self._dead_letter(store, lease, event, error)
            return False
        handler = handlers.get(event.topic)
        if handler is None:
            error = f"no handler for topic {event.topic!r} in {self.app}"
            self._dead_letter(store, lease, event, error)
            return False
        try:
            outcome = handler(event)
            if asyncio.iscoroutine(outcome):
                loop.run_until_complete(cast(Awaitable[None], outcome))
        except Exception as exc:
            self._counters.add(failed=1)
            error = _describe(exc, with_traceback=True)
            log.warning(
                "action=outbox.handler_failed id=%s topic=%s attempt=%s error=%s",
                event.id,
                event.topic,
                event.attempt,
                _describe(exc),
            )
            # payloads may hold personal data: only with -v
            log.info("action=outbox.failed_payload id=%s payload=%r", event.id, event.payload)
            if event.attempt >= settings.max_attempts:
                self._dead_letter(store, lease, event, error)
            else:
                delay = backoff_seconds(
                    event.attempt,
                    base_seconds=settings.backoff_base_seconds,
                    max_seconds=settings.backoff_max_seconds,
                )
                self._call(store.retry, self.id, lease, error, delay)
            return False
        self._counters.add(handled=1)
        return True

    def _dead_letter(self, store: OutboxStore, lease: Lease, event: Event, error: str) -> None:
        self._counters.add(dead=1)
        log.error(
            "action=outbox.dead_lettered id=%s topic=%s attempt=%s error=%s",
            event.id,
            event.topic,
            event.attempt,
            error.splitlines()[0],
        )
        self._call(store.dead_letter, self.id, lease, error)

    def _call(self, method: Callable[..., bool], *args: object) -> None:
        try:
            if not method(*args):
                self._counters.add(lost=1)
        except SpectralError as exc:
            # the row keeps its lease and comes back after it expires
            log.warning("action=outbox.release_failed worker=%s error=%s", self.id, exc)

    # -- heartbeat ------------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        settings = self.settings
        beats = 0
        while not self._finished.wait(settings.heartbeat_seconds):
            try:
                self._control.heartbeat(self.id, settings.generation, settings.lease_seconds)
                beats += 1
                if beats % REAP_EVERY_BEATS == 0 and self._control.reap(
                    settings.stale_after_seconds
                ):
                    self.wake()
            except SpectralError as exc:
                log.warning("action=worker.heartbeat_failed worker=%s error=%s", self.id, exc)
                self._replace_control()

    def _replace_control(self) -> None:
        """A lost control session must not make a live worker look dead: open a new one."""
        try:
            fresh = self._store_factory()
        except SpectralError as exc:
            log.warning("action=worker.control_reconnect_failed worker=%s error=%s", self.id, exc)
            return
        old, self._control = self._control, fresh
        old.close()


def _describe(exc: BaseException, *, with_traceback: bool = False) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if with_traceback:
        text += "\n" + "".join(traceback.format_exception(exc)[-6:])
    # stored in the outbox and the worker registry: the one redaction path, like any output
    return redact(text)[:MAX_ERROR_CHARS]
