"""The payload codec: emit refuses what the worker could not decode exactly (pure, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from spectral_deploy import InvalidEvent, emit, emit_many
from spectral_deploy.outbox.codec import MAX_DEPTH, PayloadError, decode, encode
from spectral_deploy.outbox.emit import MAX_PAYLOAD_BYTES_ENV
from tests.unit.test_outbox_emit import CONN


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"n": 10**400}, "beyond 64 bits"),
        ({"n": 2**64}, "beyond 64 bits"),
        ({"n": -(2**63) - 1}, "beyond 64 bits"),
        ({"s": "a\x00b"}, "NUL"),
        ({"a\x00": 1}, "NUL"),
        ({"s": "\ud800"}, "lone surrogate"),
        ({"\udfff": 1}, "lone surrogate"),
        (nested(MAX_DEPTH + 1), f"more than {MAX_DEPTH} levels"),
        ({1: "int key"}, "keys are strings"),
        ({"f": float("inf")}, "not JSON-serialisable"),
        ({"when": object()}, "not JSON-serialisable"),
    ],
    ids=[
        "400-digits",
        "2**64",
        "below-int64",
        "nul",
        "nul-key",
        "surrogate",
        "surrogate-key",
        "too-deep",
        "int-key",
        "inf",
        "object",
    ],
)
def test_emit_refuses_with_the_event_and_the_reason(payload: Any, reason: str) -> None:
    """InvalidEvent names the event's topic and why, before any SQL (the connection is never
    touched)."""
    with pytest.raises(InvalidEvent, match=reason) as caught:
        emit(CONN, "order.created", payload, generation=1)
    assert "'order.created'" in str(caught.value)


def test_emit_many_names_the_event_at_fault() -> None:
    """In a batch, the message says which event (by index) is refused."""
    with pytest.raises(InvalidEvent, match=r"event #1 \('b'\).*beyond 64 bits"):
        emit_many(CONN, [("a", {}), ("b", {"n": 2**70})], generation=1)


def test_size_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """SPECTRAL_OUTBOX_MAX_PAYLOAD_BYTES ([outbox] max_payload_bytes) bounds the encoded size."""
    monkeypatch.setenv(MAX_PAYLOAD_BYTES_ENV, "100")
    with pytest.raises(InvalidEvent, match="more than the 100 allowed"):
        emit(CONN, "t", {"blob": "x" * 200}, generation=1)
    monkeypatch.setenv(MAX_PAYLOAD_BYTES_ENV, "lots")
    with pytest.raises(InvalidEvent, match=MAX_PAYLOAD_BYTES_ENV):
        emit(CONN, "t", {}, generation=1)


def test_the_default_size_limit_is_one_mebibyte() -> None:
    """1 MiB encoded passes; one byte more does not."""
    room = 1_048_576 - len('{"b":""}')
    assert len(encode({"b": "x" * room})) == 1_048_576
    with pytest.raises(PayloadError, match="1,048,577 bytes"):
        encode({"b": "x" * (room + 1)})


@pytest.mark.parametrize(
    "payload",
    [
        {"max": 2**64 - 1, "min": -(2**63)},
        {"f": 1e16, "g": -1e17, "h": 1e20, "i": 1.5e300, "j": 2.5, "k": 1e-7},
        {"deep": nested(MAX_DEPTH - 1)},
        {"text": "Grüße 世界 🎉", "tuple": (1, 2)},
        [None, True, False, 0, "", {}, []],
    ],
    ids=["int-bounds", "floats", "max-depth", "unicode", "scalars"],
)
def test_what_is_encoded_decodes_equal_and_of_the_same_types(payload: Any) -> None:
    """encode then decode (through the text jsonb prints, digits for integral floats): equal
    values, floats stay floats."""
    text = encode(payload)
    back = decode(text.replace("e+", "e"))
    expected = _tuples_to_lists(payload)
    assert back == expected
    assert _types(back) == _types(expected)


def test_decode_reads_long_numbers_exactly_or_refuses() -> None:
    """A 20-digit integer in range is exact; beyond 64 bits (written by SQL) is refused, never
    rounded to a float; a long float stays a float."""
    assert decode('{"n": 18446744073709551615}') == {"n": 2**64 - 1}
    with pytest.raises(PayloadError, match="beyond 64 bits"):
        decode('{"n": 18446744073709551617}')
    with pytest.raises(PayloadError, match="beyond 64 bits"):
        decode("1" + "0" * 5000)
    assert decode('{"f": 100000000000000000000.0}') == {"f": 1e20}


def test_decode_failures_are_payload_errors() -> None:
    """Malformed or too deep text raises PayloadError (the worker dead-letters that row)."""
    for text in ("{", "[" * 2000 + "]" * 2000, "1e400"):
        with pytest.raises(PayloadError, match="cannot be decoded"):
            decode(text)


def _tuples_to_lists(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_tuples_to_lists(item) for item in value]
    if isinstance(value, dict):
        return {key: _tuples_to_lists(item) for key, item in value.items()}
    return value


def _types(value: Any) -> Any:
    if isinstance(value, list):
        return [_types(item) for item in value]
    if isinstance(value, dict):
        return {key: _types(item) for key, item in value.items()}
    return type(value).__name__
