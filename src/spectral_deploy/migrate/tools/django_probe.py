"""Run by the app's own interpreter (``python -c``): list Django's migrations, render some to SQL.

    python -c "$(cat django_probe.py; cat probe_main.py)" MANAGE_PY OUT [APP.NAME ...]

``manage.py`` runs as it always does (it sets ``DJANGO_SETTINGS_MODULE``), but its
``execute_from_command_line`` does this instead: write JSON to OUT with every migration
in the order ``migrate`` applies them (app, name, parents, file, how many operations),
and for each APP.NAME asked for (``all`` for every one) the output of ``manage.py
sqlmigrate APP NAME``, with, per SQL line, the index of the operation that wrote it.
Like ``sqlmigrate`` itself it needs the database (Django reads constraint names there).
Imports nothing but the standard library and Django, in Python 3.8 syntax.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import runpy
import sys
from types import FrameType
from typing import Any


def _operation_index() -> int | None:
    """The index of the operation ``Migration.apply`` is running, from the call stack."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "apply" and "operation" in frame.f_locals:
            migration = frame.f_locals.get("self")
            operation = frame.f_locals["operation"]
            for index, candidate in enumerate(getattr(migration, "operations", ())):
                if candidate is operation:
                    return index
        frame = frame.f_back
    return None


def _owners(entries: list[Any], owned: dict[int, int | None]) -> list[int | None]:
    """The operation of each collected entry: its own, else (the ``-- description`` header
    ``Migration.apply`` writes before an operation runs) the next one's, else the last."""
    owners = [owned.get(index) for index in range(len(entries))]
    following = None
    for index in range(len(entries) - 1, -1, -1):
        if owners[index] is not None:
            following = owners[index]
        elif str(entries[index]).startswith("--"):
            owners[index] = following
    last = None
    for index, owner in enumerate(owners):
        if owner is None:
            owners[index] = last
        last = owners[index]
    return owners


def probe(out_path: str, wanted: list[str]) -> None:
    """List the migrations, render those asked for, write the JSON."""
    importlib.import_module("django").setup()  # the app's Django, in the app's interpreter
    call_command: Any = importlib.import_module("django.core.management").call_command
    schema_editor: Any = importlib.import_module(
        "django.db.backends.base.schema"
    ).BaseDatabaseSchemaEditor
    loader_class: Any = importlib.import_module("django.db.migrations.loader").MigrationLoader

    loader = loader_class(None, ignore_no_migrations=True)
    graph = loader.graph
    plan: list[tuple[str, str]] = []
    for leaf in sorted(graph.leaf_nodes()):
        for node in graph.forwards_plan(leaf):
            if node not in plan:
                plan.append(node)
    migrations: list[dict[str, Any]] = []
    for app, name in plan:
        migration = loader.disk_migrations.get((app, name)) or graph.nodes[(app, name)]
        module = sys.modules.get(type(migration).__module__)
        path = getattr(module, "__file__", None)
        migrations.append(
            {
                "app": app,
                "name": name,
                "parents": [p[0] + "." + p[1] for p in sorted(graph.node_map[(app, name)].parents)],
                "path": os.path.realpath(path) if path else None,
                "operations": len(migration.operations),
            }
        )

    editors: list[tuple[Any, dict[int, int | None]]] = []
    original = schema_editor.execute

    def execute(self: Any, sql: Any, params: Any = ()) -> Any:
        if getattr(self, "collect_sql", False):
            if not any(editor is self for editor, _ in editors):
                editors.append((self, {}))
            owned = next(spans for editor, spans in editors if editor is self)
            before = len(self.collected_sql)
            result = original(self, sql, params)
            index = _operation_index()
            for entry in range(before, len(self.collected_sql)):
                owned[entry] = index
            return result
        return original(self, sql, params)

    schema_editor.execute = execute
    names = [m["app"] + "." + m["name"] for m in migrations] if wanted == ["all"] else wanted
    rendered: list[dict[str, Any]] = []
    for key in names:
        app, _, name = key.partition(".")
        del editors[:]
        sys.stderr.write("spectral-probe: python manage.py sqlmigrate " + app + " " + name + "\n")
        sys.stderr.flush()
        buffer = io.StringIO()
        call_command("sqlmigrate", app, name, stdout=buffer, no_color=True)
        text = buffer.getvalue()
        lines: list[int | None] = [None] * text.count("\n")
        if editors:
            editor, owned = editors[0]
            body = "\n".join(str(entry) for entry in editor.collected_sql)
            offset = text.find(body) if body else -1
            if offset >= 0:
                line = text.count("\n", 0, offset)
                owners = _owners(editor.collected_sql, owned)
                for statement, current in zip(editor.collected_sql, owners):  # noqa: B905
                    for _ in range(str(statement).count("\n") + 1):
                        if line < len(lines):
                            lines[line] = current
                        line += 1
        rendered.append({"migration": key, "sql": text, "lines": lines})
    with open(out_path, "w", encoding="utf-8") as out:  # noqa: PTH123 - plain for old Pythons
        json.dump({"migrations": migrations, "rendered": rendered}, out)


def main(argv: list[str]) -> None:
    """Run manage.py with its command line replaced by the probe."""
    manage_py, out_path, wanted = argv[0], argv[1], argv[2:]
    management: Any = importlib.import_module("django.core.management")

    def execute_from_command_line(argv: Any = None) -> None:
        probe(out_path, wanted)

    management.execute_from_command_line = execute_from_command_line
    sys.argv = [manage_py]
    runpy.run_path(manage_py, run_name="__main__")
