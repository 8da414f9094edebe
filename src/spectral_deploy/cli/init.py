"""``spectral-deploy init``: a commented spectral.toml and the runbook's GitHub workflow files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spectral_deploy.cli import console
from spectral_deploy.errors import CheckFailed
from spectral_deploy.scaffold import (
    SECRETS,
    FileResult,
    Flavour,
    Outcome,
    ScaffoldFile,
    Settings,
    detect_migrations_dir,
    detect_repository,
    git_toplevel,
    pyproject_configures_spectral,
    render,
    secrets_used,
    write_files,
)
from spectral_deploy.scaffold.install import installed_source, parse_install

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
            help="The app's .sql migrations (default: the first of supabase/migrations, "
            "db/migrations, migrations that exists, else migrations).",
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
    the current directory. Files that exist are left alone unless --force.

    Example: spectral-deploy init --provider render-cloudflare
    """
    root = Path.cwd()
    source = parse_install(install, root) if install is not None else installed_source()
    settings = Settings(
        flavour=provider,
        migrations_dir=migrations_dir or detect_migrations_dir(root) or "migrations",
        repository=detect_repository(root) if repository is None else repository,
        install=source,
    ).validated()
    files = render(settings)
    results = write_files(root, files, force=force)

    _report(results)
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
    for line in _next_steps(settings, files):
        console.info(line)

    skipped = [r.file.path.as_posix() for r in results if r.outcome is Outcome.SKIPPED]
    if skipped:
        raise CheckFailed(
            f"{len(skipped)} file(s) exist with other content and were not overwritten: "
            + ", ".join(skipped),
            hint=f"spectral-deploy init --provider {settings.flavour} --force  "
            "(replaces them: commit or copy your changes first)",
        )


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


def _next_steps(settings: Settings, files: tuple[ScaffoldFile, ...]) -> list[str]:
    if settings.flavour is Flavour.LOCAL:
        return [
            "next steps:",
            "  1. in spectral.toml, set [hosting] web_command and worker_app: how blue and "
            "green run your app",
            f"  2. spectral-deploy lint                lint the migrations in "
            f"{settings.migrations_dir}/",
            "  3. spectral-deploy deploy v1.0.0       deploy a tag of this repository on this "
            "machine (the embedded PostgreSQL starts by itself)",
            "  4. commit .github/: every pull request that adds a migration is linted (no "
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
        "  3. on Supabase, DATABASE_URL is the session pooler (port 5432), never the "
        "transaction pooler (6543); docs/production.md",
        "  4. commit spectral.toml and .github/, then release: "
        "git tag v1.0.0 && git push origin v1.0.0",
        "     (a Class 3 rollback dispatches deploy-prod.yml and waits for it: "
        "spectral-deploy rollback run; --here runs it in-process)",
    ]
    return lines
