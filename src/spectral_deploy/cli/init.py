"""``spectral-deploy init``: a commented spectral.toml and the runbook's GitHub workflow files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spectral_deploy.cli import console
from spectral_deploy.config import DeployConfig
from spectral_deploy.errors import CheckFailed
from spectral_deploy.scaffold import (
    SECRETS,
    FileResult,
    Flavour,
    Outcome,
    ScaffoldFile,
    Settings,
    detect_repository,
    ensure_ignored,
    git_toplevel,
    pyproject_configures_spectral,
    render,
    secrets_used,
    write_files,
)
from spectral_deploy.scaffold.install import installed_source, parse_install
from spectral_deploy.scaffold.stack import detect_stack, first_release_tag

__all__ = ["init"]


def init(
    provider: Annotated[
        Flavour,
        typer.Option(
            "--provider",
            help="local: the sandbox on this machine (spectral.toml and the pull-request lint "
            "workflow); render-cloudflare: production on Render, Cloudflare, GitHub, Slack and "
            "Sentry, with the deploy, CNAME flip and nightly backup workflows.",
        ),
    ] = Flavour.LOCAL,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite files that exist with other content.")
    ] = False,
    migrations_dir: Annotated[
        str | None,
        typer.Option(
            "--migrations-dir",
            metavar="DIR",
            help="Where the app's migrations live (default: found: Alembic's versions "
            "directory, a Django app's migrations package, else the first of "
            "supabase/migrations, db/migrations, migrations that exists, else migrations).",
        ),
    ] = None,
    repository: Annotated[
        str | None,
        typer.Option(
            "--repository",
            metavar="OWNER/NAME",
            help="The GitHub repository for [vcs] (default: the origin remote's, if on GitHub).",
        ),
    ] = None,
    install: Annotated[
        str | None,
        typer.Option(
            "--install",
            metavar="SOURCE",
            help="Where the workflows install spectral-deploy from, pinned: a wheel URL with "
            "#sha256=HEX, a spectral_deploy-*.whl in this repository (its sha256 is computed), "
            "or git+https://HOST/OWNER/REPO@COMMIT (a full commit). Default: the pinned source "
            "this spectral-deploy was installed from, if pip recorded one; never a package name.",
        ),
    ] = None,
) -> None:
    """Write a commented spectral.toml and the GitHub workflow files the runbook names, in
    the current directory, and add .spectral/ to .gitignore. Files that exist are left
    alone unless --force.

    It looks at the app first: Alembic (alembic.ini), Django (manage.py) or plain .sql
    migrations, and a virtualenv (.venv/bin/python), and writes the matching \\[migrations]
    and \\[hosting] settings. Run it at the root of the app's repository.

    Example: spectral-deploy init --provider render-cloudflare
    """
    root = Path.cwd()
    stack = detect_stack(root)
    source = parse_install(install, root) if install is not None else installed_source()
    settings = Settings(
        flavour=provider,
        migrations_dir=migrations_dir or stack.migrations_dir or "migrations",
        repository=detect_repository(root) if repository is None else repository,
        migrations_tool=stack.tool,
        python=stack.python,
        web_command=stack.web_command,
        install=source,
    ).validated()
    files = render(settings)
    console.info(f"found: {stack.summary}")
    results = write_files(root, files, force=force)
    ignored = ensure_ignored(root)

    _report(results)
    console.info(f"{_GITIGNORE_VERBS[ignored]:<10} .gitignore  .spectral/ (local state) is ignored")
    if source is not None:
        console.info(f"the workflows install spectral-deploy from {source.describe()}")
    else:
        console.warn(
            "no pinned source to install spectral-deploy from: the lint workflow's install step "
            "fails until you choose one (spectral-deploy init --install SOURCE --force)"
        )
    toplevel = git_toplevel(root)
    if toplevel is not None and toplevel.resolve() != root.resolve():
        console.warn(
            f"GitHub reads .github/ only at the repository's root ({toplevel}); "
            "run spectral-deploy init there, or move .github/"
        )
    if pyproject_configures_spectral(root):
        console.warn(
            "pyproject.toml has [tool.spectral-deploy]: spectral.toml in the same directory "
            "takes precedence over it"
        )
    console.info("")
    for line in _next_steps(settings, files, root):
        console.info(line)

    skipped = [r.file.path.as_posix() for r in results if r.outcome is Outcome.SKIPPED]
    if skipped:
        raise CheckFailed(
            f"{len(skipped)} file(s) exist with other content and were not overwritten: "
            + ", ".join(skipped),
            hint=f"spectral-deploy init --provider {settings.flavour} --force  "
            "(replaces them: commit or copy your changes first)",
        )


_GITIGNORE_VERBS = {
    Outcome.WRITTEN: "wrote",
    Outcome.OVERWRITTEN: "updated",
    Outcome.UNCHANGED: "unchanged",
}
_VERBS = {
    Outcome.WRITTEN: "wrote",
    Outcome.OVERWRITTEN: "overwrote",
    Outcome.UNCHANGED: "unchanged",
    Outcome.SKIPPED: "skipped",
}


def _report(results: list[FileResult]) -> None:
    width = max(len(r.file.path.as_posix()) for r in results)
    for result in results:
        note = result.file.purpose
        if result.outcome is Outcome.SKIPPED:
            note = "exists with other content; --force overwrites it"
        console.info(f"{_VERBS[result.outcome]:<10} {result.file.path.as_posix():<{width}}  {note}")


def _next_steps(settings: Settings, files: tuple[ScaffoldFile, ...], root: Path) -> list[str]:
    tag, latest = first_release_tag(root, DeployConfig().release_tag_pattern)
    before = f" ({latest} predates the adoption)" if latest else ""
    release = [
        "git add spectral.toml .gitignore .github && git commit -m 'Adopt spectral-deploy'",
        f"git tag {tag}{before}: the first release to deploy is one that includes this commit",
    ]
    lint = _lint_step(settings)
    if settings.flavour is Flavour.LOCAL:
        hosting = "[hosting] web_command and worker_app: how blue and green run your app"
        if not settings.python:
            hosting += ", and python: your app's virtualenv interpreter"
        return [
            "next steps:",
            f"  1. in spectral.toml, set {hosting}",
            f"  2. {lint}",
            f"  3. {release[0]}",
            f"  4. {release[1]}",
            f"  5. spectral-deploy deploy {tag}   the first deploy, on this machine (the embedded "
            "PostgreSQL starts by itself); spectral-deploy logs shows what the app printed",
            "  6. push .github/: every pull request that adds a migration is linted (no "
            "secrets needed)",
            "for production: spectral-deploy init --provider render-cloudflare --force",
        ]
    used = secrets_used(files)
    what = {secret.name: secret.what for secret in SECRETS}
    width = max(len(name) for name in used)
    lines = [
        "next steps:",
        "  1. fill in the empty values in spectral.toml: Render service ids and URLs, the "
        "Cloudflare zone and record, the GitHub repository, Sentry organization and project, "
        "backup storage and age recipients",
        "  2. set these secrets in GitHub (Settings > Secrets and variables > Actions, or "
        "`gh secret set NAME`); GITHUB_TOKEN is provided by Actions:",
    ]
    for name, paths in used.items():
        workflows = ", ".join(sorted({path.name for path in paths}))
        lines.append(f"       {name:<{width}}  {what.get(name, '')}  ({workflows})")
    lines += [
        f"  3. {lint}",
        f"  4. {release[0]}",
        f"  5. {release[1]}, then release it: git push origin {tag}",
        "     (a Class 3 rollback dispatches deploy-prod.yml and waits for it: "
        "spectral-deploy rollback run; --here runs it in-process)",
        "  6. on Supabase, DATABASE_URL is the session pooler (port 5432), never the "
        "transaction pooler (6543); docs/production.md",
    ]
    return lines


def _lint_step(settings: Settings) -> str:
    where = settings.migrations_dir
    if settings.migrations_tool == "alembic":
        return (
            f"spectral-deploy lint   lint the Alembic revisions in {where}/ (as the SQL "
            "alembic upgrade --sql renders, in the app's interpreter)"
        )
    if settings.migrations_tool == "django":
        return (
            "spectral-deploy lint   lint the project's Django migrations (as manage.py "
            "sqlmigrate prints them, in the app's interpreter)"
        )
    return f"spectral-deploy lint   lint the migrations in {where}/"
