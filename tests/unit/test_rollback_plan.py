"""Each class's steps and their exact commands (pure)."""

from __future__ import annotations

import json
from dataclasses import replace

from spectral_deploy.rollback.classify import Facts, Symptom, classify
from spectral_deploy.rollback.plan import (
    PlanContext,
    StepId,
    escalates,
    make_plan,
    rollback_tag,
)

FACTS = Facts(
    cutover_completed=True,
    blue_warm=True,
    symptom=Symptom.BEHAVIOR,
    from_generation=7,
    to_generation=8,
    tag="v1.8.0",
    prior_commit="abc1234567890",
)
CONTEXT = PlanContext(blue_target="shop-blue.onrender.com", green_slot="green")


def commands(facts: Facts, context: PlanContext = CONTEXT) -> list[str]:
    return [step.command for step in make_plan(classify(facts), facts, context).steps]


def test_class_1_aborts_and_needs_no_drain() -> None:
    """Class 1: abort; no drain, no chat (no production traffic was touched)."""
    steps = commands(replace(FACTS, cutover_completed=False))
    assert steps[0] == "spectral-deploy deploy abort --yes"
    assert not any("drain" in step or "notify" in step for step in steps)


def test_class_2_flips_back_then_stops_n_plus_1s_workers_and_adopts_at_once() -> None:
    """Class 2: flip back to blue's target, tell N+1's workers to stop claiming, adopt N+1's
    rows now (not after green's workers ran the faulty code on them), retire green, notify."""
    assert commands(FACTS) == [
        "spectral-deploy dns point shop-blue.onrender.com --yes",
        "spectral-deploy outbox stop-workers --generation 8",
        "spectral-deploy drain --target-generation 8 --mode adopt --yes",
        "spectral-deploy hosting stop green --yes",
        "spectral-deploy rollback notify",
    ]


def test_class_3_tags_the_prior_commit_and_deploys_it() -> None:
    """Class 3: tag vX.Y.Z-rollback at the prior commit, deploy it (N+2), drain N+1."""
    plan = make_plan(classify(replace(FACTS, symptom=Symptom.DATA)), FACTS, CONTEXT)
    ids = [step.id for step in plan.steps]
    assert ids == [
        "close-deploy",
        "tag-prior",
        "deploy-prior",
        "retire-bad",
        "drain",
        "notify",
    ]
    tag_step = plan.steps[1]
    assert tag_step.params == {"tag": "v1.8.0-rollback", "commit": "abc1234567890"}
    assert "git tag -a v1.8.0-rollback abc1234567890" in tag_step.command
    assert "does not trigger workflows" in tag_step.title
    assert plan.steps[2].command == "spectral-deploy deploy v1.8.0-rollback"


def test_rollback_tags_never_collide() -> None:
    """A second rollback of one release gets -rollback.2."""
    assert rollback_tag("v1.8.0", frozenset()) == "v1.8.0-rollback"
    taken = frozenset({"v1.8.0-rollback", "v1.8.0-rollback.2"})
    assert rollback_tag("v1.8.0", taken) == "v1.8.0-rollback.3"


def test_class_4_relints_then_follows_the_compatibility() -> None:
    """Compatible: re-lint then the Class 3 steps; incompatible: fix forward and escalate."""
    migration = replace(FACTS, symptom=Symptom.MIGRATION)
    compatible = commands(replace(migration, migration_compatible_with_prior=True))
    assert compatible[0] == "spectral-deploy lint --base abc1234567890"
    assert "spectral-deploy deploy v1.8.0-rollback" in compatible
    broken = make_plan(
        classify(replace(migration, migration_compatible_with_prior=False)),
        replace(migration, migration_compatible_with_prior=False),
        CONTEXT,
    )
    assert [s.id for s in broken.steps][:2] == ["relint", "fix-forward"]
    assert broken.steps[1].command == "spectral-deploy migrate fix-forward --generation 8"
    assert any("backup restore" in s.command for s in broken.steps)
    assert broken.failure_class == 5 and escalates(broken.steps)
    assert broken.as_json()["escalated_from"] == 4
    assert "the lint missed" in " ".join(s.title for s in broken.steps)
    fine = make_plan(
        classify(replace(migration, migration_compatible_with_prior=True)),
        replace(migration, migration_compatible_with_prior=True),
        CONTEXT,
    )
    assert fine.failure_class == 4 and "fix-forward" not in [s.id for s in fine.steps]
    assert fine.as_json()["escalated_from"] is None


def test_class_5_is_a_dr_checklist_with_the_backup_commands() -> None:
    """Class 5: the person declares DR; the backup commands are listed; chat is sent."""
    facts = replace(FACTS, database_healthy=False)
    plan = make_plan(classify(facts), facts, CONTEXT)
    assert plan.failure_class == 5
    manual = [s.command for s in plan.steps if not s.automatic]
    assert "spectral-deploy backup list" in manual
    assert any(c.startswith("spectral-deploy backup verify --latest") for c in manual)
    assert any(c.startswith("spectral-deploy backup restore --latest") for c in manual)
    assert any("point-in-time recovery" in s.title for s in plan.steps)
    assert [s.id for s in plan.steps if s.automatic] == ["notify"]


def test_json_shape() -> None:
    """{"class", "reasons", "steps": [{"title", "command"}]} as the issue names it."""
    document = make_plan(classify(FACTS), FACTS, CONTEXT).as_json()
    assert document["class"] == 2
    assert isinstance(document["reasons"], list) and document["reasons"]
    assert {"title", "command"} <= set(document["steps"][0])


def test_class_1_with_rows_at_n_plus_1_adopts_them_and_says_how_many() -> None:
    """Smoke tests wrote 3 rows at generation 8: the plan adopts them into 7 and says so."""
    facts = replace(FACTS, cutover_completed=False, rows_at_new_generation=3)
    plan = make_plan(classify(facts), facts, CONTEXT)
    assert [s.command for s in plan.steps][:2] == [
        "spectral-deploy deploy abort --yes",
        "spectral-deploy drain --target-generation 8 --mode adopt --yes",
    ]
    assert plan.steps[1].title.startswith("Adopt the 3 row(s) generation 8 wrote")
    assert any("3 outbox row(s) wait at generation 8" in r for r in plan.reasons)


def test_only_plans_that_hand_over_to_people_escalate() -> None:
    """Class 1's follow-up investigation is not an escalation; Class 5's DR checklist is."""
    class_1 = make_plan(classify(replace(FACTS, cutover_completed=False)), FACTS, CONTEXT)
    class_5 = make_plan(classify(replace(FACTS, database_healthy=False)), FACTS, CONTEXT)
    class_2 = make_plan(classify(FACTS), FACTS, CONTEXT)
    assert (escalates(class_1.steps), escalates(class_2.steps), escalates(class_5.steps)) == (
        False,
        False,
        True,
    )


def test_step_ids_keep_their_stored_text_in_the_json() -> None:
    """Step ids are ``StepId`` members whose values are the stored strings; JSON holds text."""
    plan = make_plan(classify(replace(FACTS, symptom=Symptom.DATA)), FACTS, CONTEXT)
    assert plan.steps[1].id is StepId.TAG_PRIOR
    shown = plan.as_json()["steps"][1]["id"]
    assert shown == "tag-prior" and type(shown) is str
    assert json.loads(json.dumps(plan.as_json()))["steps"][0]["id"] == "close-deploy"
    assert {step.value for step in StepId} >= {"flip-back", "stop-workers", "investigate"}
