"""A sandbox project for end-to-end deploy tests: the sample shop's git repository with free
ports, the CLI run as a subprocess in it, a load generator through the local router."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from spectral_deploy.sandbox.shop import (
    STANDARD_RELEASES,
    Ports,
    ShopRelease,
    add_release,
    build_repository,
    local_settings,
)

TUNING = """
[deploy]
smoke_paths = ["/health", "/"]
hold_seconds = 600
health_timeout_seconds = 30
workers_ready_timeout_seconds = {workers_ready}
watch_interval_seconds = 0.5

[outbox]
poll_seconds = 0.2
heartbeat_seconds = 0.5
stale_after_seconds = 3
"""


def run_cli(
    root: Path, args: tuple[str, ...], *, env: Mapping[str, str] | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    """``spectral-deploy ARGS`` in ``root`` as a user runs it: this run's own ``SPECTRAL_*`` and
    ``DATABASE_URL`` left out of the environment, a wide terminal; never raises on a non-zero
    exit."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SPECTRAL_") and key != "DATABASE_URL"
    }
    environ.update(env or {})
    environ["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "spectral_deploy", *args],
        cwd=root,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Sandbox:
    """A project directory holding the shop's repository and the sandbox state."""

    root: Path
    router: int
    commits: dict[str, str] = field(default_factory=dict)
    _database_url: str | None = None

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """``spectral-deploy ARGS`` in the project; never raises on a non-zero exit."""
        return run_cli(self.root, args, env=env, timeout=timeout)

    def ok(
        self, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run and require exit 0."""
        result = self.run(*args, env=env)
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result

    def release(self, release: ShopRelease) -> str:
        """Commit and tag one more release."""
        self.commits[release.tag] = add_release(self.root, release)
        return self.commits[release.tag]

    def database_url(self) -> str:
        if self._database_url is None:
            self._database_url = self.ok("db", "url").stdout.strip()
        return self._database_url

    def query(self, text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url()) as conn:
            return conn.execute(text, params).fetchall()  # type: ignore[arg-type]

    def scalar(self, text: str, params: tuple[Any, ...] = ()) -> Any:
        return self.query(text, params)[0][0]

    def get(self, path: str, resolver: str = "default") -> tuple[int, dict[str, Any], str]:
        """GET through the router: status, JSON body, and the color that served it."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.router}{path}", headers={"X-Spectral-Resolver": resolver}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return (
                    response.status,
                    json.loads(response.read() or b"{}"),
                    response.headers.get("X-Spectral-Upstream", ""),
                )
        except urllib.error.HTTPError as exc:
            return exc.code, {}, exc.headers.get("X-Spectral-Upstream", "")

    def deploy_status(self) -> dict[str, Any]:
        return json.loads(self.ok("deploy", "status", "--format", "json").stdout)["deploy"]

    def down(self) -> None:
        self.run("sandbox", "down", timeout=180)

    def deploy_with_workers_that_never_run(
        self, error: str = "broken", *, ready_timeout: float = 3
    ) -> subprocess.CompletedProcess[str]:
        """v1.0.0 deployed, then v1.2.0 whose handlers module raises ImportError(``error``): its
        workers crash at start, so its deploy stops at step 9 (within ``ready_timeout`` s)."""
        self.ok("deploy", "v1.0.0")
        self.release(
            ShopRelease(
                "v1.2.0",
                "1.2.0",
                migrations=3,
                extra_files={"shop/handlers.py": f"raise ImportError({error!r})\n"},
            )
        )
        failed = self.run(
            "deploy",
            "v1.2.0",
            env={"SPECTRAL_DEPLOY_WORKERS_READY_TIMEOUT_SECONDS": f"{ready_timeout:g}"},
        )
        assert failed.returncode == 1, failed.stdout + failed.stderr
        return failed


class Load:
    """Orders posted through the router in a background thread, every outcome counted."""

    def __init__(self, sandbox: Sandbox, interval: float = 0.02) -> None:
        self.sandbox = sandbox
        self.interval = interval
        self.served = 0
        self.failed: list[str] = []
        self.by_color: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        url = f"http://127.0.0.1:{self.sandbox.router}/orders"
        body = json.dumps({"customer": "load", "total_cents": 1250}).encode()
        while not self._stop.is_set():
            request = urllib.request.Request(
                url, data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    color = response.headers.get("X-Spectral-Upstream", "?")
                    if response.status == 201:
                        self.served += 1
                        self.by_color[color] = self.by_color.get(color, 0) + 1
                    else:
                        self.failed.append(f"HTTP {response.status}")
            except urllib.error.HTTPError as exc:
                self.failed.append(f"HTTP {exc.code}")
            except OSError as exc:
                self.failed.append(type(exc).__name__)
            time.sleep(self.interval)


def make_sandbox(
    releases: tuple[ShopRelease, ...] = STANDARD_RELEASES, *, workers_ready: float = 20
) -> Sandbox:
    root = Path(tempfile.mkdtemp(prefix="spectral-sandbox-"))
    root.chmod(0o755)
    ports = Ports.free()
    tuning = TUNING.format(workers_ready=workers_ready)
    settings = local_settings(ports, workers=2, tuning=tuning)
    commits = build_repository(root, releases, settings=settings)
    return Sandbox(root=root, router=ports.router, commits=commits)
