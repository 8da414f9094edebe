"""Wall and CPU time of `spectral-deploy lint --format json` against `squawk --reporter json`,
and the lint's time and peak memory on one large migration file.

Both tools lint every migration of the corpus (``SPECTRAL_CORPUS``, else
``<repo>/../shared/corpus/migrations``, else ``/work/shared/corpus/migrations``) in one
process each, from the corpus directory, with the same file list; the lint replays each
project's earlier migrations into its schema model, as it does in a project. Rounds
alternate which tool goes first; the JSON printed gives every sample, the medians and
their ratios (target: at most 2.0x squawk). CPU time (user + system, of the process and
the workers it forks) is less disturbed than wall time on a shared machine.

``--baseline-src DIR`` also times another checkout's lint (its ``src`` directory, run
with this interpreter) in the same rounds: how a change moved the figures, measured under
the same conditions.

The large file is ``--large-mb`` megabytes (default 25) of generated migration SQL
(tables, columns, indexes, constraints, inserts); its peak resident memory is the
process's ``ru_maxrss`` (target: under 300 MB).

    .venv/bin/python benchmarks/lint.py [--runs 5] [--baseline-src ../main/src] [--large-mb 25]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET_RATIO = 2.0
TARGET_LARGE_RSS_MB = 300
# what the console script does, for a checkout that is not installed
LAUNCH = (
    "import sys; from spectral_deploy.cli.launch import main; "
    "sys.argv[0] = 'spectral-deploy'; main()"
)


def corpus() -> Path:
    for candidate in (
        os.environ.get("SPECTRAL_CORPUS"),
        str(REPO.parent / "shared" / "corpus" / "migrations"),
        "/work/shared/corpus/migrations",
    ):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    sys.exit("no corpus: set SPECTRAL_CORPUS to the corpus/migrations directory")


def timed(
    argv: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, float, int, int]:
    """Wall seconds, CPU seconds (with waited-for children), peak RSS (KiB), exit code."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1, 2):
        sys.exit(f"{argv[0]} failed ({code}): {stderr[-500:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, code


def large_sql(megabytes: int) -> str:
    """Deterministic migration SQL of about ``megabytes`` MB."""
    parts = []
    size = 0
    n = 0
    while size < megabytes * 1_000_000:
        block = (
            f"-- migration step {n}\n"
            f"CREATE TABLE t{n} (id bigint PRIMARY KEY, name varchar(40) NOT NULL, "
            f"total numeric(10, 2) DEFAULT 0, created_at timestamptz NOT NULL DEFAULT now());\n"
            f"ALTER TABLE t{n} ADD COLUMN note text, ADD COLUMN flag boolean DEFAULT false;\n"
            f"CREATE INDEX t{n}_name_idx ON t{n} (name);\n"
            f"ALTER TABLE t{n} ADD CONSTRAINT t{n}_total CHECK (total >= 0);\n"
            f"INSERT INTO t{n} (id, name, total) VALUES (1, 'first', 1.5), (2, 'second', 2.5);\n"
            f"ALTER TABLE t{n} ALTER COLUMN name TYPE varchar(80);\n"
        )
        parts.append(block)
        size += len(block)
        n += 1
    return "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--baseline-src", type=Path, help="another checkout's src to time too")
    parser.add_argument("--large-mb", type=int, default=25, help="large file size (default 25)")
    args = parser.parse_args()
    root = corpus()
    files = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.name.endswith((".sql", ".sql.postgres"))
    )
    tools: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "spectral": ([str(BIN / "spectral-deploy"), "lint", "--format", "json", *files], None),
        "squawk": ([str(BIN / "squawk"), "--reporter", "json", *files], None),
    }
    # As pip installs it: with compiled bytecode (an editable checkout run with
    # PYTHONDONTWRITEBYTECODE would otherwise recompile every module on every run).
    compileall.compile_dir(REPO / "src" / "spectral_deploy", quiet=1)
    scratch = tempfile.TemporaryDirectory(prefix="spectral-bench-")
    if args.baseline_src:
        # The baseline gets the same chance: a copy of its package, compiled the same way
        # next to its sources. (PYTHONPYCACHEPREFIX would be unfair: with
        # PYTHONDONTWRITEBYTECODE it recompiles the baseline and every library on each run.)
        baseline = Path(scratch.name) / "src"
        shutil.copytree(
            args.baseline_src.resolve() / "spectral_deploy",
            baseline / "spectral_deploy",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        compileall.compile_dir(baseline / "spectral_deploy", quiet=1)
        env = {**os.environ, "PYTHONPATH": str(baseline)}
        env.pop("PYTHONPYCACHEPREFIX", None)
        tools["baseline"] = (
            [sys.executable, "-c", LAUNCH, "lint", "--format", "json", *files],
            env,
        )
    wall: dict[str, list[float]] = {name: [] for name in tools}
    cpu: dict[str, list[float]] = {name: [] for name in tools}
    exits: dict[str, int] = {}
    for argv, env in tools.values():  # warm the page cache (and the baseline's bytecode)
        timed(argv, root, env)
    for round_ in range(args.runs):
        order = list(tools) if round_ % 2 == 0 else list(reversed(tools))
        for name in order:
            argv, env = tools[name]
            elapsed, seconds, _, code = timed(argv, root, env)
            wall[name].append(round(elapsed, 4))
            cpu[name].append(round(seconds, 4))
            exits[name] = code
    scratch.cleanup()
    medians = {name: statistics.median(values) for name, values in wall.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    result: dict[str, object] = {
        "benchmark": "lint the whole corpus, one process per tool",
        "files": len(files),
        "cores": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "runs": args.runs,
        **{f"{name}_seconds": values for name, values in wall.items()},
        **{f"{name}_cpu_seconds": values for name, values in cpu.items()},
        **{f"{name}_median_seconds": round(value, 4) for name, value in medians.items()},
        **{f"{name}_median_cpu_seconds": round(v, 4) for name, v in cpu_medians.items()},
        "ratio": round(medians["spectral"] / medians["squawk"], 3),
        "cpu_ratio": round(cpu_medians["spectral"] / cpu_medians["squawk"], 3),
        "target_ratio": TARGET_RATIO,
        "exit_codes": exits,
    }
    if args.baseline_src:
        result["ratio_to_baseline"] = round(medians["spectral"] / medians["baseline"], 3)
        result["cpu_ratio_to_baseline"] = round(
            cpu_medians["spectral"] / cpu_medians["baseline"], 3
        )
        result["baseline_ratio"] = round(medians["baseline"] / medians["squawk"], 3)
    result["large_file"] = large_file(args.large_mb)
    print(json.dumps(result, indent=2))


def large_file(megabytes: int) -> dict[str, object]:
    """Lint one generated file of ``megabytes`` MB: seconds and peak memory."""
    with tempfile.TemporaryDirectory(prefix="spectral-bench-") as directory:
        path = Path(directory) / "0001_large.sql"
        path.write_text(large_sql(megabytes), encoding="utf-8")
        argv = [str(BIN / "spectral-deploy"), "lint", "--format", "json", path.name]
        elapsed, seconds, peak_kib, code = timed(argv, Path(directory))
        return {
            "megabytes": round(path.stat().st_size / 1_000_000, 1),
            "seconds": round(elapsed, 2),
            "cpu_seconds": round(seconds, 2),
            "peak_rss_mb": round(peak_kib / 1024, 1),
            "target_peak_rss_mb": TARGET_LARGE_RSS_MB,
            "exit_code": code,
        }


if __name__ == "__main__":
    main()
