"""Wall time of `spectral-deploy lint --format json` against `squawk --reporter json`.

Both lint every migration of the corpus (``SPECTRAL_CORPUS``, else
``<repo>/../shared/corpus/migrations``, else ``/work/shared/corpus/migrations``) in one
process each, from the corpus directory, with the same file list. Rounds alternate which
tool goes first; the JSON printed gives every sample, the medians and their ratio
(target: <= 1.0, no slower than squawk).

    .venv/bin/python benchmarks/lint.py [--runs 5]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def corpus() -> Path:
    for candidate in (
        os.environ.get("SPECTRAL_CORPUS"),
        str(REPO.parent / "shared" / "corpus" / "migrations"),
        "/work/shared/corpus/migrations",
    ):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    sys.exit("no corpus: set SPECTRAL_CORPUS to the corpus/migrations directory")


def timed(argv: list[str], cwd: Path) -> tuple[float, int]:
    started = time.perf_counter()
    result = subprocess.run(
        argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1, 2):
        sys.exit(f"{argv[0]} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    return elapsed, result.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    args = parser.parse_args()
    root = corpus()
    files = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.name.endswith((".sql", ".sql.postgres"))
    )
    ours = [str(BIN / "spectral-deploy"), "lint", "--format", "json", *files]
    squawk = [str(BIN / "squawk"), "--reporter", "json", *files]
    # As pip installs it: with compiled bytecode (an editable checkout run with
    # PYTHONDONTWRITEBYTECODE would otherwise recompile every module on every run).
    compileall.compile_dir(REPO / "src" / "spectral_deploy", quiet=1)
    samples: dict[str, list[float]] = {"spectral": [], "squawk": []}
    exits: dict[str, int] = {}
    timed(ours, root)  # warm the page cache for both tools alike
    timed(squawk, root)
    for round_ in range(args.runs):
        order = [("spectral", ours), ("squawk", squawk)]
        for name, argv in order if round_ % 2 == 0 else reversed(order):
            elapsed, code = timed(argv, root)
            samples[name].append(round(elapsed, 4))
            exits[name] = code
    spectral = statistics.median(samples["spectral"])
    reference = statistics.median(samples["squawk"])
    print(
        json.dumps(
            {
                "benchmark": "lint the whole corpus, one process per tool",
                "files": len(files),
                "cores": os.cpu_count(),
                "runs": args.runs,
                "spectral_seconds": samples["spectral"],
                "squawk_seconds": samples["squawk"],
                "spectral_median_seconds": round(spectral, 4),
                "squawk_median_seconds": round(reference, 4),
                "ratio": round(spectral / reference, 3),
                "target_ratio": 1.0,
                "exit_codes": exits,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
