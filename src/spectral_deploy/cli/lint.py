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
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from spectral_deploy.cli import console
from spectral_deploy.errors import UsageError

if TYPE_CHECKING:
    from spectral_deploy.config import Config
    from spectral_deploy.lint.engine import LintFile
    from spectral_deploy.lint.schema import Schema
    from spectral_deploy.lint.settings import LintSettings

__all__ = ["HELP", "build_parser", "run"]

HELP = "Check migrations for changes that break the running (N-1) release or take long locks."
EXAMPLES = """\
The earlier migrations of each file's directory are replayed into a schema model first,
so the lint knows the old type of a column, and which tables and columns exist.

Exit codes: 0 clean (overrides allowed), 1 violations (or an override not signed off, with
--require-signoff), 2 a file unreadable, not UTF-8, not parseable, not a regular file, too
large or holding a NUL byte (the other files are still linted).

Examples:
  spectral-deploy lint                                  # the configured migrations directory
  spectral-deploy lint migrations/0042_users.sql        # 0001..0041 are its history
  spectral-deploy lint --base origin/main --format github
  spectral-deploy lint --base origin/main --schema-from env:PROD_DATABASE_URL
  spectral-deploy lint --base origin/main --require-signoff 42   # in the PR workflow
  spectral-deploy lint --ignore create-index-non-concurrently db/migrations
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
        description=HELP + "\n\nPATH may be files or directories (their *.sql files, sorted by "
        "name); with no PATH the configured migrations directory ([migrations] directory) "
        "is linted.",
        epilog=EXAMPLES,
        formatter_class=_Formatter,
        add_help=False,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="migration files or directories")
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
    from spectral_deploy.lint.history import plan
    from spectral_deploy.lint.registry import select_rules
    from spectral_deploy.lint.render import LintFormat, render

    cwd = Path.cwd()
    full = _FullConfig(load_config)
    settings = _settings(full, cwd, needs_full=bool(args.schema_from or args.require_signoff))
    from spectral_deploy.lint.settings import checked_scope

    scope = checked_scope(settings)
    rules = select_rules(
        settings,
        select=_split(args.select),
        ignore=_split(args.ignore),
        source=settings.source,
    )
    roots = [Path(p) for p in args.paths] or [_migrations_dir(settings.migrations_dir)]
    files = _expand(roots, cwd)
    changed: set[Path] | None = None
    if args.base:
        from spectral_deploy.lint.context import changed_files

        changed = changed_files(args.base, roots, cwd)
    schema = _catalog(args.schema_from, full()) if args.schema_from else None
    timelines = plan(
        files,
        changed=changed,
        display=lambda path: _display(path, cwd),
        history=schema is None,
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
    if args.require_signoff is not None:
        from spectral_deploy.lint.signoff import require_signoff

        if not args.base:
            raise UsageError(
                "--require-signoff needs --base: signoff is for the change set of a pull request",
                hint='spectral-deploy lint --base "origin/$BASE_REF" --require-signoff 42',
            )
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


def _migrations_dir(directory: Path) -> Path:
    if not directory.is_dir():
        raise UsageError(
            f"migrations directory {directory} does not exist",
            hint="pass the migration files or directories, or set [migrations] directory "
            "in spectral.toml",
        )
    return directory


def _expand(roots: Sequence[Path], cwd: Path) -> list[LintFile]:
    """Files as given, directories as their ``*.sql`` files sorted by name."""
    from spectral_deploy.lint.engine import LintFile

    files: list[LintFile] = []
    seen: set[str] = set()
    for root in roots:
        if root.is_dir():
            # not only regular files: a FIFO or a device named *.sql is reported, not skipped
            found = sorted(p for p in root.iterdir() if p.suffix == ".sql" and not p.is_dir())
        else:
            found = [root]
        for path in found:
            key = os.path.normpath(path)
            if key not in seen:
                seen.add(key)
                files.append(LintFile(path, _display(path, cwd)))
    return files


def _display(path: Path, cwd: Path) -> str:
    """The path relative to the working directory when inside it, else as given."""
    text = str(path)
    if not path.is_absolute():
        return os.path.normpath(text)
    prefix = str(cwd).rstrip(os.sep) + os.sep
    return text[len(prefix) :] if text.startswith(prefix) else text
