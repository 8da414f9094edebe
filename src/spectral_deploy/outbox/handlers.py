"""Events as handlers see them, and the registry of handlers per topic.

    handlers = Handlers()

    @handlers.on("order.created")
    def send_receipt(event: Event) -> None:
        mailer.send(event.payload["email"], idempotency_key=str(event.id))

A handler may be a plain function or an ``async def``; raising means "retry later". A
handler still running after its timeout (``on(topic, timeout=...)``, else ``[outbox]
handler_timeout_seconds``) gives its row back as a failed attempt.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeVar

from spectral_deploy.errors import UsageError

__all__ = ["Event", "Handler", "Handlers"]


@dataclass(frozen=True)
class Event:
    """One outbox row, claimed under a lease.

    ``id`` is stable across retries: use it as the idempotency key, since delivery is
    at-least-once. ``attempt`` is this run's number within the row's budget (1 on the first
    run, 1 again after ``outbox dead retry`` or an adopt). ``generation`` is the generation the
    row is stamped with; ``original_generation`` is set when a legacy drain re-stamped it.
    The worker builds events by filling the instance dict (a frozen dataclass's ``__init__``
    is several times slower); they stay frozen for handlers.
    """

    id: int
    topic: str
    key: str | None
    payload: Any = field(repr=False)
    generation: int
    attempt: int
    created_at: datetime
    original_generation: int | None = None


Handler = Callable[[Event], None] | Callable[[Event], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Any])


class Handlers:
    """Handlers registered per topic; one handler per topic."""

    def __init__(self) -> None:
        self._by_topic: dict[str, Handler] = {}
        self._timeouts: dict[str, float] = {}

    def on(self, topic: str, *, timeout: float | None = None) -> Callable[[F], F]:
        """Decorator: run the decorated function for every event of ``topic``.

        ``timeout`` (seconds) overrides ``[outbox] handler_timeout_seconds`` for this topic.
        """

        def register(function: F) -> F:
            self.register(topic, function, timeout=timeout)
            return function

        return register

    def register(self, topic: str, handler: Handler, *, timeout: float | None = None) -> None:
        """Register ``handler`` for ``topic``; a second handler for one topic is an error."""
        if not topic or not isinstance(topic, str):
            raise UsageError(f"a topic must be a non-empty string, got {topic!r}")
        if not callable(handler):
            raise UsageError(f"the handler for {topic!r} is not callable: {handler!r}")
        if topic in self._by_topic:
            existing = _describe(self._by_topic[topic])
            raise UsageError(f"topic {topic!r} already has a handler ({existing})")
        if timeout is not None:
            if (
                isinstance(timeout, bool)
                or not isinstance(timeout, int | float)
                or not math.isfinite(timeout)
                or timeout <= 0
            ):
                raise UsageError(
                    f"the timeout of {topic!r} must be a positive number of seconds, "
                    f"got {timeout!r}"
                )
            self._timeouts[topic] = float(timeout)
        self._by_topic[topic] = handler

    def timeout(self, topic: str) -> float | None:
        """The timeout registered for ``topic`` (None: the configured default applies)."""
        return self._timeouts.get(topic)

    def timeouts(self) -> Mapping[str, float]:
        """topic -> timeout, for the topics registered with one."""
        return dict(self._timeouts)

    def get(self, topic: str) -> Handler | None:
        """The handler of ``topic``, if any."""
        return self._by_topic.get(topic)

    def mapping(self) -> Mapping[str, Handler]:
        """topic -> handler (read only; the worker looks handlers up once per row)."""
        return MappingProxyType(self._by_topic)

    def is_async(self, topic: str) -> bool:
        """Whether the handler of ``topic`` is a coroutine function."""
        handler = self._by_topic.get(topic)
        return handler is not None and inspect.iscoroutinefunction(handler)

    @property
    def topics(self) -> frozenset[str]:
        """The topics with a handler."""
        return frozenset(self._by_topic)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._by_topic))

    def __len__(self) -> int:
        return len(self._by_topic)

    def describe(self) -> Mapping[str, str]:
        """topic -> ``module.function`` for display."""
        return {topic: _describe(handler) for topic, handler in sorted(self._by_topic.items())}


def _describe(handler: Handler) -> str:
    module = getattr(handler, "__module__", "?")
    name = getattr(handler, "__qualname__", repr(handler))
    return f"{module}.{name}"
