"""A GitHub Actions runner for the generated workflows, enough to run their logic here.

It reads a workflow (or a composite action) as written by ``spectral-deploy init`` and runs
its job the way a runner would: expressions (``${{ secrets.X }}``, ``inputs``, ``github``,
``env``, ``||``, ``&&``, ``==``, ``!``, ``success()``/``failure()``/``always()``) evaluated, ``if:``
honoured, job and step ``env`` layered, each ``run:`` script through ``bash --noprofile
--norc -eo pipefail`` in the project directory, with ``GITHUB_STEP_SUMMARY``, ``GITHUB_OUTPUT``,
``GITHUB_PATH``, ``GITHUB_ENV`` and ``RUNNER_TEMP``; a failing step skips the rest unless its
``if:`` says otherwise. Local composite actions (``uses: ./...``) run their steps with their
inputs.

What needs the network is played, not run: ``actions/checkout`` (the project directory is
the checkout; a tag missing from it is created at the commit the VCS fake names),
``actions/setup-python`` (this interpreter), Google's auth action, and the step that installs
spectral-deploy (the one under test is already on PATH; the step's script is kept so a test
can check it installs the pinned source). Steps that install system packages (``apt-get``)
are refused: a test never runs them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["JobResult", "StepResult", "WorkflowRunner", "evaluate"]

_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<op>\|\||&&|==|!=|!|\(|\))|(?P<name>[A-Za-z_][\w.\-]*(?:\(\))?))"
)


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """A GitHub expression's value (the subset the generated workflows use)."""
    tokens: list[tuple[str, str]] = []
    position = 0
    text = expression.strip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            raise ValueError(f"cannot read expression {expression!r} at {text[position:]!r}")
        kind = found.lastgroup or ""
        tokens.append((kind, found.group(kind)))
        position = found.end()
    parser = _Parser(tokens, context)
    value = parser.either()
    if parser.index != len(tokens):
        raise ValueError(f"trailing tokens in {expression!r}")
    return value


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], context: Mapping[str, Any]) -> None:
        self.tokens = tokens
        self.context = context
        self.index = 0

    def _peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def either(self) -> Any:
        value = self.both()
        while self._peek() == "||":
            self.index += 1
            other = self.both()
            value = value if _truthy(value) else other
        return value

    def both(self) -> Any:
        value = self.compare()
        while self._peek() == "&&":
            self.index += 1
            other = self.compare()
            value = other if _truthy(value) else value
        return value

    def compare(self) -> Any:
        value = self.unary()
        if self._peek() in ("==", "!="):
            op = self._peek()
            self.index += 1
            other = self.unary()
            same = str(value).lower() == str(other).lower()
            return same if op == "==" else not same
        return value

    def unary(self) -> Any:
        if self._peek() == "!":
            self.index += 1
            return not _truthy(self.unary())
        if self._peek() == "(":
            self.index += 1
            value = self.either()
            self.index += 1  # ")"
            return value
        kind, text = self.tokens[self.index]
        self.index += 1
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if text in ("true", "false"):
            return text == "true"
        if text.endswith("()"):
            return self.context["functions"][text[:-2]]()
        value: Any = self.context
        for part in text.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value


def _truthy(value: Any) -> bool:
    return value not in (None, "", False, 0)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _substitute(text: str, context: Mapping[str, Any]) -> str:
    return _EXPRESSION.sub(lambda m: _text(evaluate(m.group(1), context)), text)


@dataclass
class StepResult:
    """One step as it ran (or was skipped, or played)."""

    name: str
    outcome: str  # success, failure, skipped, played
    output: str = ""
    script: str = ""
    seconds: float = 0.0


@dataclass
class JobResult:
    """A job's steps and whether it passed."""

    steps: list[StepResult] = field(default_factory=list)
    summary: str = ""

    @property
    def ok(self) -> bool:
        return all(step.outcome != "failure" for step in self.steps)

    @property
    def output(self) -> str:
        return "\n".join(
            f"--- {s.name} [{s.outcome}, {s.seconds:.1f} s]\n{s.output}" for s in self.steps
        )

    def step(self, prefix: str) -> StepResult:
        """The step whose name starts with ``prefix``."""
        return next(s for s in self.steps if s.name.startswith(prefix))


@dataclass
class WorkflowRunner:
    """Runs the workflows of the project at ``root`` with ``secrets``."""

    root: Path
    secrets: dict[str, str]
    environ: dict[str, str]
    # `actions/checkout` of a tag the project does not have yet: the commit it names
    resolve_tag: Callable[[str], str] | None = None
    # job env overrides (WATCH_SECONDS ...): what a test changes of a workflow's own env
    job_env: dict[str, str] = field(default_factory=dict)
    timeout: float = 600.0

    def run(
        self,
        workflow: str,
        *,
        event: str,
        ref_name: str = "main",
        inputs: Mapping[str, Any] | None = None,
    ) -> JobResult:
        """Run the (one) job of ``.github/workflows/<workflow>``."""
        data = yaml.safe_load((self.root / ".github" / "workflows" / workflow).read_text())
        (job,) = data["jobs"].values()
        defaults = {
            name: spec.get("default")
            for name, spec in (
                (data.get(True) or data.get("on") or {}).get("workflow_dispatch") or {}
            )
            .get("inputs", {})
            .items()
        }
        context: dict[str, Any] = {
            "secrets": self.secrets,
            "inputs": {**defaults, **(inputs or {})},
            "github": {"event_name": event, "ref_name": ref_name, "workflow": data["name"]},
            "env": {},
        }
        env = {
            k: _text(_substitute(str(v), self._context(context, True)))
            for k, v in (job.get("env") or {}).items()
        }
        env.update(self.job_env)
        result = JobResult()
        self._steps(job["steps"], context, env, result)
        return result

    def _context(self, context: dict[str, Any], ok: bool) -> dict[str, Any]:
        return {
            **context,
            "functions": {"success": lambda: ok, "failure": lambda: not ok, "always": lambda: True},
        }

    def _steps(
        self,
        steps: list[dict[str, Any]],
        context: dict[str, Any],
        env: dict[str, str],
        result: JobResult,
        prefix: str = "",
    ) -> None:
        for step in steps:
            name = prefix + str(step.get("name") or step.get("uses") or step.get("run", "")[:40])
            ok = result.ok
            where = self._context({**context, "env": env}, ok)
            condition = step.get("if")
            run_it = (
                _truthy(evaluate(str(condition).removeprefix("${{").removesuffix("}}"), where))
                if condition is not None
                else ok
            )
            if not run_it:
                result.steps.append(StepResult(name, "skipped"))
                continue
            step_env = {
                **env,
                **{
                    k: _text(_substitute(str(v), where)) for k, v in (step.get("env") or {}).items()
                },
            }
            uses = str(step.get("uses") or "")
            if uses.startswith("./"):
                self._action(uses, step, where, step_env, result)
            elif uses:
                self._play(uses, step, where, result, name)
            elif name.startswith("Install spectral-deploy"):
                result.steps.append(StepResult(name, "played", script=str(step["run"])))
            else:
                self._script(name, str(step["run"]), step_env, result)

    def _play(
        self,
        uses: str,
        step: dict[str, Any],
        where: dict[str, Any],
        result: JobResult,
        name: str,
    ) -> None:
        if uses.startswith("actions/checkout@"):
            ref = _substitute(str((step.get("with") or {}).get("ref") or ""), where)
            tag = ref.removeprefix("refs/tags/") if ref.startswith("refs/tags/") else ""
            if tag and self.resolve_tag is not None:
                known = subprocess.run(
                    [
                        "git",
                        "-C",
                        str(self.root),
                        "rev-parse",
                        "--verify",
                        "--quiet",
                        f"refs/tags/{tag}",
                    ],
                    capture_output=True,
                    check=False,
                )
                if known.returncode != 0:
                    subprocess.run(
                        ["git", "-C", str(self.root), "tag", tag, self.resolve_tag(tag)],
                        check=True,
                    )
        result.steps.append(StepResult(name, "played"))

    def _action(
        self,
        uses: str,
        step: dict[str, Any],
        where: dict[str, Any],
        env: dict[str, str],
        result: JobResult,
    ) -> None:
        action = yaml.safe_load((self.root / uses / "action.yml").read_text())
        given = {k: _text(_substitute(str(v), where)) for k, v in (step.get("with") or {}).items()}
        inputs = {
            name: given.get(name, spec.get("default"))
            for name, spec in action.get("inputs", {}).items()
        }
        context = {**where, "inputs": inputs}
        self._steps(action["runs"]["steps"], context, env, result, prefix=f"{action['name']}: ")

    def _script(self, name: str, script: str, env: dict[str, str], result: JobResult) -> None:
        if "apt-get" in script:
            raise AssertionError(f"step {name!r} installs system packages: not run in tests")
        with tempfile.TemporaryDirectory(prefix="runner-") as temp:
            files = {
                key: Path(temp) / key.lower()
                for key in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_PATH", "GITHUB_ENV")
            }
            for path in files.values():
                path.touch()
            (Path(temp) / "step.sh").write_text(script)
            environ = {
                **self.environ,
                **env,
                **{k: str(v) for k, v in files.items()},
                "RUNNER_TEMP": temp,
                "GITHUB_ACTIONS": "true",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{self.environ.get('PATH', '')}",
            }
            started = time.monotonic()
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(Path(temp) / "step.sh")],
                cwd=self.root,
                env=environ,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
            summary = files["GITHUB_STEP_SUMMARY"].read_text()
        result.summary += summary
        outcome = "success" if done.returncode == 0 else "failure"
        result.steps.append(
            StepResult(name, outcome, done.stdout + done.stderr, script, time.monotonic() - started)
        )
