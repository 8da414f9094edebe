-- What the workers did with each order.created event (the event id is the idempotency key).
CREATE TABLE handled_events (
    event_id bigint PRIMARY KEY,
    order_id bigint NOT NULL,
    generation bigint NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now()
);
