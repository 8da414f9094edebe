"""``spectral-deploy lint``: the migration-compat lint over migration files.

`lint` runs on every pull request and has to start as fast as squawk, so its command
line is read by argparse rather than Typer: ``spectral-deploy lint ...`` reaches
``run`` from ``cli/launch.py`` without importing Typer or rich, and
``spectral-deploy [ROOT OPTIONS] lint ...`` reaches it through the Typer app, which hands
the arguments over unchanged. Either way this one parser reads them.

For plain SQL the lint reads only its own settings (``lint.settings``) and the files. An
Alembic or Django project needs the full configuration (the app's interpreter, the
database Django renders against) and the tool adapters (``migrate.tools``): those are
loaded only when a revision is to be linted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from spectral_deploy.cli import console
from spectral_deploy.errors import InputError, UsageError

if TYPE_CHECKING:
    from spectral_deploy.config import Config
    from spectral_deploy.lint.engine import LintFile, Timeline
    from spectral_deploy.lint.origin import Origin
    from spectral_deploy.lint.schema import Schema
    from spectral_deploy.lint.settings import LintSettings
    from spectral_deploy.migrate.tools import Migration, MigrationTool

__all__ = ["HELP", "build_parser", "run"]

HELP = "Check migrations for changes that break the running (N-1) release or take long locks."
DESCRIPTION = """\
With no PATH, the project's migrations are linted: the .sql files of [migrations]
directory, or, in an Alembic or Django project ([migrations] tool, or alembic.ini /
manage.py found at the project root), every revision as the SQL the tool renders
(alembic upgrade PARENT:REV --sql, manage.py sqlmigrate APP NAME), run by the app's
interpreter ([hosting] python); findings point at the revision file and the SQL line.
PATH may be .sql files, revision files, directories (their .sql files sorted by name,
and the revisions in them), or - for SQL on standard input. Finding no migration at all
is an error, never a pass.

The earlier migrations of each linted file are replayed into a schema model first, so
the lint knows the old type of a column, and which tables and columns exist."""
EXAMPLES = """\
Exit codes: 0 clean (overrides allowed), 1 violations (or an override not signed off, with
--require-signoff), 2 no migration found, a file unreadable, not UTF-8, not parseable, not
a regular file, too large or holding a NUL byte (the other files are still linted), or a
migration tool that failed (its command and output are shown).

Examples:
  spectral-deploy lint                                  # the project's migrations
  spectral-deploy lint migrations/0042_users.sql        # 0001..0041 are its history
  spectral-deploy lint alembic/versions/3f2a_add_email.py
  spectral-deploy lint --base origin/main --format github
  spectral-deploy lint --base origin/main --schema-from env:PROD_DATABASE_URL
  spectral-deploy lint --base origin/main --require-signoff 42   # in the PR workflow
  spectral-deploy lint --ignore create-index-non-concurrently db/migrations
  git show HEAD:db/0042.sql | spectral-deploy lint -
  spectral-deploy lint --explain drop-column
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        # argparse imports shutil (and zlib, bz2, lzma...) to ask the terminal's width,
        # on every run, for help it usually does not print: ask os directly
        if width is None:
            width = _columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)

    def add_usage(
        self,
        usage: str | None,
        actions: Sequence[argparse.Action] | object,
        groups: object,
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, "Usage: " if prefix is None else prefix)  # type: ignore[arg-type]


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size() computes it (COLUMNS, else 80)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"lint: {message}", hint="spectral-deploy lint --help")


def build_parser() -> argparse.ArgumentParser:
    """The ``lint`` command line."""
    parser = _Parser(
        prog="spectral-deploy lint",
        description=HELP + "\n\n" + DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=_Formatter,
        add_help=False,
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="migration files or directories; - for stdin"
    )
    parser.add_argument(
        "--base",
        metavar="GIT_REF",
        help="lint only migrations added or changed since GIT_REF; files before them are history",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "github", "sarif"),
        default="text",
        help="output format (default: text)",
    )
    parser.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="RULES",
        help="run only these rules (names or codes, comma-separated, repeatable)",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="RULES",
        help="do not run these rules (names or codes, comma-separated, repeatable)",
    )
    parser.add_argument(
        "--schema-from",
        metavar="DATABASE_URL",
        help="read the schema model from this database's catalog instead of replaying the "
        "earlier migrations (a URL, or env:NAME to read it from an environment variable, "
        "which keeps a password off the command line); it should be at the state the "
        "running release uses, before the change set",
    )
    parser.add_argument(
        "--require-signoff",
        metavar="PR_NUMBER",
        type=int,
        help="with --base: fail unless every file of the change set with an override is "
        "signed off on GitHub pull request PR_NUMBER (an approval of its head commit by a "
        "code owner of the file, or --signoff-label added by someone other than the "
        "author); needs GITHUB_TOKEN and GITHUB_REPOSITORY",
    )
    parser.add_argument(
        "--signoff-label",
        metavar="LABEL",
        default="compat-breaking-approved",
        help="the label that signs overrides off (default: compat-breaking-approved)",
    )
    parser.add_argument("--explain", metavar="RULE", help="print a rule's documentation and exit")
    parser.add_argument("-h", "--help", action="store_true", help="show this message and exit")
    return parser


def run(argv: Sequence[str], load_config: Callable[[], Config] | None = None) -> int:
    """Lint as the command line says; returns the exit code.

    ``load_config`` is the full configuration loader (the Typer path passes one that
    applies ``--set``); without one, the lint reads only its own keys when it can
    (``lint.settings``) and falls back to the full loader otherwise.
    """
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if args.help:
        console.print_text(parser.format_help())
        return 0
    if args.explain:
        return _explain(args.explain)

    from spectral_deploy.lint.engine import lint_timelines
    from spectral_deploy.lint.origin import remap
    from spectral_deploy.lint.registry import select_rules
    from spectral_deploy.lint.render import LintFormat, render
    from spectral_deploy.lint.settings import checked_scope

    cwd = Path.cwd()
    full = _FullConfig(load_config)
    settings = _settings(full, cwd, needs_full=bool(args.schema_from or args.require_signoff))
    scope = checked_scope(settings)
    rules = select_rules(
        settings,
        select=_split(args.select),
        ignore=_split(args.ignore),
        source=settings.source,
    )
    if args.require_signoff is not None and not args.base:
        raise UsageError(
            "--require-signoff needs --base: signoff is for the change set of a pull request",
            hint='spectral-deploy lint --base "origin/$BASE_REF" --require-signoff 42',
        )
    schema = _catalog(args.schema_from, full()) if args.schema_from else None
    timelines, origins = _Inputs(args.paths, args.base, settings, full, cwd).plan(
        history=schema is None
    )
    import gc

    # The lint makes no reference cycles (a test checks): the cyclic collector would only
    # rescan the growing model over and over while the parser's trees come and go.
    collecting = gc.isenabled()
    gc.disable()
    try:
        report = lint_timelines(
            timelines,
            rules,
            jobs=settings.jobs,
            schema=schema,
            override_scope=scope,
            max_file_bytes=settings.max_file_bytes,
        )
    finally:
        if collecting:
            gc.enable()
    report = remap(report, origins)
    if args.require_signoff is not None:
        from spectral_deploy.lint.signoff import require_signoff

        report = require_signoff(
            report,
            pull_request=args.require_signoff,
            base=args.base,
            label=args.signoff_label,
            cwd=cwd,
            config=full(),
        )
    console.print_text(render(report, LintFormat(args.format), rules))
    return int(report.exit_code)


class _FullConfig:
    """The full configuration, loaded once, on first use."""

    def __init__(self, load_config: Callable[[], Config] | None) -> None:
        self.explicit = load_config is not None
        self._load = load_config
        self._config: Config | None = None

    def __call__(self) -> Config:
        if self._config is None:
            if self._load is None:
                from spectral_deploy.config import load_config

                self._load = load_config
            self._config = self._load()
        return self._config


def _settings(full: _FullConfig, cwd: Path, *, needs_full: bool) -> LintSettings:
    """The lint's settings: read fast when nothing but the lint's own keys matter."""
    from spectral_deploy.lint import settings

    if not full.explicit and not needs_full:
        fast = settings.load(cwd)
        if fast is not None:
            return fast
    return settings.from_config(full())


class _Inputs:
    """What the command line asks to lint, as timelines (history, then change sets), and the
    origins of SQL a migration tool rendered (to map findings back to revision files).

    ``-`` is standard input. A directory means its ``.sql`` files and, in an Alembic or
    Django project, the revisions in it; a ``.py`` file must be one of those revisions.
    With no PATH, the project's migrations ([migrations] tool and directory). Finding no
    migration at all is an error: a lint that checked nothing must not pass. The tool's
    adapter (and the full configuration it needs) is loaded only when revisions count.
    """

    def __init__(
        self,
        paths: Sequence[str],
        base: str | None,
        settings: LintSettings,
        full: _FullConfig,
        cwd: Path,
    ) -> None:
        from spectral_deploy.lint.settings import tool_kind

        if list(paths).count("-") > 1:
            raise UsageError("lint: - (standard input) may be given once")
        self.paths = list(paths)
        self.base = base
        self.settings = settings
        self.full = full
        self.cwd = cwd
        self.kind = tool_kind(settings, cwd)
        self._tool: MigrationTool | None = None
        self._revisions: dict[str, Migration] | None = None

    @property
    def uses_revisions(self) -> bool:
        return self.kind in ("alembic", "django")

    def tool(self) -> MigrationTool:
        if self._tool is None:
            from spectral_deploy.migrate.tools import tool_for

            config = self.full()
            self._tool = tool_for(config, database_url=lambda: _database_url(config))
        return self._tool

    def revisions(self) -> dict[str, Migration]:
        """The tool's revisions by real path (listed only when a path may hold some)."""
        if self._revisions is None:
            found = self.tool().migrations() if self.uses_revisions else []
            self._revisions = {os.path.realpath(m.path): m for m in found}
        return self._revisions

    def plan(self, *, history: bool) -> tuple[list[Timeline], dict[str, Origin]]:
        """The timelines to lint; ``history=False`` replays nothing (``--schema-from``)."""
        from spectral_deploy.lint.engine import Step, Timeline
        from spectral_deploy.lint.history import plan

        stdin = [_stdin(self.settings.max_file_bytes)] if "-" in self.paths else []
        items, roots = self._items(stdin_given=bool(stdin))
        if self.base and roots:
            items = self._changed(items, roots)
        files = [item for item in items if isinstance(item, Path)]
        migrations = [item for item in items if not isinstance(item, Path)]
        timelines = [Timeline((Step(file, 0),), complete=False) for file in stdin]
        if files:
            changed = {path.resolve() for path in files} if self.base else None
            timelines += plan(
                [_lint_file(path, self.cwd) for path in files],
                changed=changed,
                display=lambda path: _display(path, self.cwd),
                history=history,
            )
        origins: dict[str, Origin] = {}
        if migrations:
            found, origins = self._revision_timelines(migrations)
            timelines += found
        return timelines, origins

    def _items(self, *, stdin_given: bool) -> tuple[list[Path | Migration], list[Path]]:
        """The files and revisions asked for (before ``--base``), and where they were found."""
        if not self.paths:
            if self.kind == "none":
                console.warn(
                    'nothing to lint: [migrations] tool = "none" (pass files to lint them)'
                )
                return [], []
            if self.uses_revisions:
                tool = self.tool()
                listed: list[Path | Migration] = list(tool.migrations())
                if not listed:
                    raise _nothing_found(tool.describe(), tool.directories(), self.kind)
                return listed, tool.directories()
            directory = self.settings.migrations_dir
            if not directory.is_dir():
                raise InputError(
                    f"migrations directory {_display(directory, self.cwd)} does not exist",
                    hint="pass the migration files or directories, or set [migrations] "
                    "directory (or tool) in spectral.toml",
                )
            found = self._expand([directory])
            if not found:
                raise _nothing_found(f"SQL files ({_display(directory, self.cwd)}/)", [directory])
            return found, [directory]
        roots = [Path(p) for p in self.paths if p != "-"]
        found = self._expand(roots)
        if not found and not stdin_given:
            raise _nothing_found(self._describe(), roots, self.kind)
        return found, roots

    def _describe(self) -> str:
        if self.uses_revisions:
            return self.tool().describe()
        if self.kind == "none":
            return 'no migrations ([migrations] tool = "none")'
        return f"SQL files ({_display(self.settings.migrations_dir, self.cwd)}/)"

    def _expand(self, roots: Sequence[Path]) -> list[Path | Migration]:
        """Files as given, directories as their ``*.sql`` files sorted by name; revisions of
        the project's migration tool wherever a path names one or holds some."""
        items: list[Path | Migration] = []
        seen: set[str] = set()
        for root in roots:
            found: list[Path | Migration]
            if root.is_dir():
                # not only regular files: a FIFO or a device named *.sql is reported, not skipped
                found = [p for p in sorted(root.iterdir()) if p.suffix == ".sql" and not p.is_dir()]
                if self.uses_revisions:
                    inside = os.path.realpath(root).rstrip(os.sep) + os.sep
                    found += [m for real, m in self.revisions().items() if real.startswith(inside)]
            elif root.suffix == ".py":
                revision = self.revisions().get(os.path.realpath(root))
                if revision is None:
                    raise InputError(
                        f"{root}: a Python file is not SQL, and not a migration of "
                        f"{self._describe()}",
                        hint='for Alembic or Django revisions set [migrations] tool = "alembic" '
                        'or "django" (or keep alembic.ini / manage.py at the project root)',
                    )
                found = [revision]
            else:
                found = [root]
            for item in found:
                # strings, not realpath, for plain files: its lstat of every component adds up
                key = os.path.normpath(item) if isinstance(item, Path) else item.key
                if key not in seen:
                    seen.add(key)
                    items.append(item)
        return items

    def _changed(
        self, items: list[Path | Migration], roots: Sequence[Path]
    ) -> list[Path | Migration]:
        """With ``--base``: the items added or changed since it (revisions: only those; plain
        SQL files: all, the planner takes the unchanged ones as history)."""
        from spectral_deploy.lint.context import changed_files

        assert self.base is not None
        changed = changed_files(self.base, roots, self.cwd)
        selected = [item for item in items if _path_of(item).resolve() in changed]
        if items and not selected:
            console.warn(
                f"no migration added or changed since {self.base} "
                f"({len(items)} in {', '.join(_display(r, self.cwd) for r in roots)})"
            )
        return selected

    def _revision_timelines(
        self, migrations: list[Migration]
    ) -> tuple[list[Timeline], dict[str, Origin]]:
        """Revisions rendered by their tool, each its own change set (one with ``--base``)."""
        from spectral_deploy.lint.engine import Step, Timeline
        from spectral_deploy.migrate.tools import lint_inputs

        rendered = {r.migration.key: r for r in self.tool().render(migrations)}
        files, origins = lint_inputs(
            [rendered[m.key] for m in migrations], display=lambda m: _shown(m, self.cwd)
        )
        if self.base:
            steps = tuple(Step(file, 0) for file in files)
            return [Timeline(steps, complete=False)], origins
        return [Timeline((Step(file, 0),), complete=False) for file in files], origins


def _lint_file(path: Path, cwd: Path) -> LintFile:
    from spectral_deploy.lint.engine import LintFile

    return LintFile(path, _display(path, cwd))


def _nothing_found(what: str, where: Sequence[Path], kind: str = "sql") -> InputError:
    cwd = Path.cwd()
    places = ", ".join(_display(p, cwd) for p in where) or "the project"
    python_files = any(
        p.suffix == ".py" for d in where if d.is_dir() for p in d.iterdir() if p.is_file()
    )
    hint = "pass the migration files or directories, or set [migrations] directory in spectral.toml"
    if kind == "sql" and python_files:
        hint = (
            "these are Python files: for Alembic or Django revisions set [migrations] tool "
            '= "alembic" or "django" in spectral.toml'
        )
    return InputError(f"no migrations to lint in {places} ({what})", hint=hint)


def _stdin(max_bytes: int) -> LintFile:
    """Standard input, read up to one byte past the limit (the engine reports the excess)."""
    from spectral_deploy.lint.engine import LintFile

    return LintFile(Path("-"), "<stdin>", text=sys.stdin.buffer.read(max_bytes + 1))


def _database_url(config: Config) -> str | None:
    """The database a tool that needs one (Django's sqlmigrate) renders against."""
    url = os.environ.get("DATABASE_URL") or config.database.url
    if url:
        return url
    from spectral_deploy.db.connect import resolve_url

    return resolve_url(config)


def _catalog(value: str, config: Config) -> Schema:
    """The schema model from ``--schema-from`` (a URL, or ``env:NAME``)."""
    from spectral_deploy.lint.catalog import read_catalog

    url = value
    if value.startswith("env:"):
        name = value[len("env:") :]
        url = os.environ.get(name, "")
        if not url:
            raise UsageError(
                f"--schema-from {value}: the environment variable {name} is not set",
                hint=f"export {name}=postgresql://user@host:5432/dbname",
            )
    return read_catalog(url, config.database)


def _path_of(item: Path | Migration) -> Path:
    return item if isinstance(item, Path) else item.path


def _shown(migration: Migration, cwd: Path) -> str:
    from spectral_deploy.migrate.tools.positions import display_path

    return display_path(migration.path, cwd)


def _explain(key: str) -> int:
    from spectral_deploy.lint.docs import rule_page
    from spectral_deploy.lint.registry import all_rules, find_rule

    rule = find_rule(key)
    if rule is None:
        known = ", ".join(r.name for r in all_rules())
        raise UsageError(f"--explain: unknown rule {key!r} (known: {known})")
    console.print_text(rule_page(rule))
    return 0


def _split(values: Sequence[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _display(path: Path, cwd: Path) -> str:
    """The path relative to the working directory when inside it, else as given."""
    text = str(path)
    if not path.is_absolute():
        return os.path.normpath(text)
    prefix = str(cwd).rstrip(os.sep) + os.sep
    return text[len(prefix) :] if text.startswith(prefix) else text
