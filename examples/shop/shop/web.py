"""The shop's web app (standard library HTTP server + psycopg).

    GET  /health        200 when the database answers; says which generation serves
    POST /orders        {"customer": "...", "total_cents": 1200} -> 201 {"id": ..}
    GET  /orders/<id>   the order

An order and its ``order.created`` outbox event are written in one transaction.

    python -m shop.web --port 8101
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg

from shop import release
from shop.db import connection
from spectral_deploy import emit

GENERATION = int(os.environ.get("SPECTRAL_GENERATION", "0"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/health":
            try:
                connection().execute("SELECT 1").fetchone()
                connection().rollback()
            except psycopg.Error as exc:
                self._reply(503, {"status": "database unreachable", "error": str(exc)})
                return
            self._reply(
                200, {"status": "ok", "generation": GENERATION, "version": release.VERSION}
            )
        elif self.path.startswith("/orders/"):
            self._get_order(self.path.rsplit("/", 1)[-1])
        elif self.path == "/":
            self._reply(200, {"app": "shop", "version": release.VERSION, "generation": GENERATION})
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/orders":
            self._reply(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            order = json.loads(self.rfile.read(length) or b"{}")
            customer = str(order["customer"])
            total = int(order["total_cents"])
        except (ValueError, KeyError, TypeError):
            self._reply(400, {"error": "expected {customer, total_cents}"})
            return
        if release.FAULT == "behavior" and random.random() < 0.3:  # noqa: S311
            self._reply(500, {"error": "the new checkout code fell over"})
            return
        if release.FAULT == "data":
            total *= 100  # the bug: cents taken for dollars
        conn = connection()
        try:
            with conn.transaction():
                if release.WRITES_EMAIL:
                    row = conn.execute(
                        "INSERT INTO orders (customer, customer_email, total_cents, generation) "
                        "VALUES (%s, %s, %s, %s) RETURNING id",
                        (customer, order.get("email") or f"{customer}@example.com", total, GENERATION),
                    ).fetchone()
                else:
                    row = conn.execute(
                        "INSERT INTO orders (customer, total_cents, generation) VALUES (%s, %s, %s) "
                        "RETURNING id",
                        (customer, total, GENERATION),
                    ).fetchone()
                assert row is not None
                emit(conn, "order.created", {"order_id": row[0], "total_cents": total})
        except psycopg.Error as exc:
            self._reply(503, {"error": f"database: {exc}"})
            return
        self._reply(201, {"id": row[0], "generation": GENERATION, "version": release.VERSION})

    def _get_order(self, raw_id: str) -> None:
        try:
            order_id = int(raw_id)
        except ValueError:
            self._reply(400, {"error": "order ids are integers"})
            return
        conn = connection()
        row = conn.execute(
            "SELECT id, customer, total_cents, generation FROM orders WHERE id = %s", (order_id,)
        ).fetchone()
        conn.rollback()
        if row is None:
            self._reply(404, {"error": "no such order"})
            return
        self._reply(
            200, {"id": row[0], "customer": row[1], "total_cents": row[2], "generation": row[3]}
        )

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


class Server(ThreadingHTTPServer):
    # on SIGTERM, requests in progress are answered before the process exits
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True


def main() -> None:
    parser = argparse.ArgumentParser(prog="shop.web")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"shop {release.VERSION} (generation {GENERATION}) on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()


if __name__ == "__main__":
    main()
