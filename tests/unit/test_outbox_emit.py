"""emit / emit_many: everything is checked before the database is touched."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from spectral_deploy import GenerationUnknown, InvalidEvent, emit, emit_many
from spectral_deploy.outbox.emit import resolve_generation, resolve_schema


class Untouchable:
    """A connection that fails the test if anything reaches it."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the database was touched")

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the database was touched")


CONN: Any = Untouchable()


def test_generation_from_the_environment() -> None:
    """SPECTRAL_GENERATION is the default generation."""
    assert resolve_generation(None, {"SPECTRAL_GENERATION": "7"}) == 7
    assert resolve_generation(3, {"SPECTRAL_GENERATION": "7"}) == 3


@pytest.mark.parametrize("value", ["", "zero", "0", "-2", "1.5"])
def test_missing_or_bad_generation_is_a_clear_error(value: str) -> None:
    """No usable generation: GenerationUnknown naming the variable."""
    with pytest.raises(GenerationUnknown, match="SPECTRAL_GENERATION"):
        resolve_generation(None, {"SPECTRAL_GENERATION": value} if value else {})


@pytest.mark.parametrize("value", [0, -1, True, "3"])
def test_explicit_generation_must_be_a_positive_int(value: Any) -> None:
    """generation=... is checked too."""
    with pytest.raises(GenerationUnknown):
        resolve_generation(value, {})


def test_emit_without_generation_never_touches_the_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """emit raises before any SQL when no generation is known."""
    monkeypatch.delenv("SPECTRAL_GENERATION", raising=False)
    with pytest.raises(GenerationUnknown):
        emit(CONN, "order.created", {"id": 1})


@pytest.mark.parametrize("payload", [object(), {"when": object()}, float("nan"), {1, 2}, b"bytes"])
def test_payload_must_be_json(payload: Any) -> None:
    """A payload JSON cannot represent is rejected before the database."""
    with pytest.raises(InvalidEvent, match="not JSON-serialisable"):
        emit(CONN, "order.created", payload, generation=1)


@pytest.mark.parametrize("topic", ["", "   ", None, 5, "x" * 201])
def test_topic_must_be_a_reasonable_string(topic: Any) -> None:
    """Empty, non-string or huge topics are rejected."""
    with pytest.raises(InvalidEvent, match="topic"):
        emit(CONN, topic, {}, generation=1)


def test_key_must_be_a_string() -> None:
    """Keys order rows per key; they are strings."""
    with pytest.raises(InvalidEvent, match="key"):
        emit(CONN, "t", {}, key=42, generation=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("delay", [-1, float("inf"), timedelta(seconds=-5), "soon"])
def test_delay_must_be_non_negative_seconds(delay: Any) -> None:
    """delay is seconds or a timedelta, never negative."""
    with pytest.raises(InvalidEvent, match="delay"):
        emit(CONN, "t", {}, generation=1, delay=delay)


def test_emit_many_checks_every_event_first() -> None:
    """One bad event in a batch rejects the batch before COPY starts."""
    events: list[Any] = [("a", {"ok": 1}), ("b", {"ok": 2}, "key"), ("c", object())]
    with pytest.raises(InvalidEvent, match="event #2"):
        emit_many(CONN, events, generation=1)
    with pytest.raises(InvalidEvent, match="event #0"):
        emit_many(CONN, [("a",)], generation=1)  # type: ignore[list-item]


def test_emit_many_of_nothing_is_nothing() -> None:
    """An empty batch writes nothing and returns 0."""
    assert emit_many(CONN, [], generation=1) == 0


def test_schema_default_and_override() -> None:
    """SPECTRAL_DATABASE_SCHEMA names the schema apps write to."""
    assert resolve_schema(None, {}) == "spectral"
    assert resolve_schema(None, {"SPECTRAL_DATABASE_SCHEMA": "ops"}) == "ops"
    assert resolve_schema("x", {"SPECTRAL_DATABASE_SCHEMA": "ops"}) == "x"
