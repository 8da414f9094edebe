"""Linting files: read, parse, run the rules in statement order, apply override markers.

Work is split into change sets, linted one after another in file order because what is
new depends on what came before. Without ``--base`` every file is its own change set,
so on POSIX a large run forks one worker per core (``lint.jobs``) over them; results
come back in file order, identical to a single-process run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from spectral_deploy.lint import doblock
from spectral_deploy.lint.context import DEFAULT_SCHEMA, Context
from spectral_deploy.lint.markers import find_markers
from spectral_deploy.lint.parse import Statement, SyntaxFailure, parse_sql
from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.source import Source
from spectral_deploy.lint.violation import Finding, LintError, Override, Report, Violation

__all__ = ["LintFile", "lint_change_sets", "lint_text"]

INVALID_OVERRIDE = "invalid-override"
OPAQUE_DO_BLOCK = "opaque-do-block"
# Forking pays off only above this much SQL (it costs a few milliseconds).
PARALLEL_MIN_BYTES = 256 * 1024


@dataclass(frozen=True)
class LintFile:
    """A file to lint: where to read it and the path to show.

    ``text`` is SQL already in hand, as bytes (standard input: decoded and checked like a
    file's) or as text (what a migration tool rendered from a revision file); ``path`` is
    then only where it came from, and is not read.
    """

    path: Path
    display: str
    text: str | bytes | None = None


@dataclass(frozen=True)
class _FileResult:
    violations: tuple[Violation, ...]
    overrides: tuple[Override, ...]
    errors: tuple[LintError, ...]


def lint_change_sets(
    change_sets: Sequence[Sequence[LintFile]],
    rules: Sequence[Rule],
    *,
    jobs: int = 1,
    exempt_new: bool = True,
) -> Report:
    """Lint every change set; files inside one share what is new.

    ``exempt_new=False`` treats every object as existing, as linters that do not track
    new objects do (the corpus test compares with squawk that way).
    """
    linter = _Linter(rules, exempt_new=exempt_new)
    work = [list(change_set) for change_set in change_sets if change_set]
    results = _map(linter.lint_change_set, work, jobs)
    violations: list[Violation] = []
    overrides: list[Override] = []
    errors: list[LintError] = []
    for change_set_results in results:
        for result in change_set_results:
            violations.extend(result.violations)
            overrides.extend(result.overrides)
            errors.extend(result.errors)
    return Report(tuple(violations), tuple(overrides), tuple(errors), sum(len(c) for c in work))


def lint_text(text: str, rules: Sequence[Rule], *, path: str = "<sql>") -> Report:
    """Lint one in-memory file as its own change set."""
    result = _Linter(rules).lint_source(Source(path, text), Context())
    return Report(result.violations, result.overrides, result.errors, 1)


class _Linter:
    def __init__(self, rules: Sequence[Rule], *, exempt_new: bool = True) -> None:
        self.exempt_new = exempt_new
        self.by_node: dict[str, list[Rule]] = {}
        for rule in rules:
            for node in rule.nodes:
                self.by_node.setdefault(node, []).append(rule)
        by_name = {rule.name: rule for rule in rules}
        self.invalid_override = by_name.get(INVALID_OVERRIDE)
        self.opaque = by_name.get(OPAQUE_DO_BLOCK)

    def lint_change_set(self, files: Sequence[LintFile]) -> list[_FileResult]:
        context = Context()
        return [self.lint_file(file, context) for file in files]

    def lint_file(self, file: LintFile, context: Context) -> _FileResult:
        if isinstance(file.text, str):
            context.schema = DEFAULT_SCHEMA
            return self.lint_source(Source(file.display, file.text), context)
        if isinstance(file.text, bytes):
            data = file.text
        else:
            try:
                data = file.path.read_bytes()
            except OSError as exc:
                reason = exc.strerror or str(exc)
                error = LintError(file.display, 1, 1, f"cannot read: {reason}")
                return _FileResult((), (), (error,))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _FileResult((), (), (_not_utf8(file.display, data, exc),))
        context.schema = DEFAULT_SCHEMA  # each file starts with the default search_path
        return self.lint_source(Source(file.display, text), context)

    def lint_source(self, source: Source, context: Context) -> _FileResult:
        parsed = parse_sql(source.parsed)
        if isinstance(parsed, SyntaxFailure):
            at = source.position(parsed.offset or 0)
            error = LintError(source.path, at.line, at.column, parsed.message)
            return _FileResult((), (), (error,))
        found: list[tuple[Rule, Statement, Finding]] = []
        for statement in parsed:
            self._lint_statement(statement, context, found)
        return self._apply_markers(source, found)

    def _lint_statement(
        self,
        statement: Statement,
        context: Context,
        found: list[tuple[Rule, Statement, Finding]],
    ) -> None:
        if statement.kind == "DoStmt":
            block = doblock.analyse(statement)
            if self.opaque is not None:
                found.extend((self.opaque, statement, finding) for finding in block.opaque)
            for inner in block.statements:
                self._lint_statement(inner, context, found)
        for rule in self.by_node.get(statement.kind, ()):
            for finding in rule.check(statement, context):
                if finding.subject is None or not context.is_new(*finding.subject):
                    found.append((rule, statement, finding))
        if self.exempt_new or statement.kind == "VariableSetStmt":
            context.record(statement)

    def _apply_markers(
        self, source: Source, found: list[tuple[Rule, Statement, Finding]]
    ) -> _FileResult:
        overrides: list[Override] = []
        invalid: list[tuple[Rule, Statement | None, Finding]] = []
        for marker in find_markers(source.text):
            if marker.reason is not None and marker.problem is None:
                overrides.append(
                    Override(source.path, source.position(marker.start).line, marker.reason)
                )
            elif self.invalid_override is not None:
                finding = Finding((marker.start, marker.end), marker.problem or "invalid marker")
                invalid.append((self.invalid_override, None, finding))
        kept: list[tuple[Rule, Statement | None, Finding]] = [] if overrides else list(found)
        kept.extend(invalid)
        violations = sorted(
            (_violation(source, rule, statement, finding) for rule, statement, finding in kept),
            key=lambda v: (v.start, v.end, v.code),
        )
        return _FileResult(tuple(violations), tuple(overrides), ())


def _violation(
    source: Source, rule: Rule, statement: Statement | None, finding: Finding
) -> Violation:
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
    function: Callable[[list[LintFile]], list[_FileResult]],
    items: list[list[LintFile]],
    jobs: int,
) -> list[list[_FileResult]]:
    """``[function(item) ...]``, over forked workers when that pays off."""
    workers = min(jobs if jobs > 0 else (os.cpu_count() or 1), len(items))
    size = sum(_size(item) for item in items)
    if workers <= 1 or not hasattr(os, "fork") or size < PARALLEL_MIN_BYTES:
        return [function(item) for item in items]
    import pickle  # noqa: PLC0415 - only a forked run needs it

    chunks = _balanced(items, workers)
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


def _size(files: list[LintFile]) -> int:
    total = 0
    for file in files:
        if file.text is not None:
            total += len(file.text)
            continue
        try:
            total += file.path.stat().st_size
        except OSError:
            continue
    return total


def _balanced(items: list[list[LintFile]], workers: int) -> list[list[int]]:
    """Indexes split into ``workers`` groups of about equal bytes (largest first)."""
    sizes = sorted(((_size(item), i) for i, item in enumerate(items)), reverse=True)
    groups: list[list[int]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for size, index in sizes:
        lightest = loads.index(min(loads))
        groups[lightest].append(index)
        loads[lightest] += size
    return groups
