"""The generation-routed transactional outbox: emit, handlers, store, worker, status."""

from spectral_deploy.outbox.emit import emit, emit_many
from spectral_deploy.outbox.handlers import Event, Handlers

__all__ = ["Event", "Handlers", "emit", "emit_many"]
