"""The hold window's conditions: the catalog's text (in the ledger and ``status --json``) and
which of them is a breach."""

from __future__ import annotations

import json

import pytest

from spectral_deploy.cutover.model import (
    Condition,
    ConditionReason,
    ConditionStatus,
    ConditionType,
)
from spectral_deploy.cutover.orchestrator import _breach

T, R = ConditionType, ConditionReason
TRUE, FALSE, UNKNOWN = ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.UNKNOWN


def test_the_catalog_keeps_its_stored_text() -> None:
    """The types and reasons are the strings earlier releases wrote to the ledger and JSON."""
    assert {str(t) for t in ConditionType} == {
        "BlueHealthy",
        "GreenHealthy",
        "CnameTarget",
        "FlipRecorded",
        "PublicProbe",
        "GreenWorkersRunning",
    }
    assert {str(r) for r in ConditionReason} == {
        "HealthCheckPassed",
        "HealthCheckFailed",
        "CannotRead",
        "PointsAtBlue",
        "PointsAtGreen",
        "PointsAtElsewhere",
        "TrafficAtGreenNotRecorded",
        "Answered",
        "NoAnswer",
        "AllRunning",
        "NotAllRunning",
    }


def test_a_condition_serialises_to_its_catalog_text() -> None:
    """Type, status and reason are plain strings in JSON, and read back as the enums."""
    condition = Condition(T.CNAME_TARGET, TRUE, R.POINTS_AT_GREEN, "app -> green")
    data = condition.as_json()
    assert json.dumps(data) == json.dumps(
        {
            "type": "CnameTarget",
            "status": "True",
            "reason": "PointsAtGreen",
            "message": "app -> green",
        }
    )
    assert all(type(value) is str for value in data.values())
    again = Condition(T(data["type"]), TRUE, R(data["reason"]), data["message"])
    assert again == condition


@pytest.mark.parametrize(
    ("conditions", "breach"),
    [
        (
            [(T.GREEN_HEALTHY, FALSE, R.HEALTH_CHECK_FAILED, "HTTP 500")],
            "green is unhealthy (HTTP 500)",
        ),
        (
            [(T.CNAME_TARGET, UNKNOWN, R.CANNOT_READ, "timeout")],
            "the CNAME cannot be read (timeout)",
        ),
        (
            [(T.CNAME_TARGET, TRUE, R.POINTS_AT_BLUE, "app -> blue")],
            "the CNAME no longer points at green (app -> blue)",
        ),
        (
            [(T.CNAME_TARGET, TRUE, R.POINTS_AT_ELSEWHERE, "app -> x")],
            "the CNAME no longer points at green (app -> x)",
        ),
        ([(T.CNAME_TARGET, TRUE, R.POINTS_AT_GREEN, "app -> green")], None),
        ([(T.GREEN_HEALTHY, TRUE, R.HEALTH_CHECK_PASSED, "HTTP 200")], None),
        ([(T.BLUE_HEALTHY, FALSE, R.HEALTH_CHECK_FAILED, "HTTP 500")], None),
        ([(T.PUBLIC_PROBE, FALSE, R.NO_ANSWER, "refused")], None),
        ([(T.GREEN_WORKERS_RUNNING, FALSE, R.NOT_ALL_RUNNING, "0 of 1")], None),
        (
            [
                (T.GREEN_HEALTHY, TRUE, R.HEALTH_CHECK_PASSED, "HTTP 200"),
                (T.CNAME_TARGET, TRUE, R.POINTS_AT_BLUE, "app -> blue"),
            ],
            "the CNAME no longer points at green (app -> blue)",
        ),
    ],
)
def test_a_breach_is_green_unhealthy_or_the_cname_off_green(
    conditions: list[tuple[ConditionType, ConditionStatus, ConditionReason, str]],
    breach: str | None,
) -> None:
    """Only green failing its health check or the CNAME unreadable or not at green end the hold."""
    assert _breach([Condition(*c) for c in conditions]) == breach
