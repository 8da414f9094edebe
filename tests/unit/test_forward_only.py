"""Forward-only deploys: where the database stands against a release's migrations (pure)."""

from __future__ import annotations

from pathlib import Path

from spectral_deploy.migrate.forward import (
    LedgerRecord,
    SchemaCheck,
    SchemaRecord,
    SchemaRelation,
    compare_alembic,
    compare_keys,
)
from spectral_deploy.migrate.tools.base import Migration


def revisions(*chain: tuple[str, tuple[str, ...]]) -> list[Migration]:
    """Alembic revisions (key, parents) in upgrade order."""
    return [Migration(key, Path(f"{key}.py"), f"{key}.py", parents) for key, parents in chain]


V2 = revisions(("0001", ()), ("0002", ("0001",)))
V3 = [*V2, *revisions(("0003", ("0002",)))]
APPLIED_BY_V3 = LedgerRecord(
    2, "v0.11.0", SchemaRecord("alembic", ("0001", "0002", "0003"), ("0003",))
)


def test_sql_files_at_behind_ahead_and_diverged() -> None:
    """Each key applied or not: all four relations, with what is pending and unknown."""
    assert compare_keys("sql", ["a", "b"], ["a", "b"]).relation is SchemaRelation.AT
    behind = compare_keys("sql", ["a", "b", "c"], ["a", "b"])
    assert (behind.relation, behind.pending) == (SchemaRelation.BEHIND, ("c",))
    ahead = compare_keys("sql", ["a", "b"], ["a", "b", "c"])
    assert (ahead.relation, ahead.unknown, ahead.pending) == (SchemaRelation.AHEAD, ("c",), ())
    diverged = compare_keys("sql", ["a", "b"], ["a", "c"])
    assert diverged.relation is SchemaRelation.DIVERGED
    assert (diverged.pending, diverged.unknown) == (("b",), ("c",))


def test_ahead_names_who_applied_what_the_code_lacks() -> None:
    """The ledger's record that had the unknown keys applied is named in the description."""
    record = LedgerRecord(5, "v2.0.0", SchemaRecord("sql", ("a", "b", "c")))
    check = compare_keys("sql", ["a", "b"], ["a", "b", "c"], [record])
    assert check.confirmed_by == "generation 5 (v2.0.0)"
    text = check.describe()
    assert text.startswith("schema ahead of code, kept: the database is at a, b, c")
    assert "does not know c (applied by generation 5 (v2.0.0))" in text
    assert "nothing runs, the schema stays" in text


def test_alembic_head_the_code_knows_is_at_or_behind() -> None:
    """A head among the code's revisions: its ancestors are applied, the rest is pending."""
    assert compare_alembic(V3, ["0003"]).relation is SchemaRelation.AT
    behind = compare_alembic(V3, ["0002"])
    assert (behind.relation, behind.pending) == (SchemaRelation.BEHIND, ("0003",))
    assert compare_alembic(V3, []).pending == ("0001", "0002", "0003")


def test_alembic_head_the_code_lacks_is_ahead_when_the_ledger_confirms_it() -> None:
    """The prior code (0001, 0002) on a database at 0003, which generation 2 applied: kept."""
    check = compare_alembic(V2, ["0003"], [APPLIED_BY_V3])
    assert check.relation is SchemaRelation.AHEAD
    assert (check.unknown, check.pending, check.confirmed_by) == (
        ("0003",),
        (),
        "generation 2 (v0.11.0)",
    )


def test_alembic_head_nobody_recorded_is_unconfirmed() -> None:
    """A head neither the code nor the ledger knows cannot be called ahead."""
    check = compare_alembic(V2, ["0003"], [])
    assert check.relation is SchemaRelation.UNCONFIRMED
    assert "cannot be confirmed" in check.describe()
    other = LedgerRecord(1, "v0.10.0", SchemaRecord("alembic", ("0001", "0002"), ("0002",)))
    assert compare_alembic(V2, ["0003"], [other]).relation is SchemaRelation.UNCONFIRMED


def test_alembic_code_with_a_revision_the_database_never_had_has_diverged() -> None:
    """A hotfix branch's own revision (0002b) on a database at the mainline's 0003."""
    branch = [*V2, *revisions(("0002b", ("0002",)))]
    check = compare_alembic(branch, ["0003"], [APPLIED_BY_V3])
    assert check.relation is SchemaRelation.DIVERGED
    assert (check.pending, check.unknown) == (("0002b",), ("0003",))
    assert "neither older nor newer" in check.describe()


def test_the_check_as_the_ledger_records_it() -> None:
    """JSON with the relation, the keys on both sides (the last few) and the origin."""
    check = SchemaCheck("sql", SchemaRelation.AHEAD, ("a",), ("a", "b"), (), ("b",), "gen 2")
    assert check.as_json() == {
        "relation": "ahead",
        "tool": "sql",
        "code": ["a"],
        "database": ["a", "b"],
        "pending": [],
        "unknown": ["b"],
        "confirmed_by": "gen 2",
    }
    assert SchemaRecord.from_json({"tool": "x"}) is None
    assert SchemaRecord.from_json(SchemaRecord("sql", ("a",)).as_json()) == SchemaRecord(
        "sql", ("a",)
    )


def test_alembic_head_from_a_step_that_died_midway_is_traced_by_its_graph() -> None:
    """A deploy that recorded the schema it was about to leave (0003, 0004) died after 0003:
    the prior code (0001, 0002) on a database at 0003 is ahead, and the origin says the step
    did not finish; a branch revision of the code that 0003 does not stand on has diverged."""
    graph = (("0001", ()), ("0002", ("0001",)), ("0003", ("0002",)), ("0004", ("0003",)))
    intent = LedgerRecord(
        3,
        "v0.12.0",
        SchemaRecord("alembic", ("0001", "0002", "0003", "0004"), ("0004",), graph),
        finished=False,
    )
    check = compare_alembic(V2, ["0003"], [intent])
    assert check.relation is SchemaRelation.AHEAD
    assert check.confirmed_by == "generation 3 (v0.12.0), whose migrations step did not finish"
    branch = [*V2, *revisions(("0002b", ("0002",)))]
    assert compare_alembic(branch, ["0003"], [intent]).relation is SchemaRelation.DIVERGED
    assert SchemaRecord.from_json(intent.record.as_json()) == intent.record


def test_ahead_without_a_ledger_record_names_the_tools_own_record() -> None:
    """A file only the tool's own record lists (applied outside any recorded deploy) is still
    ahead for per-file records, and the message says where it was read."""
    check = compare_keys("sql", ["a"], ["a", "b"])
    assert check.relation is SchemaRelation.AHEAD
    assert check.confirmed_by == "app_migrations"
    assert "(recorded in app_migrations; no deploy in the ledger recorded it)" in check.describe()


def test_applied_files_the_release_no_longer_carries_do_not_stop_it() -> None:
    """Files applied earlier and removed from the tree (squashed) come before the pending
    ones: the release moves forward, and says what the database also has; a pending file
    that would run before a newer applied one has diverged (per app for Django)."""
    forward_ = compare_keys("sql", ["0003_c.sql"], ["0001_a.sql", "0002_b.sql"])
    assert (forward_.relation, forward_.pending) == (SchemaRelation.BEHIND, ("0003_c.sql",))
    assert "also has 0001_a.sql, 0002_b.sql, applied earlier" in forward_.describe()
    late = compare_keys("sql", ["0001_a.sql", "0002_hotfix.sql"], ["0001_a.sql", "0003_c.sql"])
    assert late.relation is SchemaRelation.DIVERGED
    apps = compare_keys("django", ["shop.0002_x"], ["shop.0001_a", "blog.0009_z"])
    assert apps.relation is SchemaRelation.BEHIND
    mixed = compare_keys("django", ["shop.0001_a", "shop.0002_x"], ["shop.0001_a", "shop.0003_y"])
    assert mixed.relation is SchemaRelation.DIVERGED
