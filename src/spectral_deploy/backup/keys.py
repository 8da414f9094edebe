"""age keys: recipients (public, in config) and identities (secret, in a file).

An identity file holds ``AGE-SECRET-KEY-1...`` lines (``#`` comments allowed), as
``age-keygen`` writes it. Its content never reaches a message, a log or a repr:
errors name the file and the line number only.
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pyrage import x25519

from spectral_deploy.errors import InputError

__all__ = ["Identities", "Recipients", "load_identities", "parse_recipients"]

log = logging.getLogger(__name__)

KEYGEN_HINT = "age-keygen -o backup.key  (then put its public key in backup.recipients)"


@dataclass(frozen=True)
class Recipients:
    """The age X25519 public keys a backup is encrypted to."""

    public_keys: tuple[str, ...]

    def objects(self) -> list[x25519.Recipient]:
        """pyrage recipient objects."""
        return [x25519.Recipient.from_str(key) for key in self.public_keys]


def parse_recipients(values: Iterable[str], *, source: str) -> Recipients:
    """Validate ``age1...`` public keys; a bad or missing one is an InputError naming ``source``."""
    keys: list[str] = []
    for value in values:
        text = value.strip()
        try:
            x25519.Recipient.from_str(text)
        except Exception as exc:
            raise InputError(
                f"{source}: {text!r} is not an age X25519 public key (age1...)",
                hint=KEYGEN_HINT,
            ) from exc
        if text not in keys:
            keys.append(text)
    if not keys:
        raise InputError(
            "no age recipients: a backup must be encrypted to at least one public key",
            hint="set backup.recipients in spectral.toml, or pass --recipient age1...; "
            f"to make a key pair: {KEYGEN_HINT}",
        )
    return Recipients(tuple(keys))


class Identities:
    """Secret age identities read from a file; repr shows the file and public keys only."""

    def __init__(self, path: Path, identities: list[x25519.Identity]) -> None:
        self.path = path
        self._identities = identities
        self.public_keys = tuple(str(identity.to_public()) for identity in identities)

    def objects(self) -> list[x25519.Identity]:
        """pyrage identity objects."""
        return list(self._identities)

    def __repr__(self) -> str:
        return f"Identities(path={str(self.path)!r}, public_keys={self.public_keys!r})"


def load_identities(path: Path) -> Identities:
    """Read an identity file; errors name the file and line, never the content."""
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise InputError(f"identity file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError(f"identity file {path} cannot be read: {reason}") from exc
    identities: list[x25519.Identity] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        try:
            identities.append(x25519.Identity.from_str(entry))
        except Exception:
            # the line may be a secret with a typo: it is never echoed, nor chained
            raise InputError(
                f"{path}:{number}: not an age X25519 identity (AGE-SECRET-KEY-1...)"
            ) from None
    if not identities:
        raise InputError(f"identity file {path} holds no age identity", hint=KEYGEN_HINT)
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("action=backup.identity_readable path=%s mode=%o", path, mode & 0o777)
    return Identities(path, identities)
