"""The package layering: no two parts of ``spectral_deploy`` import each other."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import spectral_deploy

ROOT = Path(spectral_deploy.__file__).parent
PACKAGE = "spectral_deploy"
# a registry entry ("spectral_deploy.cutover.steps:fetch_from_config") imports its module
_ENTRY = re.compile(rf"^{PACKAGE}((?:\.\w+)+):\w+$")


def _unit(dotted: str) -> str | None:
    """The part of the package a module belongs to: its subpackage or top-level module."""
    parts = dotted.split(".")
    if parts[0] != PACKAGE or len(parts) < 2:
        return None
    return parts[1]


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = [PACKAGE, *relative.parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    """Every module of the package ``path`` imports: at the top, inside functions, under
    TYPE_CHECKING, and through registry strings."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            found.add(origin)
            # ``from spectral_deploy import cutover``: the name may be the subpackage itself
            if origin == PACKAGE:
                found.update(f"{PACKAGE}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            entry = _ENTRY.match(node.value)
            if entry:
                found.add(PACKAGE + entry.group(1))
    return found


def _edges() -> dict[tuple[str, str], list[str]]:
    """(importer's part, imported part) -> the files behind that edge."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(ROOT.rglob("*.py")):
        source = _unit(_module_name(path))
        if source is None:
            continue  # the package's own __init__: the public API may gather from anywhere
        for imported in _imported(path):
            target = _unit(imported)
            if target is not None and target != source:
                edges[source, target].append(str(path.relative_to(ROOT)))
    return edges


def test_the_import_walk_sees_the_known_dependencies() -> None:
    """The walk finds imports that exist (so an empty result means no cycle, not a blind walk)."""
    edges = _edges()
    assert ("cutover", "providers") in edges
    assert ("rollback", "cutover") in edges
    assert ("cli", "config") in edges


def test_no_two_packages_import_each_other() -> None:
    """No pair of packages (or top-level modules) imports each other, in any form."""
    edges = _edges()
    both_ways = sorted(
        f"{a} <-> {b}: {a} in {sorted(set(edges[a, b]))}, {b} in {sorted(set(edges[b, a]))}"
        for a, b in edges
        if a < b and (b, a) in edges
    )
    assert both_ways == []
