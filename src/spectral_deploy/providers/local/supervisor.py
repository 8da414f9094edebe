"""The local hosting supervisor: one process per color that keeps its web app and workers up.

It reconciles what runs with ``desired.json`` (written by ``LocalHosting``) several times a
second, the way a platform's control loop does: starts what is missing, restarts what
crashed (with backoff), stops extra workers with SIGTERM (so they drain), and replaces
everything when the desired release changes. It records what runs in ``status.json`` so
any later command can find it. ``stop`` in the desired state (or SIGTERM) stops the
workers first (they drain), then the web app, then the supervisor itself.

    python -m spectral_deploy.providers.local.supervisor .spectral/hosting/green
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from spectral_deploy.providers.local.files import read_json, write_json

__all__ = ["Supervisor", "main"]

TICK_SECONDS = 0.2
DRAIN_SECONDS = 60.0
WEB_STOP_SECONDS = 10.0
MAX_RESTART_DELAY_SECONDS = 10.0


@dataclass
class Child:
    """A process the supervisor runs."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    stopping_since: float | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Supervisor:
    """Reconciles the processes of one color with its desired state."""

    directory: Path
    release_key: str | None = None
    web: Child | None = None
    workers: list[Child] = field(default_factory=list)
    retiring: list[Child] = field(default_factory=list)
    stopping: bool = False

    def run(self) -> None:
        """Reconcile until told to stop."""
        (self.directory / "supervisor.pid").write_text(str(os.getpid()))
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        try:
            while True:
                desired = read_json(self.directory / "desired.json") or {"stop": True}
                if desired.get("stop") or self.stopping:
                    self._stop_all()
                    return
                self._reconcile(desired)
                self._write_status(desired)
                time.sleep(TICK_SECONDS)
        finally:
            self._write_status({}, stopped=True)
            (self.directory / "supervisor.pid").unlink(missing_ok=True)

    def _on_term(self, _signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _reconcile(self, desired: dict[str, Any]) -> None:
        key = f"{desired.get('generation')}:{desired.get('commit')}:{desired.get('release_dir')}"
        if key != self.release_key:
            # a new release replaces everything the old one ran
            self._retire_all()
            self.release_key = key
        env = {**os.environ, **{k: str(v) for k, v in desired.get("env", {}).items()}}
        cwd = Path(desired["release_dir"])
        web_argv = list(desired["web"]["argv"])
        if desired["web"].get("stopped"):
            # retiring a color: no new requests, its workers finish the generation's rows
            if self.web is not None:
                self._retire(self.web)
                self.web = None
        else:
            if self.web is None:
                self.web = Child("web", web_argv)
            self._keep_running(self.web, cwd, env)
        wanted = int(desired.get("workers", {}).get("count", 0))
        worker_argv = list(desired.get("workers", {}).get("argv", []))
        while len(self.workers) < wanted:
            self.workers.append(Child(f"worker-{len(self.workers) + 1}", worker_argv))
        while len(self.workers) > wanted:
            self._retire(self.workers.pop())
        for worker in self.workers:
            self._keep_running(worker, cwd, env)
        self._reap_retiring()

    def _keep_running(self, child: Child, cwd: Path, env: dict[str, str]) -> None:
        if child.running:
            return
        now = time.monotonic()
        if child.process is not None:  # it exited: restart with backoff
            child.process = None
            child.restarts += 1
            delay = min(MAX_RESTART_DELAY_SECONDS, 0.5 * 2 ** min(child.restarts, 6))
            child.next_start = now + delay
        if now < child.next_start:
            return
        log = (self.directory / f"{child.name}.log").open("ab")
        try:
            child.process = subprocess.Popen(
                child.argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            log.write(f"supervisor: cannot start {child.argv!r}: {exc}\n".encode())
            child.process = None
            child.restarts += 1
            child.next_start = now + MAX_RESTART_DELAY_SECONDS
        finally:
            log.close()

    def _retire(self, child: Child) -> None:
        if child.running and child.process is not None:
            child.process.send_signal(signal.SIGTERM)
            child.stopping_since = time.monotonic()
            self.retiring.append(child)

    def _retire_all(self) -> None:
        for worker in self.workers:
            self._retire(worker)
        self.workers = []
        if self.web is not None:
            self._retire(self.web)
        self.web = None

    def _reap_retiring(self) -> None:
        now = time.monotonic()
        still: list[Child] = []
        for child in self.retiring:
            if not child.running:
                continue
            limit = WEB_STOP_SECONDS if child.name == "web" else DRAIN_SECONDS
            if child.stopping_since is not None and now - child.stopping_since > limit:
                assert child.process is not None
                child.process.kill()
            still.append(child)
        self.retiring = still

    def _stop_all(self) -> None:
        for worker in self.workers:
            self._retire(worker)
        self.workers = []
        deadline = time.monotonic() + DRAIN_SECONDS
        while any(c.running for c in self.retiring) and time.monotonic() < deadline:
            self._reap_retiring()
            time.sleep(TICK_SECONDS)
        if self.web is not None:
            self._retire(self.web)
            self.web = None
        deadline = time.monotonic() + WEB_STOP_SECONDS
        while any(c.running for c in self.retiring) and time.monotonic() < deadline:
            time.sleep(TICK_SECONDS)
        for child in self.retiring:
            if child.running and child.process is not None:
                child.process.kill()
                child.process.wait()

    def _write_status(self, desired: dict[str, Any], *, stopped: bool = False) -> None:
        def describe(child: Child) -> dict[str, Any]:
            return {
                "pid": child.process.pid if child.running and child.process else None,
                "running": child.running,
                "restarts": child.restarts,
            }

        write_json(
            self.directory / "status.json",
            {
                "supervisor_pid": None if stopped else os.getpid(),
                "stopped": stopped,
                "generation": desired.get("generation"),
                "commit": desired.get("commit"),
                "tag": desired.get("tag"),
                "web": describe(self.web) if self.web else None,
                "workers": [describe(w) for w in self.workers],
                "retiring": len([c for c in self.retiring if c.running]),
                "updated_at": time.time(),
            },
        )


def main(argv: list[str] | None = None) -> None:
    """``python -m spectral_deploy.providers.local.supervisor DIRECTORY``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.exit("usage: python -m spectral_deploy.providers.local.supervisor DIRECTORY")
    Supervisor(Path(args[0])).run()


if __name__ == "__main__":
    main()
