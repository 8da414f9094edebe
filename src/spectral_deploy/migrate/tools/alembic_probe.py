"""Run by the app's own interpreter (``python -c``): list Alembic's revisions, render some to SQL.

    python -c "$(cat alembic_probe.py; cat probe_main.py)" CONFIG OUT [REVISION ...]

Writes JSON to OUT: every revision in upgrade order (id, parents, file), and for each
REVISION asked for (``all`` for every one) the SQL of ``alembic upgrade PARENT:REVISION
--sql`` (offline: no database), with, per SQL line, the position in the revision file of
the call that wrote it. Imports nothing but the standard library and Alembic, and keeps to
Python 3.8 syntax: it runs in the app's virtualenv, not spectral-deploy's.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
from types import FrameType
from typing import Any


def _position(frame: FrameType) -> list[int]:
    """(line, end line, column, end column) of the call a frame is at; columns in bytes."""
    line = frame.f_lineno
    positions = getattr(frame.f_code, "co_positions", None)
    if positions is not None:
        try:
            start, end, column, end_column = list(positions())[frame.f_lasti // 2]
            if start is not None:
                return [start, end or start, column or 0, end_column or 0]
        except (IndexError, ValueError):
            pass
    return [line, line, 0, 0]


def main(argv: list[str]) -> None:
    """List the revisions, render those asked for, write the JSON."""
    config_path, out_path, wanted = argv[0], argv[1], argv[2:]
    # the app's Alembic, in the app's interpreter
    command: Any = importlib.import_module("alembic.command")
    default_impl: Any = importlib.import_module("alembic.ddl.impl").DefaultImpl
    script_directory: Any = importlib.import_module("alembic.script").ScriptDirectory

    config = importlib.import_module("alembic.config").Config(
        config_path, output_buffer=io.StringIO()
    )
    script = script_directory.from_config(config)
    ordered = list(reversed(list(script.walk_revisions("base", "heads"))))
    revisions: list[dict[str, Any]] = []
    files: dict[str, str] = {}
    for revision in ordered:
        down = revision.down_revision
        parents = [] if down is None else ([down] if isinstance(down, str) else list(down))
        path = os.path.realpath(revision.path)
        files[path] = revision.revision
        revisions.append({"revision": revision.revision, "parents": parents, "path": path})

    chunks: list[tuple[list[int] | None, str]] = []
    original = default_impl.static_output

    def static_output(self: Any, text: str) -> None:
        frame: FrameType | None = sys._getframe(1)
        where = None
        while frame is not None:
            filename = os.path.realpath(frame.f_code.co_filename)
            if filename in files:
                where = _position(frame)
                break
            frame = frame.f_back
        chunks.append((where, text + "\n\n"))
        original(self, text)

    default_impl.static_output = static_output
    rendered: list[dict[str, Any]] = []
    names = [r["revision"] for r in revisions] if wanted == ["all"] else wanted
    by_id = {r["revision"]: r for r in revisions}
    for name in names:
        if name not in by_id:
            raise SystemExit("no revision " + repr(name) + " in " + script.dir)
        parents = by_id[name]["parents"]
        target = (parents[0] + ":" + name) if parents else name
        del chunks[:]
        sys.stderr.write("spectral-probe: alembic upgrade " + target + " --sql\n")
        sys.stderr.flush()
        command.upgrade(config, target, sql=True)
        text = "".join(chunk for _, chunk in chunks)
        lines: list[list[int] | None] = []
        for where, chunk in chunks:
            lines.extend([where] * chunk.count("\n"))
        rendered.append({"revision": name, "range": target, "sql": text, "lines": lines})
    with open(out_path, "w", encoding="utf-8") as out:  # noqa: PTH123 - plain for old Pythons
        json.dump({"revisions": revisions, "rendered": rendered}, out)
