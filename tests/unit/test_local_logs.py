"""The local slots' logs: found per color and process, tailed, followed as they grow."""

from __future__ import annotations

from pathlib import Path

from spectral_deploy.providers.base import Color
from spectral_deploy.providers.local.logs import follow, log_files, tail


def _log(state: Path, color: str, name: str, text: str) -> Path:
    path = state / "hosting" / color / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_web_or_worker_logs_of_the_colors_asked_for(tmp_path: Path) -> None:
    """web.log by default; worker-N.log in number order with --worker; missing ones skipped."""
    _log(tmp_path, "blue", "web", "b\n")
    _log(tmp_path, "green", "worker-10", "")
    _log(tmp_path, "green", "worker-2", "")
    assert [f.label for f in log_files(tmp_path, list(Color), workers=False)] == ["blue/web"]
    assert [f.label for f in log_files(tmp_path, [Color.GREEN], workers=True)] == [
        "green/worker-2",
        "green/worker-10",
    ]


def test_tail_returns_the_last_lines_and_where_the_file_ends(tmp_path: Path) -> None:
    """The last N lines of a file larger than one read chunk; N=0 prints none."""
    path = _log(tmp_path, "blue", "web", "".join(f"line {i}\n" for i in range(20000)))
    lines, end = tail(path, 3)
    assert lines == ["line 19997", "line 19998", "line 19999"]
    assert end == path.stat().st_size
    assert tail(path, 0)[0] == []


def test_follow_yields_whole_new_lines_and_survives_truncation(tmp_path: Path) -> None:
    """Appended lines come out once, a partial line waits for its end, a truncated file restarts."""
    path = _log(tmp_path, "blue", "web", "old\n")
    (log,) = log_files(tmp_path, [Color.BLUE], workers=False)
    offsets = {path: path.stat().st_size}
    seen: list[str] = []
    steps = iter(
        [
            lambda: path.write_text("old\nnew 1\npart"),
            lambda: path.write_text("old\nnew 1\npartial done\n"),
            lambda: path.write_text("fresh\n"),
        ]
    )

    def stop() -> bool:
        action = next(steps, None)
        if action is None:
            return True
        action()
        return False

    for _, line in follow([log], offsets, stop=stop, poll_seconds=0):
        seen.append(line)
    assert seen == ["new 1", "partial done", "fresh"]
