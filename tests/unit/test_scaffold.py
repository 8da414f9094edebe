"""What `spectral-deploy init` renders: the files of each flavour, their config and workflows."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from spectral_deploy.config import Config, DeployConfig, VcsConfig, load_config
from spectral_deploy.errors import UsageError
from spectral_deploy.providers import REGISTRY
from spectral_deploy.scaffold import (
    SECRETS,
    Flavour,
    Outcome,
    ScaffoldFile,
    Settings,
    detect_migrations_dir,
    git_toplevel,
    pyproject_configures_spectral,
    render,
    secrets_used,
    write_files,
)
from spectral_deploy.scaffold.install import InstallKind, InstallSource
from spectral_deploy.scaffold.render import (
    ACTION_PATH,
    CNAME_FLIP_WORKFLOW,
    CODEOWNERS_PATH,
    CONFIG_PATH,
    DEPLOY_FINISH_WORKFLOW,
    DEPLOY_WORKFLOW,
    MIGRATION_LINT_WORKFLOW,
    NIGHTLY_BACKUP_WORKFLOW,
    github_repository,
)

PINNED = InstallSource(
    InstallKind.GIT, "https://github.com/acme/spectral-deploy", "0123456789abcdef" * 2 + "01234567"
)
PRODUCTION = Settings(Flavour.RENDER_CLOUDFLARE, repository="acme/shop", install=PINNED)
COMMENTED_KEY = re.compile(r"^# ([a-z_]+) = (.*)$")
SECTION = re.compile(r"^\[([a-z_]+)\]$", re.MULTILINE)
# the secrets the runbook's production stack needs, as the deploy reads them
DEPLOY_SECRETS = {
    "DATABASE_URL",
    "CLOUDFLARE_API_TOKEN",
    "RENDER_API_KEY",
    "GITHUB_TOKEN",
    "SLACK_WEBHOOK_URL",
    "SENTRY_AUTH_TOKEN",
}
# the vendor providers come with issue 8, built on another branch
VENDOR_PROVIDERS = {"render", "cloudflare", "github", "slack", "sentry"}


def files_of(settings: Settings) -> dict[PurePosixPath, str]:
    if settings.flavour is Flavour.RENDER_CLOUDFLARE and settings.install is None:
        settings = dataclasses.replace(settings, install=PINNED)
    return {file.path: file.content for file in render(settings)}


def workflow(settings: Settings, path: PurePosixPath) -> dict[str, Any]:
    # BaseLoader keeps every scalar a string, so the key `on` stays "on" (YAML 1.1 says True)
    data = yaml.load(files_of(settings)[path], Loader=yaml.BaseLoader)
    assert isinstance(data, dict)
    return data


def steps_running(data: dict[str, Any], text: str) -> list[dict[str, Any]]:
    return [
        step
        for job in data["jobs"].values()
        for step in job["steps"]
        if text in step.get("run", "")
    ]


def load_rendered_config(tmp_path: Path, text: str) -> Config:
    (tmp_path / "spectral.toml").write_text(text, encoding="utf-8")
    return load_config(cwd=tmp_path, environ={})


@pytest.mark.parametrize(
    ("flavour", "paths"),
    [
        (Flavour.LOCAL, [CONFIG_PATH, MIGRATION_LINT_WORKFLOW, CODEOWNERS_PATH]),
        (
            Flavour.RENDER_CLOUDFLARE,
            [
                CONFIG_PATH,
                DEPLOY_WORKFLOW,
                DEPLOY_FINISH_WORKFLOW,
                ACTION_PATH,
                CNAME_FLIP_WORKFLOW,
                MIGRATION_LINT_WORKFLOW,
                CODEOWNERS_PATH,
                NIGHTLY_BACKUP_WORKFLOW,
            ],
        ),
    ],
)
def test_each_flavour_renders_its_files_config_first(flavour: Flavour, paths: list[Any]) -> None:
    """Local gets the config, the PR lint and CODEOWNERS; production adds deploy, scheduled
    finish, flip, action and backup."""
    assert list(files_of(Settings(flavour))) == paths


@pytest.mark.parametrize("flavour", list(Flavour))
def test_no_placeholder_is_left_unfilled(flavour: Flavour) -> None:
    """Every @name@ in the templates is replaced."""
    for path, text in files_of(Settings(flavour)).items():
        assert not re.search(r"@[a-z_]+@", text), path


@pytest.mark.parametrize("flavour", list(Flavour))
def test_no_workflow_installs_spectral_deploy_by_name(flavour: Flavour) -> None:
    """Finding 7: no `pip install spectral-deploy[==V]` (a name anyone may register): every
    workflow installs the pinned source, right after setup-python."""
    for path, text in files_of(Settings(flavour)).items():
        for line in text.splitlines():
            if "pip install" in line and "spectral-deploy" in line:
                assert "spectral-deploy @ git+" in line, (path, line)
        if path.suffix != ".yml" or path == ACTION_PATH:
            continue
        steps = [
            s for job in workflow(Settings(flavour), path)["jobs"].values() for s in job["steps"]
        ]
        installs = [s for s in steps if s.get("name", "").startswith("Install spectral-deploy")]
        assert len(installs) == 1, path
        if flavour is Flavour.RENDER_CLOUDFLARE:
            assert f"git+{PINNED.location}@{PINNED.pin}" in installs[0]["run"], path


def test_production_needs_a_pinned_source() -> None:
    """The workflows that run beside the production secrets are never written without one."""
    with pytest.raises(UsageError, match="install spectral-deploy from") as caught:
        render(Settings(Flavour.RENDER_CLOUDFLARE, repository="acme/shop"))
    assert "--install" in (caught.value.hint or "")


def test_local_without_a_source_writes_an_install_step_that_fails_safe() -> None:
    """The sandbox's lint workflow without a pinned source stops with an error, never installs
    a name."""
    data = workflow(Settings(Flavour.LOCAL), MIGRATION_LINT_WORKFLOW)
    (step,) = [s for s in data["jobs"]["compat-lint"]["steps"] if "Install" in s.get("name", "")]
    assert "::error::" in step["run"] and "exit 1" in step["run"]
    assert "pip" not in step["run"]


@pytest.mark.parametrize(
    "path",
    [DEPLOY_WORKFLOW, DEPLOY_FINISH_WORKFLOW, CNAME_FLIP_WORKFLOW, NIGHTLY_BACKUP_WORKFLOW],
)
def test_every_production_workflow_checks_its_secrets_first(path: PurePosixPath) -> None:
    """Finding 1: an unset secret is an empty string; the first step stops the run on it,
    before anything is installed or run, naming each secret the workflow reads."""
    data = workflow(PRODUCTION, path)
    (job,) = data["jobs"].values()
    first = job["steps"][0]
    assert first["name"].startswith("Check the secret")
    assert "exit 1" in first["run"]
    checked = set(first["env"])
    for name in checked:
        assert first["env"][name] == f"${{{{ secrets.{name} }}}}"
        assert name in first["run"]
    if path != CNAME_FLIP_WORKFLOW:  # the flip checks only what the flip itself needs
        needed = set(secrets_used([ScaffoldFile(path, "", files_of(PRODUCTION)[path])]))
        assert needed <= checked


def test_the_deploy_workflow_finishes_the_hold_window_and_skips_claimed_rollback_tags() -> None:
    """Finding 4 and 8: deploy --trigger (a push run leaves a rollback tag to its rollback),
    then deploy finish --when-due; before the deploy, the previous one is finished if due."""
    data = workflow(PRODUCTION, DEPLOY_WORKFLOW)
    runs = [step.get("run", "") for step in data["jobs"]["deploy"]["steps"]]
    deploy = runs.index(
        'spectral-deploy deploy "$TAG" --trigger "$EVENT" --watch-seconds "$WATCH_SECONDS"'
    )
    finishes = [
        i for i, run in enumerate(runs) if run == "spectral-deploy deploy finish --when-due --yes"
    ]
    assert finishes[0] < deploy < finishes[-1]
    assert runs.index("spectral-deploy db init") < deploy
    (step,) = steps_running(data, 'spectral-deploy deploy "$TAG"')
    assert step["env"]["EVENT"] == "${{ github.event_name }}"


def test_the_finish_workflow_runs_on_a_schedule_outside_the_deploy_group() -> None:
    """Finding 4: every 15 minutes and on dispatch, deploy finish --when-due --yes; its own
    concurrency group (a queued finish must never replace a pending deploy)."""
    data = workflow(PRODUCTION, DEPLOY_FINISH_WORKFLOW)
    assert data["on"]["schedule"] == [{"cron": "*/15 * * * *"}]
    assert "workflow_dispatch" in data["on"]
    assert (
        data["concurrency"]["group"]
        != workflow(PRODUCTION, DEPLOY_WORKFLOW)["concurrency"]["group"]
    )
    (step,) = steps_running(data, "deploy finish")
    assert step["run"] == "spectral-deploy deploy finish --when-due --yes"


def test_the_flip_workflow_has_its_own_environment_and_completes_class_2() -> None:
    """Finding 10: required reviewers of `production` never hold up the flip back; after the
    flip, the rest of Class 2 runs only when the target is the slot the open deploy replaced."""
    data = workflow(PRODUCTION, CNAME_FLIP_WORKFLOW)
    deploy = workflow(PRODUCTION, DEPLOY_WORKFLOW)
    assert data["jobs"]["flip"]["environment"] != deploy["jobs"]["deploy"]["environment"]
    (rest,) = steps_running(data, "rollback run --symptom behavior")
    assert rest["if"] == "inputs.complete-rollback"
    assert 'deploy["blue"]' in rest["run"] and '"$previous" != "$TARGET"' in rest["run"]


def test_the_backup_installs_the_client_of_the_servers_major_version() -> None:
    """Finding 6: the major version comes from the server; the PGDG source is added back
    before postgresql-client-<major> is installed and put on PATH; no fixed PG_MAJOR."""
    text = files_of(PRODUCTION)[NIGHTLY_BACKUP_WORKFLOW]
    assert "PG_MAJOR" not in text
    data = workflow(PRODUCTION, NIGHTLY_BACKUP_WORKFLOW)
    (step,) = steps_running(data, "db server-version")
    lines = step["run"].splitlines()
    assert lines[0] == 'major="$(spectral-deploy db server-version)"'
    pgdg = next(i for i, line in enumerate(lines) if "apt.postgresql.org.sh" in line)
    client = next(i for i, line in enumerate(lines) if 'postgresql-client-$major"' in line)
    assert pgdg < client
    assert '"$GITHUB_PATH"' in step["run"]
    assert step["env"] == {"DATABASE_URL": "${{ secrets.DATABASE_URL }}"}


def test_the_deploy_workflow_has_the_name_rollbacks_dispatch() -> None:
    """vcs.deploy_workflow (what a Class 3 rollback dispatches) names the generated file."""
    assert DEPLOY_WORKFLOW.name == VcsConfig().deploy_workflow == "deploy-prod.yml"


@pytest.mark.parametrize("flavour", list(Flavour))
def test_generated_config_loads(flavour: Flavour, tmp_path: Path) -> None:
    """The generated spectral.toml is accepted by load_config, with the chosen values."""
    settings = Settings(flavour, migrations_dir="db/migrations", repository="acme/shop")
    config = load_rendered_config(tmp_path, files_of(settings)[CONFIG_PATH])
    assert config.source == str(tmp_path / "spectral.toml")
    assert config.migrations.directory == Path("db/migrations")
    if flavour is Flavour.LOCAL:
        assert (config.hosting.provider, config.dns.provider) == ("local", "local")
        assert config.vcs.provider == "git"
    else:
        assert (config.hosting.provider, config.dns.provider) == ("render", "cloudflare")
        assert (config.vcs.provider, config.vcs.repository) == ("github", "acme/shop")
        assert (config.notify.chat, config.notify.release_notes) == ("slack", "github")
        assert config.errors.provider == "sentry"
        assert (config.dns.ttl, config.dns.proxied) == (60, False)


@pytest.mark.parametrize("flavour", list(Flavour))
def test_every_commented_key_is_a_real_key(flavour: Flavour, tmp_path: Path) -> None:
    """Uncommenting every `# key = value` line still loads: no documented key has drifted."""
    lines = files_of(Settings(flavour))[CONFIG_PATH].splitlines()
    uncommented = [COMMENTED_KEY.sub(r"\1 = \2", line) for line in lines]
    assert sum(a != b for a, b in zip(lines, uncommented, strict=True)) >= 20
    load_rendered_config(tmp_path, "\n".join(uncommented) + "\n")


@pytest.mark.parametrize("flavour", list(Flavour))
def test_config_documents_every_section_the_tool_reads(flavour: Flavour) -> None:
    """Each section of Config has its table in the generated file, in no other spelling."""
    sections = SECTION.findall(files_of(Settings(flavour))[CONFIG_PATH])
    known = {f.name for f in dataclasses.fields(Config)} - {"project_root", "source"}
    assert sorted(sections) == sorted(known)


@pytest.mark.parametrize("flavour", list(Flavour))
def test_config_names_secrets_only_in_comments(flavour: Flavour) -> None:
    """Secrets are environment variables: the config mentions them, never assigns them."""
    text = files_of(Settings(flavour))[CONFIG_PATH]
    names = {secret.name for secret in SECRETS} | DEPLOY_SECRETS
    for line in text.splitlines():
        code = line.split("#", 1)[0]
        for name in names:
            assert name not in code, line
        assert not re.search(r"(token|password|secret|api_key)\s*=", code, re.IGNORECASE), line
    if flavour is Flavour.RENDER_CLOUDFLARE:
        assert all(name in text for name in DEPLOY_SECRETS)


def provider_choices() -> list[tuple[str, str]]:
    """(registry kind, provider name) of every provider a generated config chooses."""
    pairs = set()
    for flavour in Flavour:
        data = tomllib.loads(files_of(Settings(flavour))[CONFIG_PATH])
        pairs |= {
            ("hosting", data["hosting"]["provider"]),
            ("dns", data["dns"]["provider"]),
            ("vcs", data["vcs"]["provider"]),
            ("chat", data["notify"]["chat"]),
            ("release_notes", data["notify"]["release_notes"]),
            ("error_rate", data["errors"]["provider"]),
        }
    return sorted(pairs)


@pytest.mark.parametrize(("kind", "name"), provider_choices())
def test_config_chooses_registered_providers(kind: str, name: str) -> None:
    """Each provider the generated config names is one the registry knows."""
    if name not in REGISTRY[kind] and name in VENDOR_PROVIDERS:
        pytest.skip(f"the {name} provider is added by the vendor-providers branch (issue 8)")
    assert name in REGISTRY[kind]


def test_every_secret_the_workflows_use_is_described() -> None:
    """The next steps list exactly the secrets the workflows read (GITHUB_TOKEN is Actions')."""
    used = secrets_used(render(PRODUCTION))
    assert set(used) == {secret.name for secret in SECRETS}
    assert used["DATABASE_URL"] == (
        DEPLOY_WORKFLOW,
        DEPLOY_FINISH_WORKFLOW,
        CNAME_FLIP_WORKFLOW,
        NIGHTLY_BACKUP_WORKFLOW,
    )
    assert ACTION_PATH not in used["CLOUDFLARE_API_TOKEN"]


def test_deploy_workflow_runs_on_release_tags_and_dispatch() -> None:
    """Tags matching deploy.release_tag_pattern, and workflow_dispatch with a required tag."""
    data = workflow(PRODUCTION, DEPLOY_WORKFLOW)
    assert data["on"]["push"]["tags"] == [DeployConfig().release_tag_pattern]
    tag = data["on"]["workflow_dispatch"]["inputs"]["tag"]
    assert (tag["required"], tag["type"]) == ("true", "string")
    assert data["concurrency"] == {"group": "deploy-prod", "cancel-in-progress": "false"}


def test_deploy_workflow_checks_out_the_tag_with_history_and_deploys_it() -> None:
    """Checkout of the dispatched or pushed tag, full history, lint --base, then deploy $TAG."""
    data = workflow(PRODUCTION, DEPLOY_WORKFLOW)
    job = data["jobs"]["deploy"]
    assert job["env"]["TAG"] == "${{ inputs.tag || github.ref_name }}"
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"] == {
        "ref": "refs/tags/${{ inputs.tag || github.ref_name }}",
        "fetch-depth": "0",
    }
    (lint,) = steps_running(data, "spectral-deploy lint")
    assert '--base "$previous" --format github' in lint["run"]
    (deploy,) = steps_running(data, 'spectral-deploy deploy "$TAG"')
    assert {name for name in deploy["env"]} == DEPLOY_SECRETS | {"EVENT"}
    for name, value in deploy["env"].items():
        if name != "EVENT":
            assert value == f"${{{{ secrets.{name} }}}}"


def test_migration_lint_workflow_watches_the_migrations_directory() -> None:
    """Pull requests touching the configured directory; --base origin/<target> --format github,
    and overrides need signoff (--require-signoff the pull request, with the label)."""
    data = workflow(Settings(migrations_dir="supabase/migrations"), MIGRATION_LINT_WORKFLOW)
    assert data["on"]["pull_request"]["paths"] == ["supabase/migrations/**"]
    (step,) = steps_running(data, "spectral-deploy lint")
    assert step["run"] == (
        'spectral-deploy lint --base "origin/$BASE_REF" --format github '
        '--require-signoff "$PR_NUMBER" --signoff-label "$SIGNOFF_LABEL"'
    )
    assert step["env"] == {
        "BASE_REF": "${{ github.event.pull_request.base.ref }}",
        "PR_NUMBER": "${{ github.event.pull_request.number }}",
        "SIGNOFF_LABEL": "compat-breaking-approved",
        "GITHUB_TOKEN": "${{ github.token }}",
    }


def test_the_signoff_gate_runs_again_on_reviews_and_labels() -> None:
    """An approval or a label must re-run the gate; it may only read pull requests."""
    data = workflow(Settings(), MIGRATION_LINT_WORKFLOW)
    assert set(data["on"]["pull_request"]["types"]) >= {"synchronize", "labeled", "unlabeled"}
    assert data["on"]["pull_request_review"]["types"] == ["submitted", "dismissed"]
    assert data["permissions"] == {"contents": "read", "pull-requests": "read"}


def test_codeowners_gives_the_migrations_directory_to_the_repository_owner() -> None:
    """A CODEOWNERS line for the migrations directory; commented out when no owner is known."""
    known = files_of(Settings(migrations_dir="db/migrations", repository="acme/shop"))
    assert "\n/db/migrations/ @acme\n" in known[CODEOWNERS_PATH]
    unknown = files_of(Settings(migrations_dir="db/migrations"))[CODEOWNERS_PATH]
    assert "# /db/migrations/ @your-github-user" in unknown
    assert not [line for line in unknown.splitlines() if line and not line.startswith("#")]


def test_nightly_backup_runs_backup_then_verifies_the_latest() -> None:
    """A schedule and dispatch; backup run with DATABASE_URL, then verify --latest with a key."""
    data = workflow(PRODUCTION, NIGHTLY_BACKUP_WORKFLOW)
    assert data["on"]["schedule"] == [{"cron": "17 3 * * *"}]
    assert "workflow_dispatch" in data["on"]
    runs = [step.get("run", "") for step in data["jobs"]["backup"]["steps"]]
    backup = runs.index("spectral-deploy backup run")
    verify = next(i for i, run in enumerate(runs) if "backup verify --latest --identity" in run)
    assert backup < verify


def test_composite_action_points_the_cname_with_its_inputs() -> None:
    """Inputs target, ttl (60) and the token; it runs dns point TARGET --ttl TTL --yes."""
    data = workflow(PRODUCTION, ACTION_PATH)
    assert data["runs"]["using"] == "composite"
    assert set(data["inputs"]) == {"target", "ttl", "cloudflare-api-token"}
    assert data["inputs"]["ttl"]["default"] == "60"
    (step,) = [s for s in data["runs"]["steps"] if "dns point" in s["run"]]
    assert step["run"] == 'spectral-deploy dns point "$TARGET" --ttl "$TTL" --yes'
    assert step["env"]["CLOUDFLARE_API_TOKEN"] == "${{ inputs.cloudflare-api-token }}"


def test_cname_flip_workflow_uses_the_action_outside_the_deploy_group() -> None:
    """The Class 2 flip back never waits behind a deploy watching its hold window."""
    data = workflow(PRODUCTION, CNAME_FLIP_WORKFLOW)
    assert (
        data["concurrency"]["group"]
        != workflow(PRODUCTION, DEPLOY_WORKFLOW)["concurrency"]["group"]
    )
    uses = [s["uses"] for s in data["jobs"]["flip"]["steps"] if "uses" in s]
    assert f"./{ACTION_PATH.parent}" in uses


@pytest.mark.parametrize(
    ("given", "expected"),
    [("./db/migrations/", "db/migrations"), ("migrations", "migrations"), (" sql ", "sql")],
)
def test_migrations_dir_is_normalised(given: str, expected: str) -> None:
    """A leading ./ and trailing / are dropped before the directory goes into TOML and YAML."""
    assert Settings(migrations_dir=given).validated().migrations_dir == expected


@pytest.mark.parametrize(
    "bad", ["/abs/path", "../up", "db/../x", "mig rations", 'a"b', "db/*", "", "a\nb"]
)
def test_migrations_dir_that_would_break_the_files_is_refused(bad: str) -> None:
    """Absolute, parent, glob or quoting characters are a usage error (exit 2)."""
    with pytest.raises(UsageError, match="--migrations-dir"):
        render(Settings(migrations_dir=bad))


@pytest.mark.parametrize("bad", ["acme", "acme/shop/x", "acme/sh op", 'a"/b'])
def test_repository_must_be_owner_slash_name(bad: str) -> None:
    """--repository takes OWNER/NAME and nothing else."""
    with pytest.raises(UsageError, match="OWNER/NAME"):
        render(Settings(Flavour.RENDER_CLOUDFLARE, repository=bad))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("git@github.com:acme/shop.git", "acme/shop"),
        ("https://github.com/acme/shop.git\n", "acme/shop"),
        ("https://github.com/acme/shop", "acme/shop"),
        ("ssh://git@github.com/acme/shop.js.git", "acme/shop.js"),
        ("https://x-access-token:ghs_abc@github.com/acme/shop.git", "acme/shop"),
        ("https://gitlab.com/acme/shop.git", ""),
        ("git@github.com.evil.example:acme/shop.git", ""),
        ("", ""),
    ],
)
def test_github_repository_from_remote_url(url: str, expected: str) -> None:
    """owner/name from GitHub remotes (never their credentials); empty for other hosts."""
    assert github_repository(url) == expected


def test_write_files_creates_skips_and_overwrites(tmp_path: Path) -> None:
    """New files are written; identical ones unchanged; different ones skipped unless force."""
    files = [
        ScaffoldFile(PurePosixPath("a.toml"), "a", "one\n"),
        ScaffoldFile(PurePosixPath(".github/workflows/b.yml"), "b", "two\n"),
    ]
    first = write_files(tmp_path, files, force=False)
    assert [r.outcome for r in first] == [Outcome.WRITTEN, Outcome.WRITTEN]
    assert (tmp_path / ".github/workflows/b.yml").read_text() == "two\n"

    (tmp_path / "a.toml").write_text("mine\n")
    second = write_files(tmp_path, files, force=False)
    assert [r.outcome for r in second] == [Outcome.SKIPPED, Outcome.UNCHANGED]
    assert (tmp_path / "a.toml").read_text() == "mine\n"

    third = write_files(tmp_path, files, force=True)
    assert [r.outcome for r in third] == [Outcome.OVERWRITTEN, Outcome.UNCHANGED]
    assert (tmp_path / "a.toml").read_text() == "one\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".github", "a.toml"]  # no temp files


def test_migrations_dir_is_detected_most_specific_first(tmp_path: Path) -> None:
    """supabase/migrations before db/migrations before migrations; none when none exists."""
    assert detect_migrations_dir(tmp_path) is None
    (tmp_path / "migrations").mkdir()
    assert detect_migrations_dir(tmp_path) == "migrations"
    (tmp_path / "supabase" / "migrations").mkdir(parents=True)
    assert detect_migrations_dir(tmp_path) == "supabase/migrations"


def test_project_facts_git_root_and_pyproject_table(tmp_path: Path) -> None:
    """The work tree above a subdirectory is found; a pyproject table of ours is noticed."""
    (tmp_path / ".git").mkdir()
    sub = tmp_path / "app"
    sub.mkdir()
    assert git_toplevel(sub) == tmp_path
    assert not pyproject_configures_spectral(sub)
    (sub / "pyproject.toml").write_text("[tool.spectral-deploy.lint]\njobs = 1\n")
    assert pyproject_configures_spectral(sub)
