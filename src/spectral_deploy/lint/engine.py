"""Linting files: read, parse, run the rules in statement order, apply override markers.

The unit of work is a ``Timeline``: one project's migrations in the order they are
applied. Its history steps are replayed into the schema model (parsed, not linted); its
change-set steps are linted against the model, and then applied to it too, so a later
change set sees an earlier one as history. What is new depends on what came before, so
a timeline runs in order; independent timelines (other directories, or files linted
without history) are forked over ``lint.jobs`` processes on POSIX when that pays off,
and results come back in input order, identical to a single-process run.

Input is read defensively: only regular files (a FIFO or a device is an error, never a
hang), at most ``max_file_bytes``, UTF-8, no NUL byte (PostgreSQL's parser would stop
there and silently skip the rest). Large files are parsed a batch of statements at a
time, so memory follows the largest statement, not the file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from spectral_deploy.lint import doblock
from spectral_deploy.lint.context import Context
from spectral_deploy.lint.markers import Marker, find_markers
from spectral_deploy.lint.names import ObjectKind
from spectral_deploy.lint.parse import Statement, SyntaxFailure, parse_batches
from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.schema import Schema
from spectral_deploy.lint.source import Source
from spectral_deploy.lint.violation import (
    Finding,
    LintError,
    Override,
    OverrideScope,
    Report,
    Violation,
)

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "LintFile",
    "SqlText",
    "Step",
    "Timeline",
    "lint_change_sets",
    "lint_text",
    "lint_timelines",
    "read_source",
]

INVALID_OVERRIDE = "invalid-override"
OPAQUE_DO_BLOCK = "opaque-do-block"
# Forking pays off only above this much SQL (it costs a few milliseconds).
PARALLEL_MIN_BYTES = 256 * 1024
DEFAULT_MAX_FILE_BYTES = 32 * 1024 * 1024
READ_CHUNK_BYTES = 1024 * 1024


class LintFile(NamedTuple):
    """A file to lint: where to read it and the path to show.

    ``text`` is SQL already in hand, as bytes (standard input: decoded and checked like a
    file's) or as text (what a migration tool rendered from a revision file); ``path`` is
    then only where it came from, and is not read.
    """

    path: Path
    display: str
    text: str | bytes | None = None


class SqlText(NamedTuple):
    """SQL that is not a file on disk: a migration tool's rendering of its history, stdin."""

    origin: str
    text: str


Input = LintFile | SqlText


class Step(NamedTuple):
    """One migration of a timeline.

    ``change_set`` is None for history (replayed into the model, not linted), else the
    number of the change set it is linted in (files of one change set share what is new).
    ``applies`` is False for a down migration: linted, but its changes are not kept.
    """

    source: Input
    change_set: int | None = None
    applies: bool = True


class Timeline(NamedTuple):
    """One project's migrations in apply order.

    ``complete``: the model before the first step is the whole database (true when the
    steps start from the project's first migration, or the model comes from a catalog).
    """

    steps: tuple[Step, ...]
    complete: bool = True


class _FileResult(NamedTuple):
    violations: tuple[Violation, ...] = ()
    overrides: tuple[Override, ...] = ()
    errors: tuple[LintError, ...] = ()
    notes: tuple[str, ...] = ()


class _Found(NamedTuple):
    """A finding in place: its rule, its statement, and where the top-level statement
    holding it starts (what a statement-scoped marker covers)."""

    rule: Rule
    statement: Statement | None
    top: int | None
    finding: Finding


class _Options(NamedTuple):
    exempt_new: bool = True
    override_scope: OverrideScope = OverrideScope.FILE
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES


def lint_timelines(
    timelines: Sequence[Timeline],
    rules: Sequence[Rule],
    *,
    jobs: int = 1,
    schema: Schema | None = None,
    exempt_new: bool = True,
    override_scope: OverrideScope = OverrideScope.FILE,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Report:
    """Lint every timeline; ``schema`` (from a catalog) replaces their history.

    ``exempt_new=False`` treats every object as existing, as linters that do not track
    new objects do (the corpus test compares with squawk that way).
    """
    options = _Options(exempt_new, OverrideScope(override_scope), max_file_bytes)
    linter = _Linter(rules, options, schema)
    work = [timeline for timeline in timelines if timeline.steps]
    results = _map(linter.run, work, jobs)
    files = sum(1 for t in work for step in t.steps if step.change_set is not None)
    return _report(results, files)


def lint_change_sets(
    change_sets: Sequence[Sequence[LintFile]],
    rules: Sequence[Rule],
    *,
    jobs: int = 1,
    exempt_new: bool = True,
    history: Sequence[Input] = (),
    schema: Schema | None = None,
    override_scope: OverrideScope = OverrideScope.FILE,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Report:
    """Lint change sets independently, each after ``history`` (if any)."""
    timelines = [
        Timeline(
            (*(Step(s) for s in history), *(Step(f, 0) for f in change_set)),
            complete=bool(history),
        )
        for change_set in change_sets
        if change_set
    ]
    return lint_timelines(
        timelines,
        rules,
        jobs=jobs,
        schema=schema,
        exempt_new=exempt_new,
        override_scope=override_scope,
        max_file_bytes=max_file_bytes,
    )


def lint_text(
    text: str,
    rules: Sequence[Rule],
    *,
    path: str = "<sql>",
    history: Sequence[Input] = (),
    schema: Schema | None = None,
    override_scope: OverrideScope = OverrideScope.FILE,
) -> Report:
    """Lint one in-memory file as its own change set (after ``history``, if any)."""
    steps = (*(Step(s) for s in history), Step(SqlText(path, text), 0))
    timeline = Timeline(steps, complete=bool(history))
    return lint_timelines([timeline], rules, schema=schema, override_scope=override_scope)


def _report(results: Iterable[list[_FileResult]], files: int) -> Report:
    violations: list[Violation] = []
    overrides: list[Override] = []
    errors: list[LintError] = []
    notes: list[str] = []
    for timeline_results in results:
        for result in timeline_results:
            violations.extend(result.violations)
            overrides.extend(result.overrides)
            errors.extend(result.errors)
            notes.extend(result.notes)
    return Report(tuple(violations), tuple(overrides), tuple(errors), files, tuple(notes))


def read_source(source: Input, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Source | LintError:
    """The decoded text of one input, or why it cannot be linted (with a position)."""
    if isinstance(source, SqlText):
        return _checked(source.origin, source.text)
    if isinstance(source.text, str):
        return _checked(source.display, source.text)
    if isinstance(source.text, bytes):
        data: bytes | LintError = source.text
        if len(source.text) > max_bytes:
            data = _too_large(source.display, len(source.text), max_bytes)
    else:
        data = _read(source.path, source.display, max_bytes)
    if isinstance(data, LintError):
        return data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _not_utf8(source.display, data, exc)
    return _checked(source.display, text)


def _checked(path: str, text: str) -> Source | LintError:
    source = Source(path, text)
    nul = text.find("\0")
    if nul != -1:
        at = source.position(nul)
        return LintError(
            path,
            at.line,
            at.column,
            "NUL byte (\\0) in the file: PostgreSQL would stop reading there and skip "
            "every statement after it",
        )
    return source


def _read(path: Path, display: str, max_bytes: int) -> bytes | LintError:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return LintError(display, 1, 1, f"cannot read: {exc.strerror or exc}")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return LintError(
                display,
                1,
                1,
                f"not a regular file ({_file_kind(info.st_mode)}): only migration files are read",
            )
        if info.st_size > max_bytes:
            return _too_large(display, info.st_size, max_bytes)
        data = _read_all(fd, info.st_size, max_bytes)
        return data if data is not None else _too_large(display, max_bytes + 1, max_bytes)
    except OSError as exc:
        return LintError(display, 1, 1, f"cannot read: {exc.strerror or exc}")
    finally:
        os.close(fd)


def _read_all(fd: int, size: int, max_bytes: int) -> bytes | None:
    """The file's bytes (None: it grew past ``max_bytes`` while being read)."""
    # one read for the usual file: a short read of a regular file is its end
    first = os.read(fd, min(size + 1, max_bytes + 1))
    if len(first) <= size:
        return first
    chunks = [first]
    total = len(first)
    while chunk := os.read(fd, min(READ_CHUNK_BYTES, max_bytes + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            return None
    return b"".join(chunks)


def _too_large(display: str, size: int, limit: int) -> LintError:
    return LintError(
        display,
        1,
        1,
        f"file is {_mib(size)}, over the limit of {_mib(limit)} (raise [lint] "
        f"max_file_bytes, now {limit}, if this really is one migration)",
    )


def _mib(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size} bytes"
    return f"{size / (1024 * 1024):.1f} MiB"


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


class _Linter:
    def __init__(self, rules: Sequence[Rule], options: _Options, schema: Schema | None) -> None:
        self.options = options
        self.schema = schema
        self.by_node: dict[str, list[Rule]] = {}
        for rule in rules:
            for node in rule.nodes:
                self.by_node.setdefault(node, []).append(rule)
        by_name = {rule.name: rule for rule in rules}
        self.invalid_override = by_name.get(INVALID_OVERRIDE)
        self.opaque = by_name.get(OPAQUE_DO_BLOCK)

    def run(self, timeline: Timeline) -> list[_FileResult]:
        """Replay and lint one timeline's steps in order; one result per linted file."""
        model = (
            self.schema.fork() if self.schema is not None else Schema(complete=timeline.complete)
        )
        contexts: dict[int, Context] = {}
        results: list[_FileResult] = []
        for step in timeline.steps:
            if step.change_set is None:
                note = self.replay(step.source, model)
                if note is not None and results:
                    results[-1] = _with_note(results[-1], note)
                elif note is not None:
                    results.append(_FileResult(notes=(note,)))
                continue
            if step.applies:
                context = contexts.get(step.change_set) or contexts.setdefault(
                    step.change_set, Context(model=model)
                )
            else:  # checked against the model, its changes thrown away
                context = Context(model=model.fork())
            results.append(self.lint_file(step.source, context))
        return [r for r in results if r != _FileResult()]

    def replay(self, source: Input, model: Schema) -> str | None:
        """Apply one history file to the model; a note when it could not be read whole."""
        read = read_source(source, self.options.max_file_bytes)
        if isinstance(read, LintError):
            model.complete = False
            return (
                f"history {read.path}:{read.line}:{read.column}: {read.message}; the schema "
                "model lacks what it changes"
            )
        context = Context(model=model)
        for batch in parse_batches(read.parsed):
            if isinstance(batch, SyntaxFailure):
                model.complete = False
                at = read.position(batch.offset or 0)
                return (
                    f"history {read.path}:{at.line}:{at.column}: {batch.message}; the schema "
                    "model lacks what the rest of the file changes"
                )
            for statement in batch.statements:
                self._replay_statement(statement, context)
        return None

    def _replay_statement(self, statement: Statement, context: Context) -> None:
        if statement.kind == "DoStmt":
            block = doblock.analyse(statement)
            if block.opaque:
                context.model.complete = False
            for inner in block.statements:
                self._replay_statement(inner, context)
        context.record(statement)

    def lint_file(self, source: Input, context: Context) -> _FileResult:
        read = read_source(source, self.options.max_file_bytes)
        if isinstance(read, LintError):
            return _FileResult(errors=(read,))
        context.start_file()  # the default search_path; a new transaction
        return self.lint_source(read, context)

    def lint_source(self, source: Source, context: Context) -> _FileResult:
        found: list[_Found] = []
        markers: list[Marker] = []
        # each marker's statement (the one it sits in, else the next), by start offset;
        # markers wait here until their statement streams past, so no statement is kept
        statement_of: dict[int, int] = {}
        waiting: list[Marker] = []
        for batch in parse_batches(source.parsed):
            if isinstance(batch, SyntaxFailure):
                at = source.position(batch.offset or 0)
                return _FileResult(
                    errors=(LintError(source.path, at.line, at.column, batch.message),)
                )
            found_here = find_markers(source.text, batch.start, batch.end)
            markers.extend(found_here)
            waiting.extend(found_here)
            for statement in batch.statements:
                while waiting and waiting[0].start < statement.end:
                    statement_of[waiting.pop(0).start] = statement.start
                self._lint_statement(statement, statement.start, context, found)
        found = [
            f
            for f in found
            if f.finding.replaced is None or not context.compensated(f.finding.replaced)
        ]
        return self._apply_markers(source, found, markers, statement_of)

    def _lint_statement(
        self,
        statement: Statement,
        top: int,
        context: Context,
        found: list[_Found],
    ) -> None:
        if statement.kind == "DoStmt":
            block = doblock.analyse(statement)
            if self.opaque is not None:
                found.extend(_Found(self.opaque, statement, top, f) for f in block.opaque)
            for inner in block.statements:
                self._lint_statement(inner, top, context, found)
        rules = self.by_node.get(statement.kind, ())
        if rules and self.options.exempt_new and _on_a_new_table(statement, context):
            rules = ()  # every finding of these statements is about the table: none counts
        if rules and _of_an_absent_relation(statement, context):
            rules = ()  # ALTER ... IF EXISTS of a relation that is not there: a no-op
        for rule in rules:
            for finding in rule.check(statement, context):
                if (
                    not self.options.exempt_new
                    or finding.subject is None
                    or not context.is_new(*finding.subject)
                ):
                    found.append(_Found(rule, statement, top, finding))
        if self.options.exempt_new or statement.kind == "VariableSetStmt":
            context.record(statement)
        else:  # everything stays existing, but the model still learns the types
            context.learn(statement)

    def _apply_markers(
        self,
        source: Source,
        found: list[_Found],
        markers: list[Marker],
        statement_of: dict[int, int],
    ) -> _FileResult:
        valid = [m for m in markers if m.reason is not None and m.problem is None]
        invalid = [m for m in markers if m not in valid]
        covered: dict[int, list[_Found]] = {id(m): [] for m in valid}
        kept: list[_Found] = []
        for item in found:
            marker = self._marker_for(item, valid, statement_of)
            if marker is None:
                kept.append(item)
            else:
                covered[id(marker)].append(item)
        if self.invalid_override is not None:
            for marker in invalid:
                finding = Finding((marker.start, marker.end), marker.problem or "invalid marker")
                kept.append(_Found(self.invalid_override, None, None, finding))
        overrides = tuple(
            Override(
                source.path,
                source.position(marker.start).line,
                marker.reason or "",
                _sorted(_violation(source, f) for f in covered[id(marker)]),
                self.options.override_scope,
            )
            for marker in valid
        )
        violations = _sorted(_violation(source, f) for f in kept)
        return _FileResult(violations, overrides)

    def _marker_for(
        self, item: _Found, valid: list[Marker], statement_of: dict[int, int]
    ) -> Marker | None:
        """The marker that covers a finding, if any (never one of invalid-override)."""
        if not valid:
            return None
        if self.options.override_scope is OverrideScope.FILE:
            start = item.finding.resolve()[0]
            before = [m for m in valid if m.start <= start]
            return before[-1] if before else valid[0]
        if item.top is None:
            return None
        return next((m for m in valid if statement_of.get(m.start) == item.top), None)


_TABLE_STATEMENTS = frozenset({"AlterTableStmt", "IndexStmt"})


def _on_a_new_table(statement: Statement, context: Context) -> bool:
    """True for an ALTER TABLE or CREATE INDEX of a table the change set created."""
    if statement.kind not in _TABLE_STATEMENTS:
        return False
    relation = statement.node.get("relation")
    return relation is not None and context.is_new(ObjectKind.TABLE, context.relation(relation))


# the ALTER TABLE / ALTER VIEW / RENAME forms whose relation is a table or view
_RELATION_TYPES = frozenset({"OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW"})
_RELATION_PARTS = frozenset({"OBJECT_COLUMN", "OBJECT_TABCONSTRAINT"})


def _of_an_absent_relation(statement: Statement, context: Context) -> bool:
    """True for ``ALTER TABLE IF EXISTS`` (``ALTER VIEW``, a rename) of a relation the
    schema model knows is not there: PostgreSQL skips it with a notice."""
    node = statement.node
    if not node.get("missing_ok") or node.get("relation") is None:
        return False
    if statement.kind == "AlterTableStmt":
        relation_type = node.get("objtype")
    elif statement.kind == "RenameStmt":
        relation_type = node.get("renameType")
        if relation_type in _RELATION_PARTS:
            relation_type = node.get("relationType")
    else:
        return False
    if relation_type not in _RELATION_TYPES:
        return False  # an index, a sequence, a foreign table: not in the model's relations
    name = context.relation(node["relation"])
    return context.known_absent(ObjectKind.TABLE, name) and context.known_absent(
        ObjectKind.VIEW, name
    )


def _sorted(violations: Iterable[Violation]) -> tuple[Violation, ...]:
    return tuple(sorted(violations, key=lambda v: (v.start, v.end, v.code)))


def _with_note(result: _FileResult, note: str) -> _FileResult:
    return _FileResult(result.violations, result.overrides, result.errors, (*result.notes, note))


def _violation(source: Source, item: _Found) -> Violation:
    rule, statement, finding = item.rule, item.statement, item.finding
    start_offset, end_offset = finding.resolve()
    text = source.text
    while start_offset < end_offset - 1 and text[start_offset].isspace():
        start_offset += 1
    while end_offset > start_offset + 1 and text[end_offset - 1].isspace():
        end_offset -= 1
    start = source.position(start_offset)
    end = source.position(max(end_offset, start_offset))
    first = source.position(statement.start) if statement is not None else start
    first_line = min(first.line, start.line)
    lines = tuple(source.line_text(n) for n in range(first_line, end.line + 1))
    return Violation(
        path=source.path,
        start=start,
        end=end,
        rule=rule.name,
        code=rule.code,
        message=finding.message,
        help=rule.help,
        statement_start=source.position(statement.start) if statement is not None else start,
        statement_lines=lines,
    )


def _not_utf8(path: str, data: bytes, exc: UnicodeDecodeError) -> LintError:
    line_start = data.rfind(b"\n", 0, exc.start) + 1
    line = data.count(b"\n", 0, exc.start) + 1
    column = len(data[line_start : exc.start].decode("utf-8", errors="replace")) + 1
    return LintError(
        path, line, column, f"not UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded"
    )


def _map(
    function: Callable[[Timeline], list[_FileResult]],
    items: list[Timeline],
    jobs: int,
) -> list[list[_FileResult]]:
    """``[function(item) ...]``, over forked workers when that pays off."""
    workers = min(jobs if jobs > 0 else (os.cpu_count() or 1), len(items))
    sizes = [_size(item) for item in items]
    if workers <= 1 or not hasattr(os, "fork") or sum(sizes) < PARALLEL_MIN_BYTES:
        return [function(item) for item in items]
    import pickle  # noqa: PLC0415 - only a forked run needs it

    chunks = _balanced(sizes, workers)
    children: list[tuple[int, int]] = []
    for chunk in chunks[1:]:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: compute, send, and leave without running cleanup handlers
            os.close(read_end)
            try:
                payload = pickle.dumps((True, [function(items[i]) for i in chunk]))
            except BaseException as exc:  # the parent re-raises it
                payload = pickle.dumps((False, exc))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
            os._exit(0)
        os.close(write_end)
        children.append((pid, read_end))
    results: dict[int, list[_FileResult]] = {}
    failure: BaseException | None = None
    try:
        results.update((i, function(items[i])) for i in chunks[0])
    except BaseException as exc:  # collect the workers first, then raise
        failure = exc
    for chunk, (pid, read_end) in zip(chunks[1:], children, strict=True):
        with os.fdopen(read_end, "rb") as pipe:
            payload = pipe.read()
        _, status = os.waitpid(pid, 0)
        if not payload:
            failure = failure or RuntimeError(
                f"lint worker {pid} died without a result (wait status {status})"
            )
            continue
        ok, value = pickle.loads(payload)  # noqa: S301 - our own forked worker wrote it
        if ok:
            results.update(zip(chunk, value, strict=True))
        else:
            failure = failure or value
    if failure is not None:
        raise failure
    return [results[i] for i in range(len(items))]


def _size(timeline: Timeline) -> int:
    total = 0
    for step in timeline.steps:
        source = step.source
        if source.text is not None or isinstance(source, SqlText):
            total += len(source.text or "")
            continue
        try:
            total += source.path.stat().st_size
        except OSError:
            continue
    return total


def _balanced(sizes: list[int], workers: int) -> list[list[int]]:
    """Indexes split into ``workers`` groups of about equal bytes (largest first)."""
    groups: list[list[int]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for size, index in sorted(((s, i) for i, s in enumerate(sizes)), reverse=True):
        lightest = loads.index(min(loads))
        groups[lightest].append(index)
        loads[lightest] += size
    return [sorted(group) for group in groups]
