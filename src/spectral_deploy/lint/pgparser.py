"""libpg_query's parser and scanner (``pglast.parser``), loaded without pglast's AST classes.

``import pglast.parser`` first runs ``pglast/__init__``, which imports ``pglast.enums``,
and the extension module itself imports ``pglast.ast``: hundreds of node classes and enums
that cost more than linting a migration history, for a lint that only asks libpg_query for
JSON and tokens. So, when nothing has imported pglast yet, ``pglast.enums`` and
``pglast.ast`` are registered as stand-in modules that import the real one on first
attribute access and then become it (so code that does use them, later in the same
process, gets the real modules). The extension never touches them unless asked to build
AST objects, which the lint never does.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

__all__ = ["ParseError", "parse_plpgsql_json", "parse_sql_json", "scan", "split"]

_DEFERRED = ("pglast.enums", "pglast.ast")


class _Deferred(types.ModuleType):
    """Stands in for a module until an attribute is asked for, then imports it for real."""

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__") and attribute.endswith("__"):
            raise AttributeError(attribute)
        real = _load(self.__name__)
        self.__dict__.update(real.__dict__)
        return getattr(real, attribute)


def _load(name: str) -> types.ModuleType:
    stand_in = sys.modules.get(name)
    if isinstance(stand_in, _Deferred):
        del sys.modules[name]
    real = importlib.import_module(name)
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, real)
    return real


def _defer_ast_modules() -> None:
    if "pglast" in sys.modules:
        return  # already imported (tests, another tool in this process): nothing to save
    spec = importlib.util.find_spec("pglast")
    if spec is None or not spec.submodule_search_locations:
        return
    package = Path(next(iter(spec.submodule_search_locations)))
    for name in _DEFERRED:
        child = name.rpartition(".")[2]
        is_package = (package / child).is_dir()
        path = package / child / "__init__.py" if is_package else package / f"{child}.py"
        stand_in = _Deferred(name)
        stand_in.__file__ = str(path)
        stand_in.__spec__ = importlib.util.spec_from_file_location(
            name, path, submodule_search_locations=[str(path.parent)] if is_package else None
        )
        if is_package:
            stand_in.__path__ = [str(path.parent)]
        sys.modules[name] = stand_in


_defer_ast_modules()

from pglast.parser import (  # noqa: E402 - after the stand-ins are in place
    ParseError,
    parse_plpgsql_json,
    parse_sql_json,
    scan,
    split,
)
