"""Handlers registry and the MODULE:ATTR loader."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from spectral_deploy import Event, Handlers
from spectral_deploy.errors import InputError, UsageError
from spectral_deploy.outbox.loader import load_handlers


def test_decorator_registers_and_returns_the_function() -> None:
    """@handlers.on keeps the function usable and registers it under the topic."""
    handlers = Handlers()

    @handlers.on("order.created")
    def created(event: Event) -> None:
        return None

    assert handlers.get("order.created") is created
    assert handlers.topics == frozenset({"order.created"})
    assert not handlers.is_async("order.created")


def test_async_handlers_are_recognised() -> None:
    """async def handlers are allowed and flagged."""
    handlers = Handlers()

    @handlers.on("t")
    async def handle(event: Event) -> None:
        return None

    assert handlers.is_async("t")


def test_one_handler_per_topic() -> None:
    """A second handler for a topic is an error naming the first."""
    handlers = Handlers()
    handlers.register("t", lambda event: None)
    with pytest.raises(UsageError, match="already has a handler"):
        handlers.register("t", lambda event: None)


def test_loader_finds_handlers_in_the_working_directory(tmp_path: Path) -> None:
    """MODULE:ATTR resolves from the given directory; a factory function works too."""
    (tmp_path / "shopapp_handlers.py").write_text(
        "from spectral_deploy import Handlers\n"
        "handlers = Handlers()\n"
        "handlers.register('a', lambda e: None)\n"
        "def make():\n    return handlers\n"
        "not_handlers = 3\n"
    )
    try:
        assert load_handlers("shopapp_handlers:handlers", search_path=tmp_path).topics == {"a"}
        assert load_handlers("shopapp_handlers:make", search_path=tmp_path).topics == {"a"}
        with pytest.raises(InputError, match=r"not spectral_deploy\.Handlers"):
            load_handlers("shopapp_handlers:not_handlers", search_path=tmp_path)
        with pytest.raises(InputError, match="no attribute 'nope'"):
            load_handlers("shopapp_handlers:nope", search_path=tmp_path)
    finally:
        sys.modules.pop("shopapp_handlers", None)


@pytest.mark.parametrize("spec", ["noattr", ":h", "mod:", ""])
def test_loader_refuses_malformed_specs(spec: str) -> None:
    """--app must be MODULE:ATTR."""
    with pytest.raises(InputError, match=r"package\.module:handlers"):
        load_handlers(spec)


def test_loader_names_a_missing_module(tmp_path: Path) -> None:
    """A module that does not exist is named, with where we looked."""
    with pytest.raises(InputError, match="cannot import 'no_such_module_xyz'"):
        load_handlers("no_such_module_xyz:handlers", search_path=tmp_path)


def test_a_topic_may_carry_its_own_timeout() -> None:
    """on(topic, timeout=...) overrides the configured default for that topic only."""
    handlers = Handlers()

    @handlers.on("slow", timeout=90)
    def slow(event: Any) -> None:
        return None

    handlers.register("fast", lambda event: None)
    assert handlers.timeout("slow") == 90.0
    assert handlers.timeout("fast") is None
    assert handlers.timeouts() == {"slow": 90.0}


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), True, "10"])
def test_a_timeout_must_be_positive_seconds(timeout: Any) -> None:
    """Zero, negative, non-finite or non-numeric timeouts are refused, naming the topic."""
    with pytest.raises(UsageError, match="timeout of 't'"):
        Handlers().register("t", lambda event: None, timeout=timeout)
