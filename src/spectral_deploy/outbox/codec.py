"""The one codec of outbox payloads: what ``emit`` writes is exactly what a handler reads.

``emit`` checks a payload against what the worker will decode, before any SQL:

* JSON types only (dict with str keys, list, tuple, str, int, float, bool, None);
* integers within 64 bits (``-2**63`` to ``2**64 - 1``, what the decoder reads exactly);
* finite floats; an integral float of 1e16 or more is written with a ``.0`` so that jsonb,
  which prints numbers in plain digits, keeps it a float on the way back;
* no NUL character and no lone surrogate in any string (jsonb stores neither);
* at most ``MAX_DEPTH`` levels of nesting, at most ``max_bytes`` once encoded.

``decode`` reads a payload as jsonb prints it. A number of 20 digits or more can only come
from outside this codec (SQL, an older ``emit``): it is decoded exactly, and an integer
beyond 64 bits is an error rather than a silently rounded float. Any failure raises
``PayloadError``; the worker dead-letters that row alone.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "MAX_DEPTH",
    "MAX_INT",
    "MIN_INT",
    "PayloadError",
    "decode",
    "encode",
]

DEFAULT_MAX_PAYLOAD_BYTES = 1_048_576
MAX_DEPTH = 64
MIN_INT = -(2**63)
MAX_INT = 2**64 - 1
# integral floats that orjson prints in exponent form (1e16) and jsonb then prints as digits
_EXPONENT_FORM = 1e16
_LONG_NUMBER = re.compile(r"[0-9]{20}").search
_loads = orjson.loads


class PayloadError(ValueError):
    """A payload the codec cannot carry exactly; the message says where and why."""


def encode(payload: Any, *, max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> str:
    """The JSON text of ``payload``, or ``PayloadError`` naming the first offending value."""
    prepared = _prepare(payload, "payload", 0)
    try:
        data = orjson.dumps(prepared)
    except TypeError as exc:  # a check above missed something: still never reach the database
        raise PayloadError(f"payload cannot be encoded: {exc}") from exc
    if len(data) > max_bytes:
        raise PayloadError(
            f"payload is {len(data):,} bytes encoded, more than the {max_bytes:,} allowed "
            "(outbox.max_payload_bytes): store the data elsewhere and emit a reference"
        )
    return data.decode("utf-8")


def decode(text: str) -> Any:
    """The payload of a row, as jsonb prints it."""
    try:
        if len(text) < 20 or _LONG_NUMBER(text) is None:
            return _loads(text)
        return json.loads(text, parse_int=_exact_int)
    except PayloadError:
        raise
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"payload cannot be decoded: {exc}") from exc


def _exact_int(digits: str) -> int:
    # 2**64 has 20 digits: anything longer is out of range (and int() of thousands of digits
    # is refused by Python itself)
    value = int(digits) if len(digits.lstrip("-")) <= 20 else None
    if value is None or not MIN_INT <= value <= MAX_INT:
        shown = digits if len(digits) <= 30 else f"{digits[:12]}... ({len(digits)} digits)"
        raise PayloadError(
            f"payload cannot be decoded: the integer {shown} is beyond 64 bits "
            "(written by SQL or an older emit; emit refuses it)"
        )
    return value


def _prepare(value: Any, where: str, depth: int) -> Any:
    """Check ``value``; return it, or a copy where integral floats keep their ``.0``."""
    if value is None or isinstance(value, str | int | float):
        return _prepare_scalar(value, where)
    if depth >= MAX_DEPTH:
        raise PayloadError(f"payload is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        changed: dict[str, Any] | None = None
        for key, item in value.items():
            if type(key) is not str:
                raise PayloadError(
                    f"{where} has a key {key!r} of type {type(key).__name__}: JSON keys are strings"
                )
            _check_text(key, f"a key of {where}")
            prepared = _prepare(item, f"{where}[{key!r}]", depth + 1)
            if prepared is not item and changed is None:
                changed = dict(value)
            if changed is not None:
                changed[key] = prepared
        return value if changed is None else changed
    if isinstance(value, list | tuple):
        items = [_prepare(item, f"{where}[{index}]", depth + 1) for index, item in enumerate(value)]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items
    raise PayloadError(
        f"{where} is of type {type(value).__name__}, not JSON-serialisable "
        "(JSON: dict, list, tuple, str, int, float, bool or None)"
    )


def _prepare_scalar(value: Any, where: str) -> Any:
    if isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise PayloadError(
                f"{where} is {value!r}, not JSON-serialisable (JSON has no NaN or infinity)"
            )
        if abs(value) >= _EXPONENT_FORM and value == int(value):
            return orjson.Fragment(f"{int(value)}.0".encode())
    elif isinstance(value, int) and not isinstance(value, bool) and not MIN_INT <= value <= MAX_INT:
        raise PayloadError(
            f"{where} is an integer beyond 64 bits ({_short(value)}): send it as a string"
        )
    return value


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise PayloadError(f"{where} contains a NUL character (\\u0000), which jsonb cannot store")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise PayloadError(
                f"{where} contains a lone surrogate ({text[exc.start]!r} at {exc.start}): "
                "not valid UTF-8"
            ) from exc


def _short(value: int) -> str:
    if value.bit_length() <= 96:
        return str(value)
    return f"a {value.bit_length()}-bit integer"
