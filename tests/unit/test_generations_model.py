"""Generation states: which transitions make sense."""

from __future__ import annotations

import pytest

from spectral_deploy.ledger.generations import GenerationState as S
from spectral_deploy.ledger.generations import can_transition


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (S.ALLOCATED, S.ACTIVE, True),
        (S.ALLOCATED, S.FAILED, True),
        (S.ALLOCATED, S.RETIRED, False),
        (S.ACTIVE, S.RETIRED, True),
        (S.ACTIVE, S.FAILED, True),
        (S.ACTIVE, S.ALLOCATED, False),
        (S.RETIRED, S.ACTIVE, True),  # Class 2: flip back to blue
        (S.FAILED, S.ACTIVE, False),  # a failed generation is never reused
        (S.FAILED, S.FAILED, True),  # same state is a no-op
    ],
)
def test_transitions(current: S, target: S, allowed: bool) -> None:
    """The allocator refuses transitions that would rewrite a generation's story."""
    assert can_transition(current, target) is allowed


def test_states_are_the_stored_text() -> None:
    """A state's value is the text in generations.state."""
    assert [str(s) for s in S] == ["allocated", "active", "retired", "failed"]
