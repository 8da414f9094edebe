"""Sandbox stand-ins: chat to a local log, no release pages, no error-rate source."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path

from spectral_deploy.config import Config
from spectral_deploy.providers.base import ChatMessage

__all__ = [
    "ConsoleChat",
    "NoErrorRate",
    "NoReleaseNotes",
    "chat_from_config",
    "error_rate_from_config",
    "release_notes_from_config",
]

log = logging.getLogger(__name__)


class ConsoleChat:
    """``ChatProvider`` that appends messages to ``.spectral/chat.log`` (one JSON a line)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, message: ChatMessage) -> None:
        """Append the message."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "at": time.time(),
            "title": message.title,
            "text": message.text,
            "facts": dict(message.facts),
        }
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
        log.info("action=chat.sent provider=console title=%s", message.title)


class NoReleaseNotes:
    """``ReleaseNotesProvider`` for projects without release pages."""

    def mark_rollback(self, tag: str, note: str) -> None:
        """Nothing to mark; the ledger and the incident log keep the story."""
        log.info("action=release_notes.skipped tag=%s", tag)


class NoErrorRate:
    """``ErrorRateProvider`` when no error tracker is configured: never a breach."""

    def error_count(self, release: str, start: datetime, end: datetime) -> int:
        """Zero: nothing to count against."""
        return 0


def chat_from_config(config: Config) -> ConsoleChat:
    """Console chat of a project."""
    return ConsoleChat(config.project_root / ".spectral" / "chat.log")


def release_notes_from_config(config: Config) -> NoReleaseNotes:
    """No release pages."""
    return NoReleaseNotes()


def error_rate_from_config(config: Config) -> NoErrorRate:
    """No error-rate source."""
    return NoErrorRate()
