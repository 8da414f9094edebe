"""Deploy benchmark: each step's time, the whole deploy, and flip -> router serving green.

Run with `make bench` (or `.venv/bin/python benchmarks/deploy.py`); prints one JSON document.
The sample shop is deployed with the local providers (embedded PostgreSQL, a supervisor per
color, the local router with a 1-second TTL): v1.0.0 first, then v1.1.0 (one migration) while
a client polls the public address through the router. Step times come from the ledger; the
flip latency is from the moment the CNAME record changed to the first response from green.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from spectral_deploy.sandbox.shop import Ports, build_repository, local_settings

# faster worker heartbeats than the defaults, so that a retired color's workers are seen gone soon
TUNING = """
[outbox]
poll_seconds = 0.5
heartbeat_seconds = 1
stale_after_seconds = 5
"""


def new_project(prefix: str, ttl: int) -> tuple[Path, Ports]:
    """A throwaway shop repository on the local providers (two workers per color)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    ports = Ports.free()
    build_repository(root, settings=local_settings(ports, workers=2, ttl=ttl, tuning=TUNING))
    return root, ports


def tear_down(root: Path) -> None:
    """Stop the project's processes and delete it."""
    subprocess.run(
        [sys.executable, "-m", "spectral_deploy", "sandbox", "down"],
        cwd=root,
        capture_output=True,
        check=False,
    )
    shutil.rmtree(root, ignore_errors=True)


def cli(root: Path, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAL_")}
    env.pop("DATABASE_URL", None)
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "spectral_deploy", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{args} failed: {result.stdout}\n{result.stderr}")
    return time.perf_counter() - began


class Poller:
    """Asks the public address which color serves it, as fast as it can."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/health"
        self.first_target: float | None = None
        self.requests = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.target_color: str | None = None

    def start(self, target_color: str) -> None:
        self.target_color = target_color
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    color = response.headers.get("X-Spectral-Upstream")
                    self.requests += 1
                    if color == self.target_color and self.first_target is None:
                        self.first_target = time.time()
            except OSError:
                self.failures += 1
            time.sleep(0.005)


def step_times(url: str, tag: str) -> dict[str, float]:
    with psycopg.connect(url) as conn:
        deploy_id = conn.execute(
            "SELECT id FROM spectral.deploys WHERE tag = %s", (tag,)
        ).fetchone()
        assert deploy_id is not None
        rows = conn.execute(
            "SELECT action, details->>'seconds' FROM spectral.ledger "
            "WHERE kind = 'step' AND outcome = 'ok' AND deploy_id = %s ORDER BY id",
            (deploy_id[0],),
        ).fetchall()
    return {str(action): float(seconds) for action, seconds in rows if seconds is not None}


def one_run(ttl: int) -> dict[str, Any]:
    root, ports = new_project("spectral-deploy-bench-", ttl)
    try:
        first = cli(root, "deploy", "v1.0.0")
        url = subprocess.run(
            [sys.executable, "-m", "spectral_deploy", "db", "url"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        with psycopg.connect(url) as conn:
            live = conn.execute("SELECT green_color FROM spectral.deploys WHERE tag = 'v1.0.0'")
            live_row = live.fetchone()
        assert live_row is not None
        green = "green" if live_row[0] == "blue" else "blue"
        poller = Poller(ports.router)
        poller.start(green)
        second = cli(root, "deploy", "v1.1.0")
        deadline = time.monotonic() + ttl + 10
        while poller.first_target is None and time.monotonic() < deadline:
            time.sleep(0.01)
        poller.stop()
        record = json.loads((root / ".spectral" / "dns" / "record.json").read_text())
        flip_to_green = (
            poller.first_target - float(record["changed_at"]) if poller.first_target else None
        )
        return {
            "first_deploy_seconds": round(first, 2),
            "deploy_seconds": round(second, 2),
            "steps_seconds": step_times(url, "v1.1.0"),
            "flip_to_router_serving_green_seconds": (
                round(flip_to_green, 3) if flip_to_green is not None else None
            ),
            "public_requests_during_deploy": poller.requests,
            "public_request_failures": poller.failures,
        }
    finally:
        tear_down(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ttl", type=int, default=1, help="the record's TTL in seconds")
    args = parser.parse_args()
    runs = [one_run(args.ttl) for _ in range(args.runs)]
    steps = sorted(
        {name for run in runs for name in run["steps_seconds"]},
        key=list(runs[0]["steps_seconds"]).index,
    )
    flips = [
        r["flip_to_router_serving_green_seconds"]
        for r in runs
        if r["flip_to_router_serving_green_seconds"] is not None
    ]
    print(
        json.dumps(
            {
                "benchmark": "deploy",
                "machine": {"cpus": os.cpu_count()},
                "providers": "local (embedded PostgreSQL, supervisor per color, local router)",
                "ttl_seconds": args.ttl,
                "runs": runs,
                "median": {
                    "deploy_seconds": statistics.median(r["deploy_seconds"] for r in runs),
                    "steps_seconds": {
                        name: statistics.median(r["steps_seconds"].get(name, 0.0) for r in runs)
                        for name in steps
                    },
                    "flip_to_router_serving_green_seconds": (
                        statistics.median(flips) if flips else None
                    ),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
