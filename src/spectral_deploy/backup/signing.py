"""Signed manifests: backups are authenticated, not only encrypted.

age needs only the *public* recipients to encrypt, so anyone who can write objects to the
storage could otherwise forge a backup (a dump of their choosing, with a manifest that
matches it). The backup writer holds an Ed25519 **signing key**; it signs every manifest
(and every verification record it writes). ``backup.signing_public_keys`` in the config
lists the public keys trusted to have written backups; readers refuse a manifest that is
unsigned, signed by another key, or whose signature does not match its content, unless
told ``--allow-unsigned``.

The signature covers the whole document (id, object name, sha256, size, dates,
recipients, tables) in a canonical JSON form, prefixed by the kind of document, so a
verification record can never pass for a manifest or the other way round::

    "signature": {"algorithm": "ed25519", "key": "ed25519:<base64>", "value": "<base64>"}

Key files: PEM PKCS#8 Ed25519 private keys, as ``spectral-deploy backup keygen`` or
``openssl genpkey -algorithm ed25519`` write them. Their content never reaches a message.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from spectral_deploy.errors import InputError

__all__ = [
    "KEY_ENV",
    "KEY_FILE_ENV",
    "PUBLIC_PREFIX",
    "SignatureStatus",
    "SigningKey",
    "Trust",
    "check_document",
    "generate_signing_key",
    "load_signing_key",
    "parse_public_keys",
    "sign_document",
    "signing_key_from",
]

log = logging.getLogger(__name__)

PUBLIC_PREFIX = "ed25519:"
ALGORITHM = "ed25519"
SIGNATURE_FIELD = "signature"
# the PEM text itself (a CI secret), or the path of the file holding it
KEY_ENV = "SPECTRAL_BACKUP_SIGNING_KEY"
KEY_FILE_ENV = "SPECTRAL_BACKUP_SIGNING_KEY_FILE"
KEYGEN_HINT = "spectral-deploy backup keygen --out backup-signing.pem"


class SignatureStatus(StrEnum):
    """What a document's signature says; the value is what ``backup list`` shows."""

    VALID = "valid"
    UNSIGNED = "unsigned"
    UNKNOWN_KEY = "untrusted key"
    INVALID = "BAD SIGNATURE"


@dataclass(frozen=True)
class Trust:
    """Which signatures a reader accepts."""

    public_keys: tuple[str, ...] = ()
    allow_unsigned: bool = False

    def accepts(self, status: SignatureStatus) -> bool:
        """Whether a document with this signature status may be used."""
        return status is SignatureStatus.VALID or self.allow_unsigned

    @classmethod
    def anything(cls) -> Trust:
        """Accept unsigned documents (``--allow-unsigned``; library callers that sign nothing)."""
        return cls(allow_unsigned=True)


class SigningKey:
    """An Ed25519 private key; ``repr`` shows the public key only."""

    def __init__(self, private: Ed25519PrivateKey, *, source: str) -> None:
        self._private = private
        self.source = source
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key = PUBLIC_PREFIX + base64.b64encode(raw).decode()

    def sign(self, payload: bytes) -> str:
        """The base64 signature of ``payload``."""
        return base64.b64encode(self._private.sign(payload)).decode()

    def __repr__(self) -> str:
        return f"SigningKey(source={self.source!r}, public_key={self.public_key!r})"


def generate_signing_key() -> tuple[bytes, str]:
    """A new key: its PEM (PKCS#8) and its public key (``ed25519:...``)."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, SigningKey(private, source="generated").public_key


def _from_pem(data: bytes, source: str) -> SigningKey:
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        # the text may be a secret with a typo: never echoed, never chained
        del exc
        raise InputError(
            f"{source}: not a PEM Ed25519 private key (without a passphrase)", hint=KEYGEN_HINT
        ) from None
    if not isinstance(private, Ed25519PrivateKey):
        raise InputError(f"{source}: the key is not an Ed25519 key", hint=KEYGEN_HINT)
    return SigningKey(private, source=source)


def load_signing_key(path: Path) -> SigningKey:
    """Read a signing key file; errors name the file, never the content."""
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise InputError(f"signing key file {path} does not exist", hint=KEYGEN_HINT) from exc
    except OSError as exc:
        raise InputError(f"signing key file {path} cannot be read: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("action=backup.signing_key_readable path=%s mode=%o", path, mode & 0o777)
    return _from_pem(data, f"signing key file {path}")


def signing_key_from(
    path: Path | None, *, configured: Path | None = None, environ: Mapping[str, str] | None = None
) -> SigningKey | None:
    """The writer's key: ``--signing-key FILE``, ``$SPECTRAL_BACKUP_SIGNING_KEY`` (the PEM),
    ``$SPECTRAL_BACKUP_SIGNING_KEY_FILE``, then ``backup.signing_key_file``; None if none."""
    environ = os.environ if environ is None else environ
    if path is not None:
        return load_signing_key(path)
    if environ.get(KEY_ENV):
        return _from_pem(environ[KEY_ENV].encode(), f"${KEY_ENV}")
    if environ.get(KEY_FILE_ENV):
        return load_signing_key(Path(environ[KEY_FILE_ENV]))
    if configured is not None:
        return load_signing_key(configured)
    return None


def parse_public_keys(values: Iterable[str], *, source: str) -> tuple[str, ...]:
    """Validate ``ed25519:<base64 of 32 bytes>`` public keys."""
    keys: list[str] = []
    for value in values:
        text = value.strip()
        try:
            _public(text)
        except ValueError as exc:
            raise InputError(
                f"{source}: {text!r} is not an Ed25519 public key (ed25519:<base64>)",
                hint=KEYGEN_HINT,
            ) from exc
        if text not in keys:
            keys.append(text)
    return tuple(keys)


def _public(text: str) -> Ed25519PublicKey:
    if not text.startswith(PUBLIC_PREFIX):
        raise ValueError("no ed25519: prefix")
    try:
        raw = base64.b64decode(text[len(PUBLIC_PREFIX) :], validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc
    if len(raw) != 32:
        raise ValueError("not 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def _canonical(kind: str, document: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in document.items() if k != SIGNATURE_FIELD}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return f"spectral-deploy {kind} v1\n{text}".encode()


def sign_document(kind: str, document: Mapping[str, Any], key: SigningKey) -> dict[str, Any]:
    """``document`` with its ``signature`` field."""
    return {
        **{k: v for k, v in document.items() if k != SIGNATURE_FIELD},
        SIGNATURE_FIELD: {
            "algorithm": ALGORITHM,
            "key": key.public_key,
            "value": key.sign(_canonical(kind, document)),
        },
    }


def check_document(
    kind: str, document: Mapping[str, Any], public_keys: Iterable[str]
) -> SignatureStatus:
    """Whether ``document`` carries a valid signature by one of ``public_keys``."""
    signature = document.get(SIGNATURE_FIELD)
    if signature is None:
        return SignatureStatus.UNSIGNED
    if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM:
        return SignatureStatus.INVALID
    key = signature.get("key")
    value = signature.get("value")
    if not isinstance(key, str) or not isinstance(value, str):
        return SignatureStatus.INVALID
    if key not in set(public_keys):
        return SignatureStatus.UNKNOWN_KEY
    try:
        _public(key).verify(base64.b64decode(value, validate=True), _canonical(kind, document))
    except (ValueError, binascii.Error, InvalidSignature):
        return SignatureStatus.INVALID
    return SignatureStatus.VALID
