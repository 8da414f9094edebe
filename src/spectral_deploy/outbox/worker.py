"""The worker runtime: claim rows of one generation under a lease, run handlers, finish them.

A worker process registers itself (``starting``, with the settings others judge it by), loads
its handlers and opens one store session per claim loop, then turns ``running``. Each loop
repeats one call: finish the rows of the last batch and lease the next batch, starting just
past the ids it claimed last, then run the batch's rows one by one.

Possession, not ownership, keeps a lease alive. A supervisor thread renews only the rows the
loops still hold (the rows in hand, and the finished rows waiting for their ack); a row whose
finish could not be written is released and no longer renewed. A renewal that does not come
back for a row means another worker took it: the loop drops it. Before starting each row a
loop checks that its leases cannot have lapsed (after a pause, say); if they might have, it
renews them first and drops the rows it lost. The supervisor also re-arms the worker after
it was reaped, follows a stop request for its generation, ends the leases of stale workers
(by their own thresholds) and times handlers out: a handler still running after its timeout
gives its row back as a failed attempt; its loop is replaced so the worker keeps its
concurrency, and the thread stuck in the handler is left to finish alone.

Nothing a row holds can stop a worker: a payload that cannot be decoded, a topic without a
handler or a handler the machinery cannot run dead-letters that row alone, with the reason.

``request_stop`` (SIGTERM, or a stop request) turns the worker ``draining``: no new claims,
the rows in hand finish and are acked, then ``stopped``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast
from uuid import UUID, uuid4

from spectral_deploy.config import OutboxConfig
from spectral_deploy.errors import SpectralError
from spectral_deploy.outbox.codec import PayloadError, decode
from spectral_deploy.outbox.cursor import ClaimCursor
from spectral_deploy.outbox.handlers import Event, Handlers
from spectral_deploy.outbox.ratelimit import RateLimiter
from spectral_deploy.outbox.retry import backoff_seconds
from spectral_deploy.outbox.store import (
    Claimed,
    ClaimResult,
    Lease,
    LeaseBatch,
    OutboxStore,
    WorkerInfo,
    WorkerState,
)
from spectral_deploy.redaction import redact

__all__ = ["Wakeable", "Worker", "WorkerSettings", "WorkerSummary"]

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 4000
RECONNECT_MAX_SECONDS = 10.0
# how often the main thread looks for a stop request a signal handler could not wake it for
STOP_CHECK_SECONDS = 0.5
REAP_EVERY_BEATS = 3
# the supervisor looks at running handlers this often (at most), to time them out
WATCH_MIN_SECONDS = 0.05
WATCH_MAX_SECONDS = 1.0
# more hung handler threads than this (per claim loop) and the worker stops, so that its
# supervisor (systemd, the hosting provider) starts a clean process
HUNG_THREADS_PER_LOOP = 4

_monotonic = time.monotonic
_new_event = object.__new__


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
    handler_timeout_seconds: float = 300.0
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
            handler_timeout_seconds=config.handler_timeout_seconds,
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
    timed_out: int = 0
    error: str | None = None


class _Loop:
    """One claim loop's state, shared with the supervisor thread.

    The loop writes ``running`` before a handler starts; after it returns, the loop takes
    ``mutex`` to check ``abandoned`` and record the outcome. The supervisor takes ``mutex`` to
    read what the loop holds, or to abandon a loop whose handler timed out.
    """

    def __init__(self, number: int, session: OutboxStore) -> None:
        self.number = number
        self.session = session
        self.thread: threading.Thread | None = None
        self.mutex = threading.Lock()
        self.batch: tuple[Claimed, ...] = ()
        self.batch_no = 0
        self.token = 0
        self.next = 0  # the first row of the batch not yet finished
        self.running = -1  # the row whose handler runs, or -1
        self.acks: list[int] = []  # finished rows of the last batch, acked with the next claim
        self.ack_token = 0
        self.lost: set[int] = set()
        self.valid_until = 0.0
        self.abandoned = False
        self.handled = 0
        self.failed = 0
        self.dead = 0
        self.lost_count = 0

    def held(self) -> list[Lease]:
        """The leases this loop holds (under ``mutex``): finished rows waiting for their ack,
        and the rows of the batch not finished yet."""
        token = self.ack_token
        return [Lease(row_id, token) for row_id in self.acks] + self.in_hand()

    def in_hand(self) -> list[Lease]:
        """The leases of the batch's rows not finished yet (under ``mutex``)."""
        lost = self.lost
        return [row.lease for row in self.batch[self.next :] if row.id not in lost]


class Worker:
    """One worker process: ``concurrency`` claim loops, a supervisor, a listener."""

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
        self._beat_now = threading.Event()
        self._wake = threading.Condition()
        self._wake_count = 0
        self._fatal: str | None = None
        self._state = WorkerState.STARTING
        self._control: OutboxStore  # opened by run()
        self._loops: list[_Loop] = []
        self._loops_lock = threading.Lock()
        self._abandoned: list[_Loop] = []
        self._timed_out = 0
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

    def check_now(self) -> None:
        """Beat and read the registry at once (a stop notification arrived)."""
        self._beat_now.set()

    # -- the run --------------------------------------------------------------

    def run(self) -> WorkerSummary:
        """Run until ``request_stop``; returns what was done."""
        settings = self.settings
        control = self._control = self._store_factory()
        info = WorkerInfo(
            id=self.id,
            generation=settings.generation,
            host=socket.gethostname(),
            pid=os.getpid(),
            app=self.app,
            concurrency=settings.concurrency,
            lease_seconds=settings.lease_seconds,
            stale_after_seconds=settings.stale_after_seconds,
            heartbeat_seconds=settings.heartbeat_seconds,
            claim_topics=settings.topics,
        )
        control.register_worker(info)
        log.info(
            "action=worker.starting worker=%s generation=%s app=%s",
            self.id,
            settings.generation,
            self.app,
        )
        try:
            handlers = self._handlers if self._handlers is not None else self._load()
            loops = [_Loop(n, self._store_factory()) for n in range(settings.concurrency)]
        except BaseException as exc:
            control.set_worker_state(self.id, WorkerState.STOPPED, error=_describe(exc))
            control.close()
            raise
        self._handlers = handlers

        listener = self._listener_factory(self.wake) if self._listener_factory else None
        supervisor = threading.Thread(
            target=self._supervise, args=(handlers,), name="outbox-supervisor", daemon=True
        )
        self._record_state(WorkerState.RUNNING, topics=handlers.topics)
        for loop in loops:
            self._start_loop(loop, handlers)
        supervisor.start()
        if listener is not None:
            listener.start()
        try:
            # Wait in slices: a signal's Python handler runs on the main thread, but the kernel
            # may deliver SIGTERM to any thread, and then an untimed wait is never interrupted.
            while not self._stop.wait(STOP_CHECK_SECONDS):
                pass
        finally:
            self._stop.set()
            self.wake()
            self._record_state(WorkerState.DRAINING)
            for loop in self._live_loops():
                assert loop.thread is not None
                loop.thread.join()
            if listener is not None:
                listener.stop()
            self._finished.set()
            supervisor.join()
            self._record_state(WorkerState.STOPPED, error=self._fatal)
            self._control.close()
        summary = self._summary()
        log.info(
            "action=worker.stopped worker=%s handled=%s failed=%s dead=%s timed_out=%s",
            self.id,
            summary.handled,
            summary.failed,
            summary.dead_lettered,
            summary.timed_out,
        )
        return summary

    def _summary(self) -> WorkerSummary:
        with self._loops_lock:
            every = self._loops + self._abandoned
        return WorkerSummary(
            worker=self.id,
            handled=sum(loop.handled for loop in every),
            failed=sum(loop.failed for loop in every) + self._timed_out,
            dead_lettered=sum(loop.dead for loop in every),
            lost_leases=sum(loop.lost_count for loop in every),
            timed_out=self._timed_out,
            error=self._fatal,
        )

    def _record_state(
        self, state: WorkerState, error: str | None = None, topics: frozenset[str] | None = None
    ) -> None:
        self._state = state
        try:
            self._control.set_worker_state(self.id, state, error=error, topics=topics)
        except SpectralError as exc:
            log.warning("action=worker.state_not_recorded state=%s error=%s", state, exc)
        log.info("action=worker.%s worker=%s", state, self.id)

    def _start_loop(self, loop: _Loop, handlers: Handlers) -> None:
        loop.thread = threading.Thread(
            target=self._claim_loop_guarded,
            args=(loop, handlers),
            name=f"outbox-claim-{loop.number}",
            daemon=True,
        )
        with self._loops_lock:
            self._loops.append(loop)
        loop.thread.start()

    def _live_loops(self) -> list[_Loop]:
        with self._loops_lock:
            return [loop for loop in self._loops if not loop.abandoned]

    # -- claim loops ----------------------------------------------------------

    def _claim_loop_guarded(self, loop: _Loop, handlers: Handlers) -> None:
        try:
            self._claim_loop(loop, handlers)
        except BaseException as exc:  # a bug in the worker itself: stop the whole worker, loudly
            if loop.abandoned:
                return
            self._fatal = _describe(exc, with_traceback=True)
            log.error("action=worker.loop_crashed worker=%s error=%s", self.id, self._fatal)
            self._stop.set()
            self.wake()
        finally:
            loop.session.close()

    def _claim_loop(self, loop: _Loop, handlers: Handlers) -> None:
        settings = self.settings
        cursor = ClaimCursor(settings.poll_seconds)
        failures = 0
        runner = asyncio.new_event_loop()
        try:
            while not loop.abandoned:
                stopping = self._stop.is_set()
                with self._wake:
                    seen = self._wake_count
                limit = 0 if stopping else settings.batch_rows
                if self._limiter is not None and limit:
                    limit = self._limiter.take(limit)
                with loop.mutex:
                    acks = LeaseBatch(loop.acks, loop.ack_token)
                sent = _monotonic()
                try:
                    result = loop.session.ack_and_claim(
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
                    if self._limiter is not None:
                        self._limiter.refund(limit)
                    if not self._reconnect(loop, exc, failures):
                        return
                    continue
                failures = 0
                rows = self._take(loop, result, len(acks), sent)
                if stopping:
                    if rows:  # claimed while told to stop (limit 0 should prevent it)
                        loop.session.release(self.id, [row.lease for row in rows])
                    return
                if self._limiter is not None:
                    self._limiter.refund(limit - len(rows))
                if not rows:
                    cursor.claimed(None)
                    if cursor.idle_now():
                        self._idle(seen)
                    continue
                # id order, but a suspect first
                cursor.claimed(max(rows[0].id, rows[-1].id))
                self._run_batch(loop, handlers, rows, runner)
        finally:
            runner.close()

    def _take(
        self, loop: _Loop, result: ClaimResult, acks: int, sent: float
    ) -> tuple[Claimed, ...]:
        """Make a claim's rows the loop's batch (the acks it carried are done)."""
        if result.acked < acks:
            loop.lost_count += acks - result.acked
            log.warning(
                "action=outbox.lease_lost worker=%s rows=%s: acked by nobody, another worker "
                "had them",
                self.id,
                acks - result.acked,
            )
        rows = result.events
        with loop.mutex:
            loop.acks = []
            loop.batch = rows
            loop.batch_no += 1
            loop.next = 0
            loop.lost = set()
            if rows:
                loop.ack_token = rows[0].token
            loop.valid_until = sent + self.settings.lease_seconds
        return rows

    def _run_batch(
        self,
        loop: _Loop,
        handlers: Handlers,
        rows: tuple[Claimed, ...],
        runner: asyncio.AbstractEventLoop,
    ) -> None:
        """Run a batch's rows in order; record each outcome (the hot path: kept flat)."""
        settings = self.settings
        by_topic = handlers.mapping()
        mutex = loop.mutex
        acks = loop.acks
        max_attempts = settings.max_attempts
        for index, row in enumerate(rows):
            if _monotonic() > loop.valid_until and not self._confirm(loop):
                return
            if loop.lost and row.id in loop.lost:
                loop.lost_count += 1
                with mutex:
                    loop.next = index + 1
                continue
            handler = by_topic.get(row.topic)
            loop.running = index
            outcome: _Outcome | None = None
            if handler is None or (row.suspect and row.attempt > max_attempts):
                outcome = self._cannot_run(row, handler)
            else:
                try:
                    payload = decode(row.payload_text)
                except PayloadError as exc:
                    outcome = _Outcome(str(exc), charged=row.attempt - 1, dead=True, ran=False)
                else:
                    event = _new_event(Event)
                    fields = event.__dict__
                    fields["id"] = row.id
                    fields["topic"] = row.topic
                    fields["key"] = row.key
                    fields["payload"] = payload
                    fields["generation"] = row.generation
                    fields["attempt"] = row.attempt
                    fields["created_at"] = row.created_at
                    fields["original_generation"] = row.original_generation
                    try:
                        result = handler(event)
                        if result is not None:
                            self._await(result, row, handlers, runner)
                    except BaseException as exc:  # exit() or BaseException fail the row only
                        outcome = self._handler_failed(row, exc)
            with mutex:
                if loop.abandoned:
                    return
                loop.running = -1
                if outcome is None:
                    acks.append(row.id)
                    loop.next = index + 1
                    loop.handled += 1
                    continue
            self._finish_failed(loop, row, outcome, settings)
            with mutex:
                loop.next = index + 1

    def _cannot_run(self, row: Claimed, handler: Callable[[Event], Any] | None) -> _Outcome:
        """Dead-letter a row without running it (its runs are not charged again)."""
        if handler is None:
            error = f"no handler for topic {row.topic!r} in {self.app}"
        else:
            error = (
                f"gave up after {row.attempt - 1} attempts: its worker died or lost the row "
                "during each run (killed by the handler? out of memory?)"
            )
        return _Outcome(error, charged=row.attempt - 1, dead=True, ran=False)

    def _await(
        self,
        outcome: object,
        row: Claimed,
        handlers: Handlers,
        runner: asyncio.AbstractEventLoop,
    ) -> None:
        if not inspect.isawaitable(outcome):
            return
        timeout = handlers.timeout(row.topic) or self.settings.handler_timeout_seconds
        awaitable = cast(Awaitable[None], outcome)
        if not asyncio.iscoroutine(awaitable):
            awaitable = _as_coroutine(awaitable)
        try:
            runner.run_until_complete(asyncio.wait_for(awaitable, timeout))
        except TimeoutError as exc:
            raise TimeoutError(
                f"the handler timed out after {timeout:g} s and was cancelled"
            ) from exc

    def _handler_failed(self, row: Claimed, exc: BaseException) -> _Outcome:
        error = _describe(exc, with_traceback=True)
        log.warning(
            "action=outbox.handler_failed id=%s topic=%s attempt=%s error=%s",
            row.id,
            row.topic,
            row.attempt,
            _describe(exc),
        )
        # payloads may hold personal data: only with -v
        log.info("action=outbox.failed_payload id=%s payload=%s", row.id, row.payload_text)
        return _Outcome(
            error, charged=row.attempt, dead=row.attempt >= self.settings.max_attempts, ran=True
        )

    def _finish_failed(
        self, loop: _Loop, row: Claimed, outcome: _Outcome, settings: WorkerSettings
    ) -> None:
        """Write a failed row's retry or dead-letter; if that fails, release the row."""
        lease = row.lease
        if outcome.ran:
            loop.failed += 1
        try:
            if outcome.dead:
                loop.dead += 1
                log.error(
                    "action=outbox.dead_lettered id=%s topic=%s attempt=%s error=%s",
                    row.id,
                    row.topic,
                    outcome.charged,
                    outcome.error.splitlines()[0] if outcome.error else "",
                )
                written = loop.session.dead_letter(
                    self.id, lease, outcome.error, attempt=outcome.charged
                )
            else:
                delay = backoff_seconds(
                    max(1, outcome.charged),
                    base_seconds=settings.backoff_base_seconds,
                    max_seconds=settings.backoff_max_seconds,
                )
                written = loop.session.retry(
                    self.id, lease, outcome.error, delay, attempt=outcome.charged
                )
            if not written:
                loop.lost_count += 1
        except SpectralError as exc:
            # not renewed any more (the loop moves past it): another claim gets it when its
            # lease ends, or at once if this release gets through
            log.warning(
                "action=outbox.finish_failed worker=%s id=%s error=%s", self.id, row.id, exc
            )
            with contextlib.suppress(SpectralError):
                loop.session.release(self.id, [lease])

    def _confirm(self, loop: _Loop) -> bool:
        """The loop's leases may have lapsed (it was paused, or beats failed): renew them now
        and drop the rows lost meanwhile. False when that cannot be known."""
        with loop.mutex:
            held = loop.held()
        sent = _monotonic()
        try:
            beat = loop.session.heartbeat(self.id, held, self.settings.lease_seconds)
        except SpectralError as exc:
            log.warning(
                "action=outbox.leases_unconfirmed worker=%s error=%s: the rows in hand are "
                "left to their leases",
                self.id,
                exc,
            )
            with loop.mutex:
                loop.lost.update(lease.id for lease in held)
                loop.next = len(loop.batch)
            return False
        lost = {lease.id for lease in held} - beat.renewed
        if lost or beat.was_reaped:
            log.warning(
                "action=outbox.leases_lost worker=%s rows=%s reaped=%s: dropped, another worker "
                "has them",
                self.id,
                len(lost),
                beat.was_reaped,
            )
        with loop.mutex:
            loop.lost.update(lost)
            loop.valid_until = sent + self.settings.lease_seconds
        if beat.stop_requested:
            self._stop_requested()
        return True

    def _idle(self, seen: int) -> None:
        with self._wake:
            if self._wake_count == seen and not self._stop.is_set():
                self._wake.wait(self.settings.poll_seconds)

    def _reconnect(self, loop: _Loop, exc: SpectralError, failures: int) -> bool:
        log.warning("action=outbox.store_error worker=%s error=%s", self.id, exc)
        loop.session.close()  # the failed session; a new one replaces it
        delay = min(RECONNECT_MAX_SECONDS, 0.2 * 2 ** min(failures, 10))
        while not self._stop.wait(delay):
            try:
                loop.session = self._store_factory()
                return True
            except SpectralError as again:
                log.warning("action=outbox.reconnect_failed worker=%s error=%s", self.id, again)
        # stopping: one more session to ack what is in hand
        try:
            loop.session = self._store_factory()
        except SpectralError:
            return False
        return True

    # -- the supervisor: heartbeat, reaper, handler timeouts ---------------------

    def _supervise(self, handlers: Handlers) -> None:
        settings = self.settings
        timeouts = [settings.handler_timeout_seconds, *handlers.timeouts().values()]
        tick = max(WATCH_MIN_SECONDS, min(WATCH_MAX_SECONDS, min(timeouts) / 5))
        tick = min(tick, settings.heartbeat_seconds)
        next_beat = _monotonic() + settings.heartbeat_seconds
        beats = 0
        first_seen: dict[int, tuple[int, int, float]] = {}
        while not self._finished.wait(tick):
            now = _monotonic()
            self._watch(handlers, first_seen, now)
            if now < next_beat and not self._beat_now.is_set():
                continue
            self._beat_now.clear()
            next_beat = now + settings.heartbeat_seconds
            try:
                self._beat()
                beats += 1
                if beats % REAP_EVERY_BEATS == 0 and self._control.reap(
                    settings.stale_after_seconds
                ):
                    self.wake()
            except SpectralError as exc:
                log.warning("action=worker.heartbeat_failed worker=%s error=%s", self.id, exc)
                self._replace_control()

    def _beat(self) -> None:
        loops = self._live_loops()
        held: dict[int, tuple[int, list[Lease]]] = {}
        every: list[Lease] = []
        for loop in loops:
            with loop.mutex:
                in_hand = loop.in_hand()
                held[id(loop)] = (loop.batch_no, in_hand)
                every.extend(Lease(row_id, loop.ack_token) for row_id in loop.acks)
            every.extend(in_hand)
        sent = _monotonic()
        beat = self._control.heartbeat(self.id, every, self.settings.lease_seconds)
        lost_total = 0
        for loop in loops:
            batch_no, in_hand = held[id(loop)]
            with loop.mutex:
                if loop.batch_no != batch_no:
                    continue  # acked and claimed again meanwhile: the new batch has new leases
                # finished rows may be acked while the beat runs: only rows in hand count
                lost = {lease.id for lease in in_hand} - beat.renewed
                lost_total += len(lost)
                loop.lost.update(lost)
                if not lost:
                    loop.valid_until = max(loop.valid_until, sent + self.settings.lease_seconds)
        if lost_total or beat.was_reaped:
            log.warning(
                "action=worker.leases_lost worker=%s rows=%s reaped=%s: another worker has "
                "them; they are dropped%s",
                self.id,
                lost_total,
                beat.was_reaped,
                " (this worker was found stale and is re-armed)" if beat.was_reaped else "",
            )
        if beat.stop_requested:
            self._stop_requested()

    def _stop_requested(self) -> None:
        if not self._stop.is_set():
            log.warning(
                "action=worker.stop_requested worker=%s generation=%s: no new claims; the rows "
                "in hand finish",
                self.id,
                self.settings.generation,
            )
            self.request_stop()

    def _watch(
        self, handlers: Handlers, first_seen: dict[int, tuple[int, int, float]], now: float
    ) -> None:
        """Time out handlers that run longer than their topic allows."""
        for loop in self._live_loops():
            index, batch_no = loop.running, loop.batch_no
            if index < 0:
                first_seen.pop(id(loop), None)
                continue
            seen = first_seen.get(id(loop))
            if seen is None or seen[:2] != (batch_no, index):
                first_seen[id(loop)] = (batch_no, index, now)
                continue
            rows = loop.batch
            if index >= len(rows):
                continue
            row = rows[index]
            timeout = handlers.timeout(row.topic) or self.settings.handler_timeout_seconds
            if now - seen[2] >= timeout:
                first_seen.pop(id(loop), None)
                self._abandon(loop, batch_no, index, timeout, handlers)

    def _abandon(
        self, loop: _Loop, batch_no: int, index: int, timeout: float, handlers: Handlers
    ) -> None:
        with loop.mutex:
            if loop.abandoned or loop.running != index or loop.batch_no != batch_no:
                return
            loop.abandoned = True
            row = loop.batch[index]
            rest = [r.lease for r in loop.batch[index + 1 :] if r.id not in loop.lost]
            acks = [Lease(row_id, loop.ack_token) for row_id in loop.acks]
        self._timed_out += 1
        error = (
            f"TimeoutError: the handler of {row.topic!r} timed out after {timeout:g} s "
            "(outbox.handler_timeout_seconds, or Handlers.on(topic, timeout=...)); its row was "
            "given back as a failed attempt"
        )
        log.error(
            "action=outbox.handler_timed_out id=%s topic=%s attempt=%s seconds=%s",
            row.id,
            row.topic,
            row.attempt,
            timeout,
        )
        settings = self.settings
        try:
            if row.attempt >= settings.max_attempts:
                self._control.dead_letter(self.id, row.lease, error, attempt=row.attempt)
            else:
                delay = backoff_seconds(
                    row.attempt,
                    base_seconds=settings.backoff_base_seconds,
                    max_seconds=settings.backoff_max_seconds,
                )
                self._control.retry(self.id, row.lease, error, delay, attempt=row.attempt)
            self._control.release(self.id, rest)
            if acks:
                self._control.ack_and_claim(
                    self.id,
                    settings.generation,
                    acks,
                    limit=0,
                    lease_seconds=settings.lease_seconds,
                    after_id=0,
                )
        except SpectralError as exc:
            # not renewed any more: the rows come back when their leases end
            log.warning("action=outbox.timeout_release_failed worker=%s error=%s", self.id, exc)
        with self._loops_lock:
            self._loops.remove(loop)
            self._abandoned.append(loop)
            hung = sum(
                1 for old in self._abandoned if old.thread is not None and old.thread.is_alive()
            )
        if hung > HUNG_THREADS_PER_LOOP * settings.concurrency:
            self._fatal = (
                f"{hung} handler threads are stuck past their timeout; stopping so that a clean "
                "process takes over"
            )
            log.error("action=worker.too_many_hung_handlers worker=%s hung=%s", self.id, hung)
            self.request_stop()
            return
        if self._stop.is_set():
            return
        try:
            replacement = _Loop(loop.number, self._store_factory())
        except SpectralError as exc:
            log.warning("action=worker.loop_not_replaced worker=%s error=%s", self.id, exc)
            return
        self._start_loop(replacement, handlers)

    def _replace_control(self) -> None:
        """A lost control session must not make a live worker look dead: open a new one."""
        try:
            fresh = self._store_factory()
        except SpectralError as exc:
            log.warning("action=worker.control_reconnect_failed worker=%s error=%s", self.id, exc)
            return
        old, self._control = self._control, fresh
        old.close()


@dataclass(frozen=True)
class _Outcome:
    """What to write for a row that did not succeed."""

    error: str
    charged: int
    dead: bool
    # its handler ran (and failed); False: dead-lettered without running
    ran: bool


async def _as_coroutine(awaitable: Awaitable[None]) -> None:
    await awaitable


def _describe(exc: BaseException, *, with_traceback: bool = False) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if with_traceback:
        text += "\n" + "".join(traceback.format_exception(exc)[-6:])
    # stored in the outbox and the worker registry: the one redaction path, like any output
    return redact(text)[:MAX_ERROR_CHARS]
