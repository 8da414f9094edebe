"""The runbook's decision tree over every combination of facts it distinguishes."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from spectral_deploy.errors import InputError
from spectral_deploy.rollback.classify import Facts, Symptom, classify, facts_from_json

BASE = Facts(
    cutover_completed=True,
    blue_warm=True,
    symptom=Symptom.BEHAVIOR,
    prior_build_available=True,
    database_healthy=True,
    provider_outage=False,
    migration_compatible_with_prior=None,
    from_generation=7,
    to_generation=8,
    tag="v1.8.0",
    prior_commit="abc123",
)


def expected_class(facts: Facts) -> int:
    """The runbook, written out independently of classify()."""
    if not facts.database_healthy or facts.provider_outage:
        return 5
    if facts.symptom is Symptom.CATASTROPHIC:
        return 5
    if not facts.cutover_completed:
        return 1
    needs_prior = (
        (facts.symptom is Symptom.BEHAVIOR and not facts.blue_warm)
        or facts.symptom is Symptom.DATA
        or (facts.symptom is Symptom.MIGRATION and facts.migration_compatible_with_prior is True)
    )
    if needs_prior and not facts.prior_build_available:
        return 5
    if facts.symptom is Symptom.MIGRATION and facts.migration_compatible_with_prior is False:
        return 5  # the runbook: "the lint missed something; see Class 5"
    return {
        Symptom.BEHAVIOR: 2 if facts.blue_warm else 3,
        Symptom.DATA: 3,
        Symptom.MIGRATION: 4,
    }[facts.symptom]  # type: ignore[index]


COMBINATIONS = list(
    itertools.product(
        [True, False],  # cutover_completed
        [True, False],  # blue_warm
        list(Symptom),
        [True, False],  # prior_build_available
        [True, False],  # database_healthy
        [True, False],  # provider_outage
        [True, False, None],  # migration_compatible_with_prior
    )
)


@pytest.mark.parametrize(
    ("cutover", "warm", "symptom", "prior", "healthy", "outage", "compatible"), COMBINATIONS
)
def test_every_combination(
    cutover: bool,
    warm: bool,
    symptom: Symptom,
    prior: bool,
    healthy: bool,
    outage: bool,
    compatible: bool | None,
) -> None:
    """classify() gives the runbook's class for all 576 fact combinations."""
    facts = replace(
        BASE,
        cutover_completed=cutover,
        blue_warm=warm,
        symptom=symptom,
        prior_build_available=prior,
        database_healthy=healthy,
        provider_outage=outage,
        migration_compatible_with_prior=compatible,
    )
    result = classify(facts)
    assert result.failure_class == expected_class(facts)
    assert result.reasons, "every class says why"


@pytest.mark.parametrize(
    ("changes", "klass", "reason"),
    [
        ({"cutover_completed": False}, 1, "CNAME still points at blue"),
        ({}, 2, "blue is still warm"),
        ({"blue_warm": False}, 3, "no longer warm"),
        ({"symptom": Symptom.DATA}, 3, "wrong data"),
        ({"symptom": Symptom.MIGRATION}, 4, "decided by re-linting"),
        (
            {"symptom": Symptom.MIGRATION, "migration_compatible_with_prior": False},
            5,
            "escalates to Class 5",
        ),
        ({"symptom": Symptom.DATA, "prior_build_available": False}, 5, "prior build is gone"),
        ({"database_healthy": False}, 5, "database does not answer"),
        ({"provider_outage": True}, 5, "provider"),
        ({"symptom": Symptom.CATASTROPHIC}, 5, "catastrophic"),
    ],
)
def test_reasons_name_the_deciding_fact(
    changes: dict[str, object], klass: int, reason: str
) -> None:
    """The reasons say which fact decided the class."""
    result = classify(replace(BASE, **changes))  # type: ignore[arg-type]
    assert result.failure_class == klass
    assert any(reason in text for text in result.reasons), result.reasons


def test_class_1_counts_rows_instead_of_assuming_none() -> None:
    """The runbook's "no row was stamped at N+1" is checked: the reason gives the count."""
    for rows, said in [
        (None, "were not counted"),
        (0, "no outbox row waits at generation 8 (counted)"),
        (2, "2 outbox row(s) wait at generation 8"),
    ]:
        result = classify(replace(BASE, cutover_completed=False, rows_at_new_generation=rows))
        assert result.failure_class == 1
        assert any(said in reason for reason in result.reasons), result.reasons


def test_a_completed_cutover_needs_a_symptom() -> None:
    """Without a symptom the planner asks for one."""
    with pytest.raises(InputError, match="depends on the symptom"):
        classify(replace(BASE, symptom=None))


def test_facts_file_overrides_and_validates() -> None:
    """A facts document overrides observed facts; bad keys and types name the file."""
    facts = facts_from_json({"database_healthy": False, "symptom": "data"}, "f.json", base=BASE)
    assert (facts.database_healthy, facts.symptom, facts.tag) == (False, Symptom.DATA, "v1.8.0")
    whole = facts_from_json({"cutover_completed": True, "blue_warm": False}, "f.json")
    assert whole.symptom is None
    for bad, message in [
        ({"colour": "blue"}, "unknown fact 'colour'"),
        ({"blue_warm": "yes"}, "blue_warm must be true or false"),
        ({"to_generation": "8"}, "to_generation must be an integer"),
        ({"rows_at_new_generation": "3"}, "rows_at_new_generation must be an integer"),
        ({"symptom": "slow"}, "symptom must be one of"),
        ({"migration_compatible_with_prior": 1}, "true, false or null"),
        ({"blue_warm": True}, "the fact 'cutover_completed' is missing"),
    ]:
        with pytest.raises(InputError, match=message):
            facts_from_json(bad, "f.json")
    with pytest.raises(InputError, match=r"f\.json: expected a JSON object"):
        facts_from_json([1], "f.json")


def test_an_incompatible_prior_escalates_class_4_to_class_5() -> None:
    """Re-lint says the prior code cannot run on the new schema: Class 5, escalated from 4."""
    facts = replace(BASE, symptom=Symptom.MIGRATION, migration_compatible_with_prior=False)
    escalated = classify(facts)
    assert escalated.failure_class == 5
    assert escalated.escalated_from == 4
    assert classify(replace(facts, migration_compatible_with_prior=True)).escalated_from is None
    assert classify(replace(facts, migration_compatible_with_prior=None)).failure_class == 4
