"""Live traffic for the sandbox: orders posted through the router, every outcome counted."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

__all__ = ["LoadGenerator", "LoadStats"]

APP_FAULT = "app fault"
INFRASTRUCTURE = "deploy or infrastructure"


@dataclass(frozen=True)
class LoadStats:
    """What the load generator saw."""

    served: int
    failed: int
    failed_by_cause: dict[str, int]
    by_color: dict[str, int]


class LoadGenerator:
    """Posts orders to ``http://127.0.0.1:<port>/orders`` in a thread until stopped.

    A 5xx the app itself answers (the shop's ``behavior`` fault) is an *app fault*; a 502
    or 503 from the router, a refused connection or a timeout is a failure of the deploy
    or the infrastructure, which a blue/green cutover must never cause.
    """

    def __init__(self, port: int, *, interval_seconds: float = 0.02) -> None:
        self.url = f"http://127.0.0.1:{port}/orders"
        self.interval_seconds = interval_seconds
        self._served = 0
        self._failed: dict[str, int] = {}
        self._by_color: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-load", daemon=True)

    def start(self) -> LoadGenerator:
        """Begin sending."""
        self._thread.start()
        return self

    def stop(self) -> LoadStats:
        """Stop sending and return the totals."""
        self._stop.set()
        self._thread.join(timeout=30)
        return self.stats()

    def stats(self) -> LoadStats:
        """The totals so far."""
        with self._lock:
            return LoadStats(
                served=self._served,
                failed=sum(self._failed.values()),
                failed_by_cause=dict(self._failed),
                by_color=dict(self._by_color),
            )

    def _run(self) -> None:
        number = 0
        while not self._stop.is_set():
            number += 1
            body = json.dumps({"customer": f"c{number % 50}", "total_cents": 1250}).encode()
            request = urllib.request.Request(  # noqa: S310 - an http URL we built
                self.url, data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                    color = response.headers.get("X-Spectral-Upstream", "?")
                    self._count(None, color)
            except urllib.error.HTTPError as exc:
                from_app = exc.code == 500 and exc.headers.get("X-Spectral-Upstream")
                self._count(APP_FAULT if from_app else f"{INFRASTRUCTURE}: HTTP {exc.code}", None)
            except OSError as exc:
                reason = getattr(exc, "reason", exc)
                self._count(f"{INFRASTRUCTURE}: {type(reason).__name__}", None)
            time.sleep(self.interval_seconds)

    def _count(self, failure: str | None, color: str | None) -> None:
        with self._lock:
            if failure is None:
                self._served += 1
                if color:
                    self._by_color[color] = self._by_color.get(color, 0) + 1
            else:
                self._failed[failure] = self._failed.get(failure, 0) + 1
