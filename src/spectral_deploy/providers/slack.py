"""``[notify] chat = "slack"``: the ops channel through a Slack incoming webhook.

A message is Block Kit blocks (a header, the text, the facts as fields) plus a plain
``text`` fallback, which Slack shows in notifications and where blocks cannot be drawn.
The webhook URL is itself the credential (anyone holding it can post to the channel),
so it comes only from ``SLACK_WEBHOOK_URL`` and is redacted like a token.
"""

from __future__ import annotations

import logging
from typing import Any

from spectral_deploy.config import Config
from spectral_deploy.errors import ConfigError
from spectral_deploy.providers.base import ChatMessage
from spectral_deploy.providers.http import (
    ApiClient,
    Secret,
    install_redaction,
    register_secret,
    secret_from_env,
)

__all__ = ["SlackChat", "from_config", "slack_payload"]

log = logging.getLogger(__name__)
install_redaction(__name__)

PROVIDER = "slack"
WEBHOOK_ENV = "SLACK_WEBHOOK_URL"
# Block Kit limits: header text 150 chars, section text 3000, 10 fields of 2000 each
HEADER_CHARS = 150
SECTION_CHARS = 3000
FIELD_CHARS = 2000
MAX_FIELDS = 10


def _escape(text: str) -> str:
    """Slack's mrkdwn reserves only these three characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(message: ChatMessage) -> dict[str, Any]:
    """The webhook body: blocks for Slack clients, ``text`` as the fallback."""
    facts = list(message.facts.items())
    fallback_lines = [message.title, message.text, *(f"{k}: {v}" for k, v in facts)]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(message.title, HEADER_CHARS)},
        },
    ]
    if message.text.strip():
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(_escape(message.text), SECTION_CHARS)},
            }
        )
    for start in range(0, len(facts), MAX_FIELDS):
        chunk = facts[start : start + MAX_FIELDS]
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {
                        "type": "mrkdwn",
                        "text": _cut(f"*{_escape(key)}*\n{_escape(value)}", FIELD_CHARS),
                    }
                    for key, value in chunk
                ],
            }
        )
    return {
        "text": _cut("\n".join(line for line in fallback_lines if line), SECTION_CHARS),
        "blocks": blocks,
    }


class SlackChat:
    """Posts to one channel's incoming webhook."""

    def __init__(self, api: ApiClient, webhook: Secret) -> None:
        self.api = api
        self._webhook = webhook

    def __repr__(self) -> str:
        return "SlackChat(webhook=***)"

    def send(self, message: ChatMessage) -> None:
        """Post ``message``; Slack answers ``ok`` or a short error word."""
        self.api.request(
            "POST",
            self._webhook.reveal(),
            operation="post message",
            json_body=slack_payload(message),
            expect_json=False,
        )
        log.info("action=slack.sent title=%s", message.title)


def from_config(config: Config) -> SlackChat:
    """The Slack webhook of ``SLACK_WEBHOOK_URL``."""
    webhook = secret_from_env(WEBHOOK_ENV, purpose="the ops channel's Slack incoming webhook URL")
    if not webhook.reveal().startswith(("https://", "http://")):
        raise ConfigError(
            "is not a URL (expected https://hooks.slack.com/services/...)",
            key=WEBHOOK_ENV,
            source="environment",
        )
    # the path of the webhook is the secret too (some logs print only paths)
    register_secret(webhook.reveal().split("://", 1)[1].partition("/")[2])
    api = ApiClient(provider=PROVIDER, base_url="", token=None, token_env=WEBHOOK_ENV)
    return SlackChat(api, webhook)
