"""Proof that traffic moved, on the fake world and the real PostgreSQL: after the flip the
public address must answer from the new generation (and after a flip back, the old one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spectral_deploy.cutover import store
from spectral_deploy.cutover.steps import StepFailed
from spectral_deploy.cutover.traffic import PROBE_MARGIN_SECONDS
from spectral_deploy.db import Database
from spectral_deploy.providers.base import Color
from spectral_deploy.rollback.classify import Symptom
from tests.integration.fakeworld import Operator


@pytest.fixture
def operator(database: Database, tmp_path: Path) -> Iterator[Operator]:
    """v1.0.0 live on blue (generation 1); v2.0.0 tagged."""
    with Operator.deployed(tmp_path, database, "v1.0.0") as operator:
        yield operator


def test_a_flip_that_moved_the_record_but_not_the_traffic_is_caught(operator: Operator) -> None:
    """The Render custom-domain mistake: the record reads back green, blue answers: refused."""
    operator.world.cached = Color.BLUE  # the hostname's traffic stays on blue's service
    with pytest.raises(StepFailed) as failed:
        operator.deploy("v2.0.0")
    message = failed.value.message
    assert "the flip moved the record, not the traffic" in message
    assert "still served by generation 1, not 2" in message
    assert f"{operator.config.dns.ttl + PROBE_MARGIN_SECONDS:g} s" in message
    assert operator.world.color_at(operator.world.record.target) is Color.GREEN
    with operator.database.connect() as conn:
        deploy = store.open_deploy(conn, operator.database.schema)
    assert deploy is not None and not deploy.flipped  # never recorded as cut over
    assert operator.world.serving(Color.BLUE)  # blue keeps the traffic it still gets
    operator.world.cached = None  # the forwarding is fixed
    resumed = operator.resume()
    assert resumed.flipped
    assert any("served by generation 2" in line for line in operator.said)


def test_without_the_header_the_record_read_back_decides_and_says_so(operator: Operator) -> None:
    """An app without the middleware: the cutover completes on the record, saying it could not
    prove where traffic lands."""
    operator.world.generation_header = False
    deployed = operator.deploy("v2.0.0")
    assert deployed.flipped
    assert any(
        "without the Spectral-Generation header" in line and "record read back alone" in line
        for line in operator.said
    )


def test_the_flip_back_is_proved_by_the_old_generation_answering(operator: Operator) -> None:
    """Class 2: after the flip back the public address answers from generation 1."""
    operator.deploy("v2.0.0")
    operator.said.clear()
    record = operator.rollback_run(Symptom.BEHAVIOR)
    assert record.outcome == "completed"
    assert any("served by generation 1" in line for line in operator.said)
