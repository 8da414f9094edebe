"""Spectral Deploy: the app-side API.

    from spectral_deploy import emit, emit_many, Handlers

Apps write events with ``emit`` inside their own transaction; workers started with
``spectral-deploy worker --app pkg.module:handlers`` run the registered handlers.
Everything else is the ``spectral-deploy`` command.
"""

from spectral_deploy._version import __version__
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
