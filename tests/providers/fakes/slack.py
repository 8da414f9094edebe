"""A Slack incoming webhook: ``POST /services/T.../B.../<secret>`` with JSON.

Answers as Slack does: 200 ``ok``; 400 ``invalid_payload`` (not JSON) or ``no_text``
(neither text nor blocks); 404 ``no_service`` (unknown webhook); plain-text bodies.
The webhook URL is the credential: there is no Authorization header.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from tests.providers.fakes.base import FakeServer, Recorded, Reply, route

__all__ = ["FakeSlack"]


class FakeSlack(FakeServer):
    """One channel's incoming webhook."""

    provider = "slack"

    def __init__(self, secret: str | None = None) -> None:
        super().__init__(token=None)
        self.path = f"/services/T0SPECTRAL/B0DEPLOYS/{secret or secrets.token_hex(12)}"
        self.messages: list[dict[str, Any]] = []

    @property
    def webhook_url(self) -> str:
        """What ``SLACK_WEBHOOK_URL`` should be."""
        return self.url + self.path

    def authorized(self, request: Recorded) -> bool:
        return request.path == self.path

    def unauthorized(self, request: Recorded) -> Reply:
        return Reply(404, b"no_service")

    @route("POST", r"/services/[^/]+/[^/]+/[^/]+")
    def post(self, request: Recorded) -> Reply:
        try:
            payload = json.loads(request.body)
        except ValueError:
            return Reply(400, b"invalid_payload")
        if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
            return Reply(400, b"no_text")
        self.messages.append(payload)
        return Reply(200, b"ok", {"Content-Type": "text/html"})
