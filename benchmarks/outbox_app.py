"""No-op handlers for the outbox benchmark."""

from spectral_deploy import Event, Handlers

handlers = Handlers()


@handlers.on("bench.noop")
def noop(event: Event) -> None:
    """Do nothing: the benchmark measures the outbox, not the handler."""
