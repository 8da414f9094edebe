"""Local hosting: blue and green as process groups on this machine, one supervisor each.

A release is the tag's tree exported (``git archive``) to
``.spectral/releases/<generation>-<sha>``; the configured ``web_command`` runs from it on
the color's port (its placeholders filled in: ``spectral_deploy.appenv``), and ``workers``
``spectral-deploy worker`` processes next to it in the app's interpreter (``[hosting]
python``), all with ``SPECTRAL_GENERATION``, ``DATABASE_URL`` and ``PORT`` set. Each
process's output goes to ``.spectral/hosting/<color>/<web|worker-N>.log``
(``spectral-deploy logs``). A supervisor per color keeps
them running and records them in ``.spectral/hosting/<color>/status.json``, so any later
command finds and stops them.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from spectral_deploy.appenv import app_python, command_argv
from spectral_deploy.config import Config
from spectral_deploy.errors import ConfigError, ProviderError
from spectral_deploy.processes import alive
from spectral_deploy.providers.base import Color, Deployment, Health, ReleaseSpec
from spectral_deploy.providers.direct import direct_client
from spectral_deploy.providers.local.files import read_json, spawn_detached, write_json
from spectral_deploy.providers.local.git import export_tree

__all__ = ["LocalHosting", "from_config"]

log = logging.getLogger(__name__)

PROVIDER = "local"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 90.0
HEALTH_TIMEOUT_SECONDS = 2.0


def from_config(config: Config, database_url: str) -> LocalHosting:
    """The local hosting provider of a project (its commands checked)."""
    hosting = config.hosting
    if not hosting.web_command:
        raise ConfigError(
            "the local hosting provider needs the command that starts the web app",
            key="hosting.web_command",
            source=config.source,
            hint='e.g. web_command = "{python} -m shop.web --port {port}"',
        )
    python = app_python(config)
    command_argv(  # a bad placeholder fails now, not in the middle of a deploy
        hosting.web_command,
        _web_values(python, config.project_root, Color.BLUE, 0, 1),
        key="hosting.web_command",
        source=config.source,
        project_root=config.project_root,
    )
    return LocalHosting(
        project_root=config.project_root,
        state_dir=config.project_root / ".spectral",
        web_command=hosting.web_command,
        worker_app=hosting.worker_app,
        health_path=hosting.health_path,
        ports={Color.BLUE: hosting.blue_port, Color.GREEN: hosting.green_port},
        database_url=database_url,
        schema=config.database.schema,
        python=python,
        source=config.source,
    )


def _web_values(
    python: str, project_root: Path, color: Color, port: int, generation: int
) -> dict[str, str]:
    return {
        "python": python,
        "port": str(port),
        "color": str(color),
        "generation": str(generation),
        "project": str(project_root),
    }


class LocalHosting:
    """``HostingProvider`` for processes on this machine."""

    def __init__(
        self,
        *,
        project_root: Path,
        state_dir: Path,
        web_command: str,
        worker_app: str,
        health_path: str,
        ports: dict[Color, int],
        database_url: str,
        schema: str = "spectral",
        python: str = sys.executable,
        source: str = "defaults",
        health_client: httpx.Client | None = None,
    ) -> None:
        self.project_root = project_root
        self.python = python
        self.source = source
        self._python_checked = python == sys.executable
        self.state_dir = state_dir
        self.web_command = web_command
        self.worker_app = worker_app
        self.health_path = health_path
        self.ports = ports
        self._database_url = database_url
        self.schema = schema
        self._health = health_client

    def __repr__(self) -> str:
        return f"LocalHosting(project_root={self.project_root!s})"

    # -- HostingProvider ----------------------------------------------------------------

    def deploy(
        self,
        color: Color,
        release: ReleaseSpec,
        *,
        on_started: Callable[[str], None] | None = None,
    ) -> Deployment:
        """Export the release and have the color's supervisor run it (no platform deploy ids:
        ``on_started`` is not called)."""
        release_dir = self._export(release)
        self._check_python()
        port = self.ports[color]
        desired: dict[str, Any] = {
            "generation": release.generation,
            "commit": release.commit,
            "tag": release.tag,
            "release_dir": str(release_dir),
            "env": {
                **dict(release.env),
                "SPECTRAL_GENERATION": str(release.generation),
                "SENTRY_RELEASE": release.tag,  # errors reported under the tag the watch reads
                "DATABASE_URL": self._database_url,
                "SPECTRAL_DATABASE_SCHEMA": self.schema,
                "PORT": str(port),
                "PYTHONUNBUFFERED": "1",
            },
            "web": {
                "argv": self._web_argv(color, port, release.generation, release_dir),
                "port": port,
            },
            "workers": {"argv": self._worker_argv(), "count": 0},
            "stop": False,
        }
        previous = read_json(self._desired(color))
        if (
            previous
            and previous.get("generation") == release.generation
            and not previous.get("stop")
        ):
            desired["workers"]["count"] = previous.get("workers", {}).get("count", 0)
        write_json(self._desired(color), desired)
        self._ensure_supervisor(color)
        self._wait(
            color,
            lambda status: (
                status.get("generation") == release.generation
                and bool((status.get("web") or {}).get("running"))
            ),
            START_TIMEOUT_SECONDS,
            f"the web process of generation {release.generation} did not start",
        )
        current = self.current(color)
        assert current is not None
        log.info("action=hosting.deployed color=%s generation=%s", color, release.generation)
        return current

    def current(self, color: Color) -> Deployment | None:
        """What the color's supervisor runs, if it is alive."""
        desired = read_json(self._desired(color))
        status = read_json(self._status(color))
        if not desired or desired.get("stop") or not self._supervisor_alive(color):
            return None
        workers = [w for w in (status or {}).get("workers", []) if w.get("running")]
        web_running = bool(((status or {}).get("web") or {}).get("running"))
        state = "running" if web_running else "starting"
        if desired["web"].get("stopped"):
            state = "retiring"
        return Deployment(
            color=color,
            generation=desired.get("generation"),
            commit=desired.get("commit"),
            tag=desired.get("tag"),
            status=state,
            workers=len(workers),
            address=self.address(color),
        )

    def health(self, color: Color) -> Health:
        """GET the health path on the color's port."""
        url = f"{self.address(color)}{self.health_path}"
        if self.current(color) is None:
            return Health(ok=False, detail=f"nothing runs on {color}", url=url)
        if self._health is None:  # made on first use: most commands never check health
            self._health = direct_client(HEALTH_TIMEOUT_SECONDS)
        try:
            response = self._health.get(url)
        except httpx.TimeoutException as exc:
            return Health(ok=False, detail=f"no answer: timed out ({type(exc).__name__})", url=url)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return Health(ok=False, detail=f"no answer: {str(exc) or type(exc).__name__}", url=url)
        status = response.status_code
        return Health(ok=status == 200, detail=f"HTTP {status}", url=url)

    def address(self, color: Color) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.ports[color]}"

    def scale_workers(self, color: Color, count: int) -> None:
        """Set the color's worker count and wait until that many run (or all drained)."""
        desired = read_json(self._desired(color))
        if not desired or desired.get("stop"):
            if count == 0:
                return
            raise ProviderError(
                f"nothing is deployed on {color}", provider=PROVIDER, operation="scale_workers"
            )
        desired["workers"]["count"] = count
        write_json(self._desired(color), desired)
        self._ensure_supervisor(color)
        self._wait(
            color,
            lambda status: (
                sum(1 for w in status.get("workers", []) if w.get("running")) == count
                and (count > 0 or not status.get("retiring"))
            ),
            STOP_TIMEOUT_SECONDS if count == 0 else START_TIMEOUT_SECONDS,
            f"{color} did not reach {count} worker(s)",
        )

    def stop_web(self, color: Color) -> None:
        """Stop the web process; the workers go on draining the generation's rows."""
        desired = read_json(self._desired(color))
        if not desired or desired.get("stop") or desired["web"].get("stopped"):
            return
        desired["web"]["stopped"] = True
        write_json(self._desired(color), desired)
        self._wait(
            color,
            lambda status: not status.get("web") and not status.get("retiring"),
            STOP_TIMEOUT_SECONDS,
            f"the web process of {color} did not stop",
        )
        log.info("action=hosting.web_stopped color=%s", color)

    def stop(self, color: Color) -> None:
        """Stop the color: workers drain, then the web app, then the supervisor."""
        desired = read_json(self._desired(color)) or {}
        desired["stop"] = True
        write_json(self._desired(color), desired)
        pid = self._supervisor_pid(color)
        if pid is None:
            return
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
        log.info("action=hosting.stopped color=%s", color)

    def build_available(self, commit: str) -> bool:
        """A commit is rebuildable while the repository still has it."""
        result = subprocess.run(
            ["git", "-C", str(self.project_root), "cat-file", "-e", f"{commit}^{{commit}}"],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    # -- internals ----------------------------------------------------------------------

    def _dir(self, color: Color) -> Path:
        return self.state_dir / "hosting" / str(color)

    def _desired(self, color: Color) -> Path:
        return self._dir(color) / "desired.json"

    def _status(self, color: Color) -> Path:
        return self._dir(color) / "status.json"

    def _supervisor_pid(self, color: Color) -> int | None:
        try:
            return int((self._dir(color) / "supervisor.pid").read_text())
        except (OSError, ValueError):
            return None

    def _supervisor_alive(self, color: Color) -> bool:
        return alive(self._supervisor_pid(color))

    def _ensure_supervisor(self, color: Color) -> None:
        if self._supervisor_alive(color):
            return
        directory = self._dir(color)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "status.json").unlink(missing_ok=True)
        spawn_detached(
            ["-m", "spectral_deploy.providers.local.supervisor", str(directory)],
            log=directory / "supervisor.log",
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._supervisor_alive(color):
            if time.monotonic() > deadline:
                raise ProviderError(
                    f"the supervisor of {color} did not start (see {directory}/supervisor.log)",
                    provider=PROVIDER,
                    operation="deploy",
                )
            time.sleep(0.05)

    def _wait(self, color: Color, done: Any, timeout: float, failure: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            status = read_json(self._status(color)) or {}
            if done(status):
                return
            if time.monotonic() > deadline or not self._supervisor_alive(color):
                logs = self._dir(color)
                raise ProviderError(
                    f"{failure} within {timeout:g} s (logs in {logs})",
                    provider=PROVIDER,
                    operation="wait",
                )
            time.sleep(0.05)

    def _web_argv(self, color: Color, port: int, generation: int, release_dir: Path) -> list[str]:
        return command_argv(
            self.web_command,
            _web_values(self.python, self.project_root, color, port, generation),
            key="hosting.web_command",
            source=self.source,
            project_root=self.project_root,
            cwd=release_dir,
        )

    def _worker_argv(self) -> list[str]:
        if not self.worker_app:
            return []
        return [self.python, "-m", "spectral_deploy", "worker", "--app", self.worker_app]

    def _check_python(self) -> None:
        """The app's interpreter must be able to run the workers (spectral-deploy installed)."""
        if self._python_checked or not self.worker_app:
            return
        probe = subprocess.run(
            [self.python, "-c", "import spectral_deploy"],
            cwd=self.project_root,
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0:
            last = (probe.stderr.strip().splitlines() or ["failed"])[-1]
            raise ConfigError(
                f"the app's interpreter {self.python} cannot run the workers "
                f"(import spectral_deploy: {last})",
                key="hosting.python",
                source=self.source,
                hint="install spectral-deploy into the app's virtualenv "
                "(it is the app's library too: emit, Handlers)",
            )
        self._python_checked = True

    def _export(self, release: ReleaseSpec) -> Path:
        """The release's tree under .spectral/releases (exported once, reused on resume)."""
        target = self.state_dir / "releases" / f"{release.generation}-{release.commit[:12]}"
        return export_tree(self.project_root, release.commit, target)
