"""Rollback benchmark: Class 2 and Class 3, each timed to traffic on the code rolled back to
and in all, with the local providers.

Run with `make bench` (or `.venv/bin/python benchmarks/rollback.py [--classes 2,3]`); prints
one JSON document. The sample shop is deployed (v1.0.0 on blue, v1.1.0 on green) with the local
providers and a 1-second TTL; a client polls the public address through the router; then
`rollback run --symptom behavior --yes` (Class 2: flip back to blue, stop green's workers,
adopt, retire green, notify) or `--symptom data --yes` (Class 3: the prior code deployed at a
new generation; the schema kept) starts. Taken: the time until the first response comes from
the slot the rollback sends traffic to (blue for Class 2; the slot that runs the prior code for
Class 3), the whole command, and the public requests that failed. The runbook's target: Class
2 back on blue in under 2 s and done in under 15 s with TTL 1 s on an idle 2-core machine.
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

SYMPTOMS = {2: "behavior", 3: "data"}
TARGET_SECONDS = {2: {"to_traffic": 2.0, "total": 15.0}}


def one_run(failure_class: int, ttl: int) -> dict[str, Any]:
    root, ports = deploy_bench.new_project(f"spectral-rollback-bench-{failure_class}-", ttl)
    try:
        deploy_bench.cli(root, "deploy", "v1.0.0")
        deploy_bench.cli(root, "deploy", "v1.1.0")
        record = json.loads((root / ".spectral" / "dns" / "record.json").read_text())
        # Class 2 flips back to the other slot; Class 3 deploys the prior code there too
        other = "blue" if record["target"] == "green" else "green"
        poller = deploy_bench.Poller(ports.router)
        poller.start(other)
        time.sleep(0.5)
        started_wall = time.time()
        command = deploy_bench.cli(
            root, "rollback", "run", "--symptom", SYMPTOMS[failure_class], "--yes"
        )
        deadline = time.monotonic() + ttl + 10
        while poller.first_target is None and time.monotonic() < deadline:
            time.sleep(0.01)
        poller.stop()
        moved = poller.first_target - started_wall if poller.first_target else None
        return {
            "rollback_run_to_traffic_seconds": round(moved, 3) if moved is not None else None,
            "rollback_run_total_seconds": round(command, 2),
            "public_requests": poller.requests,
            "public_request_failures": poller.failures,
        }
    finally:
        deploy_bench.tear_down(root)


def summary(failure_class: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    moved = [r["rollback_run_to_traffic_seconds"] for r in runs]
    known = [m for m in moved if m is not None]
    return {
        "symptom": SYMPTOMS[failure_class],
        "traffic_to": "blue (flip back)" if failure_class == 2 else "the prior code (new slot)",
        "runs": runs,
        "median": {
            "rollback_run_to_traffic_seconds": statistics.median(known) if known else None,
            "rollback_run_total_seconds": statistics.median(
                r["rollback_run_total_seconds"] for r in runs
            ),
        },
        "target_seconds": TARGET_SECONDS.get(failure_class),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ttl", type=int, default=1)
    parser.add_argument("--classes", default="2,3", help="Which classes, comma-separated.")
    args = parser.parse_args()
    classes = [int(c) for c in args.classes.split(",") if c.strip()]
    results = {
        f"class_{c}": summary(c, [one_run(c, args.ttl) for _ in range(args.runs)]) for c in classes
    }
    print(
        json.dumps(
            {
                "benchmark": "rollback (Class 2 and Class 3)",
                "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
                "providers": "local (embedded PostgreSQL, supervisor per color, local router)",
                "ttl_seconds": args.ttl,
                **results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
