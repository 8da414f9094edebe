"""Finding an app's handlers from ``MODULE:ATTR`` (as uvicorn finds an app)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from spectral_deploy.errors import InputError
from spectral_deploy.outbox.handlers import Handlers

__all__ = ["load_handlers"]


def load_handlers(spec: str, *, search_path: Path | None = None) -> Handlers:
    """Import ``MODULE`` and return its ``ATTR``, a ``Handlers`` (or a function returning one)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise InputError(
            f"--app must look like package.module:handlers, got {spec!r}",
            hint="spectral-deploy worker --app shop.handlers:handlers",
        )
    directory = str((search_path or Path.cwd()).resolve())
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise InputError(
                f"cannot import {module_name!r} (looked in {directory} and the installed packages)"
            ) from exc
        raise
    target: object = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise InputError(f"{module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not isinstance(target, Handlers) and callable(target):
        target = target()
    if not isinstance(target, Handlers):
        raise InputError(
            f"{spec} is a {type(target).__name__}, not spectral_deploy.Handlers",
            hint="define `handlers = Handlers()` and register with @handlers.on('topic')",
        )
    return target
