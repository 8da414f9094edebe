"""Pure parts of the local providers: the router's resolver cache."""

from __future__ import annotations

import json
from pathlib import Path

from spectral_deploy.providers.local.router import ResolverCache


def point(path: Path, target: str, ttl: int) -> None:
    path.write_text(json.dumps({"name": "shop.localhost", "target": target, "ttl": ttl}))


def test_resolvers_cache_the_record_for_its_ttl(tmp_path: Path) -> None:
    """A flip is seen once the cached answer expires, as a DNS resolver would."""
    record = tmp_path / "record.json"
    point(record, "blue", ttl=60)
    cache = ResolverCache(record, long_tail_seconds=0)
    assert cache.resolve("default", now=0.0) == "blue"
    point(record, "green", ttl=60)
    assert cache.resolve("default", now=59.0) == "blue"
    assert cache.resolve("default", now=60.5) == "green"
    assert cache.resolve("another", now=1.0) == "green", "each resolver has its own cache"


def test_long_tail_resolvers_hold_on_longer(tmp_path: Path) -> None:
    """Resolvers named long-tail* keep the old answer for long_tail_seconds."""
    record = tmp_path / "record.json"
    point(record, "blue", ttl=1)
    cache = ResolverCache(record, long_tail_seconds=300)
    assert cache.resolve("long-tail-1", now=0.0) == "blue"
    assert cache.resolve("default", now=0.0) == "blue"
    point(record, "green", ttl=1)
    assert cache.resolve("default", now=2.0) == "green"
    assert cache.resolve("long-tail-1", now=2.0) == "blue"
    assert cache.resolve("long-tail-1", now=301.0) == "green"


def test_no_record_means_no_target(tmp_path: Path) -> None:
    """Before the first flip the router has nowhere to send traffic."""
    assert ResolverCache(tmp_path / "missing.json", 0).resolve("default", now=0.0) is None
