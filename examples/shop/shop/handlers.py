"""The shop's outbox handlers, run by `spectral-deploy worker --app shop.handlers:handlers`."""

from __future__ import annotations

from shop.db import connection
from spectral_deploy import Event, Handlers

handlers = Handlers()


@handlers.on("order.created")
def record_order(event: Event) -> None:
    """Record that the order's event was handled; the event id makes it idempotent."""
    conn = connection()
    with conn.transaction():
        conn.execute(
            "INSERT INTO handled_events (event_id, order_id, generation) VALUES (%s, %s, %s) "
            "ON CONFLICT (event_id) DO NOTHING",
            (event.id, event.payload["order_id"], event.generation),
        )
