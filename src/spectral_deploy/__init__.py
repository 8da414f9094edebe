"""Spectral Deploy: the app-side API.

    from spectral_deploy import emit, emit_many, Handlers

Apps write events with ``emit`` inside their own transaction; workers started with
``spectral-deploy worker --app pkg.module:handlers`` run the registered handlers.
Everything else is the ``spectral-deploy`` command.

The names are loaded on first use (PEP 562), so ``import spectral_deploy`` (and the
``spectral-deploy lint`` command line, which runs on every pull request) does not pay
for psycopg until something needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from spectral_deploy._version import __version__

if TYPE_CHECKING:
    from spectral_deploy.errors import GenerationUnknown, InvalidEvent, SpectralError
    from spectral_deploy.outbox.emit import emit, emit_many
    from spectral_deploy.outbox.handlers import Event, Handlers

__all__ = [
    "Event",
    "GenerationUnknown",
    "Handlers",
    "InvalidEvent",
    "SpectralError",
    "__version__",
    "emit",
    "emit_many",
]

_WHERE = {
    "Event": "spectral_deploy.outbox.handlers",
    "Handlers": "spectral_deploy.outbox.handlers",
    "emit": "spectral_deploy.outbox.emit",
    "emit_many": "spectral_deploy.outbox.emit",
    "GenerationUnknown": "spectral_deploy.errors",
    "InvalidEvent": "spectral_deploy.errors",
    "SpectralError": "spectral_deploy.errors",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'spectral_deploy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
