"""The generated GitHub files pass actionlint (with shellcheck on every `run:` script).

actionlint checks workflows, not action metadata, so the composite action is checked three
ways: its action.yml against the GitHub action schema (check-jsonschema's vendored copy of
SchemaStore's), its inputs through the generated cname-flip workflow that uses it (actionlint
reads a local action's metadata and checks the `with:` it is given), and its steps moved
into a reusable workflow with the same inputs, so actionlint and shellcheck see its scripts
and expressions too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from spectral_deploy.scaffold import Flavour, Settings, render, write_files
from spectral_deploy.scaffold.install import InstallKind, InstallSource
from spectral_deploy.scaffold.render import ACTION_PATH, CNAME_FLIP_WORKFLOW

BIN = Path(sys.executable).parent
ACTIONLINT = BIN / "actionlint"
SHELLCHECK = BIN / "shellcheck"
CHECK_JSONSCHEMA = BIN / "check-jsonschema"


@pytest.fixture(scope="module", autouse=True)
def tools() -> None:
    """The checkers come with the dev extras; without them this module fails, never skips."""
    for tool in (ACTIONLINT, SHELLCHECK, CHECK_JSONSCHEMA):
        assert tool.is_file(), f"{tool.name} missing: pip install -e '.[dev]' (make install)"


SOURCES = {
    "git": InstallSource(InstallKind.GIT, "https://github.com/acme/spectral-deploy", "a" * 40),
    "wheel": InstallSource(
        InstallKind.WHEEL_URL,
        "https://example.com/dist/spectral_deploy-0.1.0-py3-none-any.whl",
        "b" * 64,
    ),
    "wheel file": InstallSource(
        InstallKind.WHEEL_FILE, "vendor/spectral_deploy-0.1.0-py3-none-any.whl", "c" * 64
    ),
}


def generate(root: Path, flavour: Flavour, install: str | None = "git") -> list[Path]:
    source = SOURCES[install] if install else None
    files = render(Settings(flavour, repository="acme/shop", install=source))
    write_files(root, files, force=False)
    subprocess.run(["git", "init", "--quiet", str(root)], check=True)  # actionlint's project root
    return [root / file.path for file in files if file.path.suffix == ".yml"]


def actionlint(root: Path, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(ACTIONLINT),
            f"-shellcheck={SHELLCHECK}",
            "-pyflakes=",
            "-oneline",
            "-no-color",
            *(str(path.relative_to(root)) for path in paths),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def load(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize(
    ("flavour", "install"),
    [
        (Flavour.LOCAL, None),
        (Flavour.LOCAL, "wheel"),
        (Flavour.RENDER_CLOUDFLARE, "git"),
        (Flavour.RENDER_CLOUDFLARE, "wheel"),
        (Flavour.RENDER_CLOUDFLARE, "wheel file"),
    ],
)
def test_generated_workflows_pass_actionlint(
    flavour: Flavour, install: str | None, tmp_path: Path
) -> None:
    """Every workflow init writes is clean for actionlint and shellcheck, with each kind of
    pinned install step (and the failing one written without a source)."""
    workflows = [p for p in generate(tmp_path, flavour, install) if p.parent.name == "workflows"]
    assert workflows
    done = actionlint(tmp_path, *workflows)
    assert done.returncode == 0, done.stdout + done.stderr


def test_composite_action_matches_the_action_schema(tmp_path: Path) -> None:
    """action.yml is valid GitHub action metadata (runs.using composite, shell on each step)."""
    generate(tmp_path, Flavour.RENDER_CLOUDFLARE)
    done = subprocess.run(
        [
            str(CHECK_JSONSCHEMA),
            "--builtin-schema",
            "vendor.github-actions",
            str(tmp_path / ACTION_PATH),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_composite_action_steps_pass_actionlint(tmp_path: Path) -> None:
    """The action's steps, run as a reusable workflow with its inputs, are clean too."""
    generate(tmp_path, Flavour.RENDER_CLOUDFLARE)
    action = load(tmp_path / ACTION_PATH)
    inputs = {
        name: {
            "type": "string",
            "required": spec.get("required") == "true",
            **({"default": spec["default"]} if "default" in spec else {}),
        }
        for name, spec in action["inputs"].items()
    }
    as_workflow = {
        "name": "composite action steps",
        "on": {"workflow_call": {"inputs": inputs}},
        "jobs": {"steps": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}},
    }
    path = tmp_path / ".github" / "workflows" / "action-steps.yml"
    path.write_text(json.dumps(as_workflow, indent=2), encoding="utf-8")  # JSON is YAML
    done = actionlint(tmp_path, path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_checks_catch_a_wrong_action_input_and_an_unquoted_variable(tmp_path: Path) -> None:
    """The harness is live: a misspelt action input and an unquoted $VAR are both reported."""
    generate(tmp_path, Flavour.RENDER_CLOUDFLARE)
    flip = tmp_path / CNAME_FLIP_WORKFLOW
    text = flip.read_text(encoding="utf-8")
    assert "          ttl: ${{ inputs.ttl }}\n" in text
    flip.write_text(text.replace("          ttl: ", "          tll: "), encoding="utf-8")
    lint = tmp_path / ".github/workflows/migration-lint.yml"
    lint.write_text(
        lint.read_text().replace('"origin/$BASE_REF"', "origin/$BASE_REF"), encoding="utf-8"
    )
    done = actionlint(tmp_path, flip, lint)
    assert done.returncode == 1
    assert 'input "tll" is not defined in action "cloudflare-cname-flip"' in done.stdout
    assert "SC2086" in done.stdout
