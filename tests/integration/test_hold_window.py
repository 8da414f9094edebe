"""``deploy finish`` keeps the hold window: refused before its end unless --force, on the
fake world and the real PostgreSQL; ``--when-due`` keeps finishing once it is over."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from spectral_deploy.cutover import store
from spectral_deploy.cutover.due import Due, finish_when_due
from spectral_deploy.db import Database
from spectral_deploy.errors import PreconditionFailed
from spectral_deploy.providers.base import Color
from tests.integration.fakeworld import Operator


@pytest.fixture
def operator(database: Database, tmp_path: Path) -> Iterator[Operator]:
    """v1.0.0 on blue, v2.0.0 cut over to green: a 600 s hold window is open."""
    with Operator.deployed(tmp_path, database, "v1.0.0", "v2.0.0") as operator:
        yield operator


def test_finish_refuses_inside_the_hold_window_with_the_time_left(operator: Operator) -> None:
    """Exit 3 naming the end of the window, the seconds left, --when-due and --force."""
    with pytest.raises(PreconditionFailed) as refused:
        operator.finish(force=False)
    assert refused.value.exit_code == 3
    assert "hold window until" in refused.value.message
    assert "s left" in refused.value.message
    assert refused.value.hint is not None and "--force" in refused.value.hint
    assert Color.BLUE in operator.world.slots  # blue still warm
    with operator.database.connect() as conn:
        assert store.open_deploy(conn, operator.database.schema) is not None


def test_force_ends_the_window_early(operator: Operator) -> None:
    """--force: blue stops now and the deploy completes."""
    operator.finish(force=True)
    assert Color.BLUE not in operator.world.slots
    with operator.database.connect() as conn:
        assert store.open_deploy(conn, operator.database.schema) is None


def test_finish_after_the_window_and_when_due_still_work(operator: Operator) -> None:
    """Past hold_until: finish needs no --force; --when-due finishes too (not before)."""
    deployer = operator.deployer()
    early = finish_when_due(deployer, datetime.now(UTC))
    assert early.due is Due.HOLDING
    later = datetime.now(UTC) + timedelta(seconds=601)
    with operator.database.connect() as conn:
        deploy = store.open_deploy(conn, operator.database.schema)
    assert deploy is not None and deploy.hold_until is not None
    assert later > deploy.hold_until
    report = deployer.finish(now=later)
    assert report.deploy.finished


def test_preflight_warns_when_the_record_ttl_is_above_the_configured_one(
    database: Database, tmp_path: Path
) -> None:
    """The record's own TTL is read: 3600 s against [dns] ttl = 60 s is a warning, no stop."""
    operator = Operator.start(tmp_path, database)
    try:
        operator.deploy("v1.0.0")
        record = operator.world.record
        operator.world.record = replace(record, ttl=3600)
        deployed = operator.deploy("v2.0.0")
        assert deployed.flipped
        warnings = [line for line in operator.said if "TTL 3600 s" in line]
        assert len(warnings) == 1
        assert f"above [dns] ttl = {operator.config.dns.ttl} s" in warnings[0]
        operator.world.record = replace(operator.world.record, ttl=operator.config.dns.ttl)
        assert not any("TTL 60 s, above" in line for line in operator.said)
    finally:
        operator.world.close()
