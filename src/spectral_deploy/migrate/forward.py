"""Forward-only deploys: is the database at, behind or ahead of what a release's code expects?

A rollback deploy (the runbook's Class 3, or any older tag) runs code older than the schema.
Its migration command would either fail (``alembic upgrade head`` cannot locate the newer
revision the database is at) or, worse, try to change the schema back. The runbook says the
schema stays: the prior code runs on the newer schema by design. So before step 4 runs a
release's migrations, the schema is compared with the release's migrations, from two
records that are read, never assumed:

* the migration tool's own record: Spectral's ``app_migrations`` (plain SQL), Alembic's
  ``alembic_version``, Django's ``django_migrations``;
* the ledger: every deploy's migrations step records the schema it left (the keys applied,
  Alembic's heads), so a revision the release's code does not know can be traced to the
  deploy that applied it, and what that deploy had applied before it.

The outcome (``SchemaRelation``): ``at`` or ``behind`` (the release's migrations run as
usual), ``ahead`` (every migration the code expects is applied, and more: nothing runs, the
deploy records "schema ahead of code, kept"), ``diverged`` (each side has migrations the
other lacks) or ``unconfirmed`` (the database is at something neither the code nor the
ledger knows): those two stop the deploy, naming what differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from spectral_deploy.db import Database
from spectral_deploy.db.access import statements, translated
from spectral_deploy.errors import SpectralError
from spectral_deploy.ledger.store import EntryKind, Outcome, append, entries, record_intent
from spectral_deploy.migrate.runner import discover
from spectral_deploy.migrate.tools.base import Migration, MigrationTool, ToolKind

__all__ = [
    "APPLYING_ACTION",
    "KEPT",
    "KEPT_ACTION",
    "LedgerRecord",
    "SchemaCheck",
    "SchemaRecord",
    "SchemaRelation",
    "check_schema",
    "compare_alembic",
    "compare_keys",
    "read_ledger",
    "read_record",
    "record_after",
    "record_applying",
    "record_kept",
    "record_of_command",
    "record_to_leave",
    "release_records",
]

KEPT = "schema ahead of code, kept"
# the ledger's migration entries: the schema a step is about to leave, and the schema kept
APPLYING_ACTION = "applying"
KEPT_ACTION = "schema-kept"
# where each tool keeps its own record of what is applied
RECORD_TABLES = {
    "sql": "app_migrations",
    "alembic": "alembic_version",
    "django": "django_migrations",
    "command": "the ledger",
}
# how many earlier migrations steps the ledger is searched for the schema's origin
RECORDS_SCANNED = 100
SHOWN_KEYS = 5
# how many earlier releases' own migrations are read when the ledger has no record of a revision
RELEASES_SCANNED = 5


class SchemaRelation(StrEnum):
    """Where the database stands against a release's migrations."""

    AT = "at"
    BEHIND = "behind"
    AHEAD = "ahead"
    DIVERGED = "diverged"
    UNCONFIRMED = "unconfirmed"


@dataclass(frozen=True)
class SchemaRecord:
    """The schema a migrations step left (or was about to leave): every key applied, and
    (Alembic) the heads and each revision's parents, so a later check knows what a head
    its own code lacks stands on."""

    tool: str
    applied: tuple[str, ...]
    heads: tuple[str, ...] = ()
    parents: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def as_json(self) -> dict[str, Any]:
        """What the ledger stores under ``schema``."""
        data: dict[str, Any] = {
            "tool": self.tool,
            "applied": list(self.applied),
            "heads": list(self.heads),
        }
        if self.parents:
            data["parents"] = {key: list(up) for key, up in self.parents}
        return data

    @classmethod
    def from_json(cls, data: Any) -> SchemaRecord | None:
        """A stored record, or None when it is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("applied"), list):
            return None
        graph = data.get("parents")
        return cls(
            tool=str(data.get("tool") or ""),
            applied=tuple(str(k) for k in data["applied"]),
            heads=tuple(str(k) for k in data.get("heads") or ()),
            parents=tuple(
                (str(key), tuple(str(p) for p in up))
                for key, up in (graph.items() if isinstance(graph, dict) else ())
                if isinstance(up, list)
            ),
        )

    def applied_up_to(self, heads: Sequence[str]) -> set[str]:
        """What a database at ``heads`` has applied, by this record's graph (or, without
        one, everything the record lists)."""
        if not self.parents:
            return set(self.applied)
        return _ancestors(heads, dict(self.parents))


@dataclass(frozen=True)
class LedgerRecord:
    """A schema record with the deploy that wrote it."""

    generation: int | None
    tag: str | None
    record: SchemaRecord
    finished: bool = True

    def describe(self) -> str:
        """``generation 2 (v0.11.0)``; a step that never recorded its end says so."""
        text = f"generation {self.generation} ({self.tag or 'untagged'})"
        return text if self.finished else f"{text}, whose migrations step did not finish"


@dataclass(frozen=True)
class SchemaCheck:
    """A release's migrations against the database, and why."""

    tool: str
    relation: SchemaRelation
    code: tuple[str, ...]
    database: tuple[str, ...]
    pending: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    confirmed_by: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        """One paragraph for the operator and the ledger."""
        at = _keys(self.database) or "nothing"
        if self.relation is SchemaRelation.AHEAD:
            return (
                f"{KEPT}: the database is at {at}; this release's code "
                f"expects {_keys(self.code) or 'no migration'}, all applied, and does not know "
                f"{_keys(self.unknown)}"
                + self._origin()
                + ". Migrations are forward-only: nothing runs, the schema stays"
            )
        if self.relation is SchemaRelation.DIVERGED:
            return (
                f"the database and this release's code have diverged: the code has "
                f"{_keys(self.pending)}, which the database never had, and the database has "
                f"{_keys(self.unknown)}, which the code does not know"
                + self._origin()
                + ": neither older nor newer"
            )
        if self.relation is SchemaRelation.UNCONFIRMED:
            return (
                f"the database is at {_keys(self.unknown)}, which this release's code does not "
                "know and no deploy in the ledger recorded applying: whether it is ahead of "
                "the code cannot be confirmed"
            )
        if self.relation is SchemaRelation.BEHIND:
            earlier = (
                f" (the database also has {_keys(self.unknown)}, applied earlier and no longer "
                "in this release)"
                if self.unknown
                else ""
            )
            return f"{len(self.pending)} migration(s) to apply: {_keys(self.pending)}{earlier}"
        return f"the database is at what this release's code expects ({at})"

    def _origin(self) -> str:
        if not self.confirmed_by:
            return ""
        if self.confirmed_by.startswith("generation"):
            return f" (applied by {self.confirmed_by})"
        return f" (recorded in {self.confirmed_by}; no deploy in the ledger recorded it)"

    def as_json(self) -> dict[str, Any]:
        """What the ledger records of the check."""
        return {
            "relation": str(self.relation),
            "tool": self.tool,
            "code": _shown(self.code),
            "database": _shown(self.database),
            "pending": list(self.pending),
            "unknown": list(self.unknown),
            "confirmed_by": self.confirmed_by,
        }


def _shown(keys: Sequence[str]) -> list[str]:
    return list(keys[-SHOWN_KEYS:])


def _keys(keys: Sequence[str]) -> str:
    if not keys:
        return ""
    if len(keys) <= SHOWN_KEYS:
        return ", ".join(keys)
    return f"{', '.join(keys[:2])}, ... {', '.join(keys[-2:])} ({len(keys)})"


# -- pure comparisons ----------------------------------------------------------------------


def compare_keys(
    tool: str,
    code: Sequence[str],
    applied: Sequence[str],
    ledger: Sequence[LedgerRecord] = (),
) -> SchemaCheck:
    """Per-migration records (plain SQL, Django): each key is applied or not.

    Applied keys the code lacks and pending ones together are a divergence only when a pending
    key comes before an applied one in the tool's order (file names; per app for Django): that
    migration would run out of order, after what a newer release applied. Applied keys that
    all come first are earlier history the release no longer carries (files squashed or
    removed): the release moves forward."""
    done = set(applied)
    known = set(code)
    pending = tuple(k for k in code if k not in done)
    unknown = tuple(k for k in applied if k not in known)
    origin = _origin(unknown, ledger)
    if unknown and pending:
        relation = (
            SchemaRelation.DIVERGED
            if _out_of_order(tool, unknown, pending)
            else SchemaRelation.BEHIND
        )
    elif unknown:
        relation = SchemaRelation.AHEAD
    elif pending:
        relation = SchemaRelation.BEHIND
    else:
        relation = SchemaRelation.AT
    return SchemaCheck(
        tool,
        relation,
        tuple(code),
        tuple(applied),
        pending,
        unknown,
        origin.describe() if origin else (RECORD_TABLES.get(tool, tool) if unknown else None),
    )


def _out_of_order(tool: str, unknown: Sequence[str], pending: Sequence[str]) -> bool:
    """Whether a pending key sorts before an applied key the code lacks (same Django app)."""

    def group(key: str) -> str:
        return key.split(".", 1)[0] if tool == "django" else ""

    return any(group(u) == group(p) and p < u for u in unknown for p in pending)


def compare_alembic(
    code: Sequence[Migration], heads: Sequence[str], ledger: Sequence[LedgerRecord] = ()
) -> SchemaCheck:
    """Alembic records only the heads: a head the code knows means its ancestors are applied;
    a head it does not know is traced in the ledger to the deploy that applied it, whose
    record says what was applied up to it."""
    keys = tuple(m.key for m in code)
    parents = {m.key: m.parents for m in code}
    unknown = tuple(h for h in heads if h not in parents)
    if not unknown:
        applied = _ancestors(heads, parents)
        pending = tuple(k for k in keys if k not in applied)
        relation = SchemaRelation.BEHIND if pending else SchemaRelation.AT
        return SchemaCheck("alembic", relation, keys, tuple(heads), pending)
    origin = _origin(unknown, ledger, heads=True)
    if origin is None:
        return SchemaCheck(
            "alembic", SchemaRelation.UNCONFIRMED, keys, tuple(heads), unknown=unknown
        )
    applied = origin.record.applied_up_to(unknown)
    # the heads the code knows still count: their ancestors are applied too
    applied |= _ancestors([h for h in heads if h in parents], parents)
    pending = tuple(k for k in keys if k not in applied)
    relation = SchemaRelation.DIVERGED if pending else SchemaRelation.AHEAD
    return SchemaCheck("alembic", relation, keys, tuple(heads), pending, unknown, origin.describe())


def _ancestors(heads: Iterable[str], parents: Mapping[str, Sequence[str]]) -> set[str]:
    seen: set[str] = set()
    stack = [h for h in heads if h in parents]
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        seen.add(key)
        stack.extend(p for p in parents.get(key, ()) if p in parents)
    return seen


def _origin(
    unknown: Sequence[str], ledger: Sequence[LedgerRecord], *, heads: bool = False
) -> LedgerRecord | None:
    """The newest ledger record that had every unknown key applied (as a head: Alembic)."""
    if not unknown:
        return None
    for entry in ledger:
        have = set(entry.record.heads if heads else entry.record.applied)
        if heads:
            have |= set(entry.record.applied)
        if all(key in have for key in unknown):
            return entry
    return None


# -- reading the records ---------------------------------------------------------------------


FORWARD = statements("spectral_deploy.migrate", "forward.sql")
APPLIED = statements("spectral_deploy.migrate", "migrate.sql")


def _ledger_record(
    generation: int | None, tag: str | None, schema: Any, finished: bool
) -> LedgerRecord | None:
    record = SchemaRecord.from_json(schema)
    return None if record is None else LedgerRecord(generation, tag, record, finished)


def read_ledger(database: Database, limit: int = RECORDS_SCANNED) -> list[LedgerRecord]:
    """The schema records of earlier migrations steps, newest first."""
    with database.connect() as conn:
        rows = FORWARD(database.schema).all(
            conn, "schema_records", {"limit": limit}, into=_ledger_record
        )
    return [row for row in rows if row is not None]


def read_record(database: Database, kind: ToolKind) -> tuple[str, ...]:
    """The tool's own record of what is applied: Spectral's ``app_migrations`` (SQL), Alembic's
    heads (``alembic_version``), Django's ``django_migrations`` (``app.name``). Read with
    Spectral's own connection: the app's tables live in the same database."""
    queries = FORWARD(database.schema)
    with database.connect() as conn:
        if kind is ToolKind.SQL:
            return tuple(APPLIED(database.schema).values(conn, "applied"))
        table, query = (
            ("alembic_version", "alembic_heads")
            if kind is ToolKind.ALEMBIC
            else ("django_migrations", "django_applied")
        )
        if not queries.value(conn, "table_exists", {"table": table}):
            return ()
        return tuple(queries.values(conn, query))


def check_schema(
    database: Database,
    tool: MigrationTool,
    *,
    command: str | None = None,
    more: Sequence[LedgerRecord] = (),
) -> SchemaCheck | None:
    """The release's migrations (``tool`` over its checkout) against the database; None when
    there is nothing to compare (no migrations, or another tool's command with no record).
    ``more``: records searched after the ledger's (``release_records``)."""
    if tool.kind is ToolKind.NONE:
        return None
    ledger = [*read_ledger(database), *more]
    if command and tool.kind is ToolKind.SQL:
        # another tool (dbmate, the Supabase CLI ...) keeps its own record, which only it
        # reads: the ledger's record of the files earlier deploys left applied stands in
        code = [m.key for m in _sql_migrations(tool)]
        applied = ledger[0].record.applied if ledger else ()
        if not ledger or not code:
            return None
        check = compare_keys("command", code, applied, ledger)
        # files the ledger does not list are the command's to judge (it applies them)
        if check.relation is SchemaRelation.DIVERGED:
            return None
        return check
    migrations = tool.migrations()
    record = read_record(database, tool.kind)
    if tool.kind is ToolKind.ALEMBIC:
        return compare_alembic(migrations, record, ledger)
    code = [m.key for m in migrations]
    if tool.kind is ToolKind.DJANGO:
        # Django's table holds every app's migrations (its own, installed packages'):
        # only the apps this project has migrations for are compared
        apps = {key.split(".", 1)[0] for key in code} | _ledger_apps(ledger)
        record = tuple(k for k in record if k.split(".", 1)[0] in apps)
    return compare_keys(str(tool.kind), code, record, ledger)


def record_after(database: Database, tool: MigrationTool) -> SchemaRecord | None:
    """The schema the migrations step leaves, for the ledger (None: nothing to record)."""
    if tool.kind is ToolKind.NONE:
        return None
    heads = read_record(database, tool.kind)
    if tool.kind is ToolKind.ALEMBIC:
        migrations = tool.migrations()
        parents = {m.key: m.parents for m in migrations}
        applied = _ancestors(heads, parents)
        return SchemaRecord(
            "alembic",
            tuple(m.key for m in migrations if m.key in applied),
            tuple(heads),
            tuple((m.key, m.parents) for m in migrations),
        )
    if tool.kind is ToolKind.DJANGO:
        apps = {m.key.split(".", 1)[0] for m in tool.migrations()}
        return SchemaRecord("django", tuple(k for k in heads if k.split(".", 1)[0] in apps))
    return SchemaRecord("sql", heads)


def record_of_command(tool: MigrationTool) -> SchemaRecord | None:
    """After another tool's command ran: the files it was given (it applied them all)."""
    if tool.kind is not ToolKind.SQL:
        return None
    return SchemaRecord("command", tuple(m.key for m in _sql_migrations(tool)))


def _sql_migrations(tool: MigrationTool) -> list[Migration]:
    directories = [d for d in tool.directories() if d.is_dir()]
    if not directories:
        return []
    return [
        Migration(key=file.name, path=file.path, display=file.name)
        for file in discover(directories[0])
    ]


def _ledger_apps(ledger: Sequence[LedgerRecord]) -> set[str]:
    return {
        key.split(".", 1)[0]
        for entry in ledger[:1]
        if entry.record.tool == "django"
        for key in entry.record.applied
    }


def record_to_leave(tool: MigrationTool, *, command: str | None = None) -> SchemaRecord | None:
    """The schema a release's migrations step is about to leave: every migration its code
    has. Recorded before the step runs, so a step that dies midway still names who took the
    database to a revision a later (older) release does not know."""
    if tool.kind is ToolKind.NONE:
        return None
    if command and tool.kind is ToolKind.SQL:
        return record_of_command(tool)
    migrations = tool.migrations()
    keys = tuple(m.key for m in migrations)
    if tool.kind is ToolKind.ALEMBIC:
        below = {p for m in migrations for p in m.parents}
        return SchemaRecord(
            "alembic",
            keys,
            tuple(k for k in keys if k not in below),
            tuple((m.key, m.parents) for m in migrations),
        )
    return SchemaRecord(str(tool.kind), keys)


def record_applying(
    database: Database, deploy_id: int, generation: int | None, record: SchemaRecord
) -> None:
    """The ledger's intent: this deploy's migrations step is about to leave ``record``."""
    with translated(), database.connect() as conn:
        record_intent(
            conn,
            database.schema,
            EntryKind.MIGRATION,
            APPLYING_ACTION,
            f"deploy:{deploy_id}:migrations",
            deploy_id=deploy_id,
            generation=generation,
            details={"schema": record.as_json()},
        )
        conn.commit()


def record_kept(
    database: Database, deploy_id: int, generation: int | None, check: SchemaCheck
) -> bool:
    """The ledger's "schema ahead of code, kept" for this deploy, once (a resumed step finds
    it there); True when written now."""
    with translated(), database.connect() as conn, conn.transaction():
        found = entries(conn, database.schema, kind=EntryKind.MIGRATION, deploy_id=deploy_id)
        if any(e.action == KEPT_ACTION for e in found):
            return False
        append(
            conn,
            database.schema,
            EntryKind.MIGRATION,
            KEPT_ACTION,
            outcome=Outcome.OK,
            deploy_id=deploy_id,
            generation=generation,
            details={"message": check.describe(), "check": check.as_json()},
        )
        return True


def release_records(
    database: Database,
    tool_of: Callable[[int, str], MigrationTool],
    *,
    limit: int = RELEASES_SCANNED,
) -> list[LedgerRecord]:
    """The schema earlier deploys left, read from their own commits' migrations (``tool_of``:
    deploy id and commit to the tool over that commit's tree), newest first. For deploys the
    ledger has no schema record of (made before it kept them); a release whose tree cannot be
    read any more is skipped."""
    with database.connect() as conn:
        releases = FORWARD(database.schema).all(
            conn, "migrated_releases", {"limit": limit}, into=_Release
        )
    found = []
    for release in releases:
        try:
            record = record_to_leave(tool_of(release.deploy_id, release.commit_sha))
        except SpectralError:
            continue
        if record is not None:
            found.append(LedgerRecord(release.generation, release.tag, record))
    return found


@dataclass(frozen=True)
class _Release:
    """A deploy whose migrations step finished."""

    deploy_id: int
    generation: int | None
    tag: str | None
    commit_sha: str
