"""Rollback benchmark: from `rollback run` (Class 2) to traffic back on blue, local providers.

Run with `make bench` (or `.venv/bin/python benchmarks/rollback.py`); prints one JSON document.
The sample shop is deployed (v1.0.0 on blue, v1.1.0 on green) with the local providers and a
1-second TTL; a client polls the public address through the router; `rollback run --symptom
behavior --yes` starts, and the time until the first response comes from blue is taken, as
well as the whole command (which goes on to retire green, drain and notify).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import deploy as deploy_bench  # the deploy benchmark's sandbox helpers


def one_run(ttl: int) -> dict[str, Any]:
    root, ports = deploy_bench.new_project("spectral-rollback-bench-", ttl)
    try:
        deploy_bench.cli(root, "deploy", "v1.0.0")
        deploy_bench.cli(root, "deploy", "v1.1.0")
        record = json.loads((root / ".spectral" / "dns" / "record.json").read_text())
        blue = "blue" if record["target"] == "green" else "green"
        poller = deploy_bench.Poller(ports.router)
        poller.start(blue)
        time.sleep(0.5)
        started_wall = time.time()
        command = deploy_bench.cli(root, "rollback", "run", "--symptom", "behavior", "--yes")
        deadline = time.monotonic() + ttl + 10
        while poller.first_target is None and time.monotonic() < deadline:
            time.sleep(0.01)
        poller.stop()
        back_on_blue = poller.first_target - started_wall if poller.first_target else None
        return {
            "rollback_run_to_traffic_on_blue_seconds": (
                round(back_on_blue, 3) if back_on_blue is not None else None
            ),
            "rollback_run_total_seconds": round(command, 2),
            "public_requests": poller.requests,
            "public_request_failures": poller.failures,
        }
    finally:
        deploy_bench.tear_down(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ttl", type=int, default=1)
    args = parser.parse_args()
    runs = [one_run(args.ttl) for _ in range(args.runs)]
    back = [r["rollback_run_to_traffic_on_blue_seconds"] for r in runs]
    print(
        json.dumps(
            {
                "benchmark": "rollback (Class 2)",
                "machine": {"cpus": os.cpu_count()},
                "providers": "local (embedded PostgreSQL, supervisor per color, local router)",
                "ttl_seconds": args.ttl,
                "runs": runs,
                "median": {
                    "rollback_run_to_traffic_on_blue_seconds": (
                        statistics.median(b for b in back if b is not None)
                        if any(b is not None for b in back)
                        else None
                    ),
                    "rollback_run_total_seconds": statistics.median(
                        r["rollback_run_total_seconds"] for r in runs
                    ),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
