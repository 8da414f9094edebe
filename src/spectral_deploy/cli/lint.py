"""``spectral-deploy lint``: the migration-compat lint over migration files.

`lint` runs on every pull request and has to start as fast as squawk, so its command
line is read by argparse rather than Typer: ``spectral-deploy lint ...`` reaches
``run`` from ``cli/launch.py`` without importing Typer or rich, and
``spectral-deploy [ROOT OPTIONS] lint ...`` reaches it through the Typer app, which hands
the arguments over unchanged. Either way this one parser reads them.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from spectral_deploy.cli import console
from spectral_deploy.errors import InputError, UsageError

if TYPE_CHECKING:
    from spectral_deploy.config import Config
    from spectral_deploy.lint.engine import LintFile
    from spectral_deploy.lint.origin import Origin
    from spectral_deploy.migrate.tools import Migration, MigrationTool, ToolKind

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
is an error, never a pass."""
EXAMPLES = """\
Exit codes: 0 clean (overrides allowed), 1 violations, 2 no migration found, a file
unreadable, not UTF-8 or not parseable (the other files are still linted), or a migration
tool that failed (its command and output are shown).

Examples:
  spectral-deploy lint                                  # the project's migrations
  spectral-deploy lint migrations/0042_users.sql
  spectral-deploy lint alembic/versions/3f2a_add_email.py
  spectral-deploy lint --base origin/main --format github
  spectral-deploy lint --ignore create-index-non-concurrently db/migrations
  git show HEAD:db/0042.sql | spectral-deploy lint -
  spectral-deploy lint --explain drop-column
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def add_usage(
        self,
        usage: str | None,
        actions: Sequence[argparse.Action] | object,
        groups: object,
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, "Usage: " if prefix is None else prefix)  # type: ignore[arg-type]


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
    parser.add_argument("--explain", metavar="RULE", help="print a rule's documentation and exit")
    parser.add_argument("-h", "--help", action="store_true", help="show this message and exit")
    return parser


def run(argv: Sequence[str], load_config: Callable[[], Config]) -> int:
    """Lint as the command line says; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if args.help:
        console.print_text(parser.format_help())
        return 0
    if args.explain:
        return _explain(args.explain)

    from spectral_deploy.lint.engine import lint_change_sets
    from spectral_deploy.lint.origin import remap
    from spectral_deploy.lint.registry import select_rules
    from spectral_deploy.lint.render import LintFormat, render

    config = load_config()
    if config.lint.jobs < 0:
        from spectral_deploy.errors import ConfigError

        raise ConfigError(
            f"must be 0 (one per core) or more, got {config.lint.jobs}",
            key="lint.jobs",
            source=config.source,
        )
    rules = select_rules(
        config.lint,
        select=_split(args.select),
        ignore=_split(args.ignore),
        source=config.source,
    )
    change_sets, origins = _inputs(args.paths, args.base, config, Path.cwd())
    report = remap(lint_change_sets(change_sets, rules, jobs=config.lint.jobs), origins)
    console.print_text(render(report, LintFormat(args.format), rules))
    return int(report.exit_code)


def _inputs(
    paths: Sequence[str], base: str | None, config: Config, cwd: Path
) -> tuple[list[list[LintFile]], dict[str, Origin]]:
    """What to lint, as change sets, and the origins of SQL a migration tool rendered.

    ``-`` is standard input. A directory means its ``.sql`` files and, in an Alembic or
    Django project, the revisions in it; a ``.py`` file must be one of those revisions.
    With no PATH, the project's migrations ([migrations] tool and directory). Finding no
    migration at all is an error: a lint that checked nothing must not pass.
    """
    from spectral_deploy.lint.engine import LintFile
    from spectral_deploy.migrate.tools import ToolKind, lint_inputs, tool_for

    if list(paths).count("-") > 1:
        raise UsageError("lint: - (standard input) may be given once")
    tool = tool_for(config, database_url=lambda: _database_url(config))
    stdin = [_stdin()] if "-" in paths else []
    roots = [Path(p) for p in paths if p != "-"]
    if not paths:
        if tool.kind is ToolKind.NONE:
            console.warn('nothing to lint: [migrations] tool = "none" (pass files to lint them)')
            return [], {}
        items: list[Path | Migration] = list(tool.migrations())
        if not items:
            raise _nothing_found(tool.describe(), tool.directories(), tool.kind)
        roots = tool.directories()
    else:
        items = _expand(roots, tool)
        if not items and not stdin:
            raise _nothing_found(tool.describe(), roots, tool.kind)
    if base:
        from spectral_deploy.lint.context import changed_files

        changed = changed_files(base, roots, cwd)
        selected = [item for item in items if _path_of(item).resolve() in changed]
        if items and not selected:
            console.warn(
                f"no migration added or changed since {base} "
                f"({len(items)} in {', '.join(_display(r, cwd) for r in roots)})"
            )
        items = selected
    tool_migrations = [item for item in items if not isinstance(item, Path)]
    rendered = {r.migration.key: r for r in tool.render(tool_migrations)}
    files: list[LintFile] = list(stdin)
    origins: dict[str, Origin] = {}
    for item in items:
        if isinstance(item, Path):
            files.append(LintFile(item, _display(item, cwd)))
            continue
        found, more = lint_inputs([rendered[item.key]], display=lambda m: _shown(m, cwd))
        files.extend(found)
        origins.update(more)
    change_sets = [files] if base else [[file] for file in files]
    return change_sets, origins


def _expand(roots: Sequence[Path], tool: MigrationTool) -> list[Path | Migration]:
    """Files as given, directories as their ``*.sql`` files sorted by name; revisions of the
    project's migration tool wherever a path names one or holds some."""
    from spectral_deploy.migrate.tools import ToolKind

    listing: dict[str, Migration] | None = None

    def revisions() -> dict[str, Migration]:  # listed only when a path may hold some
        nonlocal listing
        if listing is None:
            uses_revisions = tool.kind in (ToolKind.ALEMBIC, ToolKind.DJANGO)
            found = tool.migrations() if uses_revisions else []
            listing = {os.path.realpath(m.path): m for m in found}
        return listing

    items: list[Path | Migration] = []
    seen: set[str] = set()
    for root in roots:
        found: list[Path | Migration]
        if root.is_dir():
            found = [p for p in sorted(root.iterdir()) if p.suffix == ".sql" and p.is_file()]
            inside = os.path.realpath(root).rstrip(os.sep) + os.sep
            found += [m for real, m in revisions().items() if real.startswith(inside)]
        elif root.suffix == ".py":
            revision = revisions().get(os.path.realpath(root))
            if revision is None:
                raise InputError(
                    f"{root}: a Python file is not SQL, and not a migration of {tool.describe()}",
                    hint='for Alembic or Django revisions set [migrations] tool = "alembic" or '
                    '"django" (or keep alembic.ini / manage.py at the project root)',
                )
            found = [revision]
        else:
            found = [root]
        for item in found:
            key = os.path.realpath(_path_of(item))
            if key not in seen:
                seen.add(key)
                items.append(item)
    return items


def _nothing_found(what: str, where: Sequence[Path], kind: ToolKind) -> InputError:
    from spectral_deploy.migrate.tools import ToolKind

    cwd = Path.cwd()
    places = ", ".join(_display(p, cwd) for p in where) or "the project"
    python_files = any(
        p.suffix == ".py" for d in where if d.is_dir() for p in d.iterdir() if p.is_file()
    )
    hint = "pass the migration files or directories, or set [migrations] directory in spectral.toml"
    if kind is ToolKind.SQL and python_files:
        hint = (
            "these are Python files: for Alembic or Django revisions set [migrations] tool "
            '= "alembic" or "django" in spectral.toml'
        )
    return InputError(f"no migrations to lint in {places} ({what})", hint=hint)


def _stdin() -> LintFile:
    import sys

    from spectral_deploy.lint.engine import LintFile

    return LintFile(Path("-"), "<stdin>", text=sys.stdin.buffer.read())


def _database_url(config: Config) -> str | None:
    """The database a tool that needs one (Django's sqlmigrate) renders against."""
    url = os.environ.get("DATABASE_URL") or config.database.url
    if url:
        return url
    from spectral_deploy.db.connect import resolve_url

    return resolve_url(config)


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
