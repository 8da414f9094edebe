"""The one redaction path: every error, log line, traceback and printed value goes through it.

Two kinds of secret are removed:

* **Registered values** (tokens read from the environment, the password of ``DATABASE_URL``,
  or the passwords of the libpq password file it names with ``passfile=``, as the embedded
  server's URLs do, or that ``PGPASSFILE`` names), in every form they travel in: raw,
  percent-encoded (``quote`` and ``quote_plus``) and percent-decoded. A value shorter than
  ``MIN_SECRET_CHARS`` is not registered (it would redact ordinary words); the patterns
  below still catch it where it sits in a URL.
* **Patterns**, whatever the value: the password of any ``scheme://user:password@`` URL,
  including ones no parser accepts (``postgresql+psycopg://``, a bad percent escape, an
  ``@`` in the password), libpq ``password=`` / ``sslpassword=`` keywords (spaces around
  ``=`` and quoted values included), the same keys as URL query parameters,
  ``Authorization`` header values, and the token psycopg echoes when it cannot decode a
  percent escape.

``redact`` is what ``cli/console.py`` applies to everything it prints (tracebacks
included, chained exceptions and all), what the log formatter applies to every record,
and what provider errors apply to their messages.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus, unquote

__all__ = [
    "MIN_SECRET_CHARS",
    "REDACTED",
    "SECRET_ENVIRONMENT",
    "RedactingFilter",
    "RedactingFormatter",
    "redact",
    "register_environment",
    "register_passfile",
    "register_secret",
    "register_url_password",
    "url_password",
]

REDACTED = "***"
MIN_SECRET_CHARS = 8
# a password taken from a URL is registered from this length (shorter ones only by pattern)
MIN_PASSWORD_CHARS = 4
# a libpq password file is read this far at most
MAX_PASSFILE_BYTES = 64 * 1024

# environment variables whose values are secrets wherever they are read
SECRET_ENVIRONMENT = (
    "RENDER_API_KEY",
    "CLOUDFLARE_API_TOKEN",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "SENTRY_AUTH_TOKEN",
    "SLACK_WEBHOOK_URL",
    "PGPASSWORD",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "SPECTRAL_BACKUP_SIGNING_KEY",
)
URL_ENVIRONMENT = ("DATABASE_URL", "SPECTRAL_DATABASE_URL", "SPECTRAL_DATABASE_APP_URL")


class _Registry:
    """The registered secrets, longest first (so a secret's prefix never leaves a tail)."""

    def __init__(self) -> None:
        self.values: set[str] = set()
        self.ordered: tuple[str, ...] = ()
        self.lock = threading.Lock()


_registry = _Registry()

# scheme://user:password@ -- the password runs to the last "@" before whitespace or a quote
_URL_USERINFO = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:\"'<>]*:)(?P<secret>[^\s\"'<>]*)(?=@)"
)
# libpq keyword/value strings: password=..., password = '...', sslpassword=...
_KEYWORD = re.compile(
    r"(?P<head>\b(?:ssl)?password\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'?|[^\s'\"&;,]+)",
    re.IGNORECASE,
)
# Authorization: Bearer xyz / Basic xyz
_AUTHORIZATION = re.compile(
    r"(?P<head>\bauthorization\s*[:=]\s*(?:[A-Za-z]+\s+)?)(?P<secret>[^\s\"',}]+)",
    re.IGNORECASE,
)
# psycopg: invalid percent-encoded token: "s3cr%ZZet"
_BAD_TOKEN = re.compile(r"(?P<head>percent-encoded token:\s*\")(?P<secret>[^\"]*)(?=\")")
_PATTERNS = (_URL_USERINFO, _KEYWORD, _AUTHORIZATION, _BAD_TOKEN)
# host:port:database:user:password, each of the first four with \\ escapes
_PGPASS_LINE = re.compile(r"^(?:(?:[^:\\]|\\.)*:){4}(?P<password>.+)$")
# passfile=/path as a URL query parameter (percent-encoded) or a libpq keyword
_PASSFILE = re.compile(
    r"(?:^|[\s?&])passfile\s*=\s*(?:'(?P<quoted>(?:[^'\\]|\\.)*)'|(?P<plain>[^\s&'\"#]+))",
    re.IGNORECASE,
)


def _forms(value: str) -> set[str]:
    forms = {value, quote(value, safe=""), quote_plus(value), quote(value)}
    decoded = unquote(value)
    if decoded != value:
        forms |= {decoded, quote(decoded, safe=""), quote_plus(decoded)}
    return {form for form in forms if form}


def register_secret(value: str, *, min_chars: int = MIN_SECRET_CHARS) -> None:
    """Redact ``value`` (raw, percent-encoded and decoded) from everything printed from now on."""
    if len(value) < min_chars:
        return
    with _registry.lock:
        _registry.values.update(_forms(value))
        _registry.ordered = tuple(sorted(_registry.values, key=len, reverse=True))


def url_password(url: str) -> str | None:
    """The password of a URL as written (not decoded), found without parsing the URL."""
    match = _URL_USERINFO.search(url)
    if match and match.group("secret"):
        return match.group("secret")
    keyword = _KEYWORD.search(url)
    if keyword:
        return keyword.group("secret").strip("'")
    return None


def register_url_password(url: str) -> None:
    """Register the password a URL or libpq string carries, in every form (and those of the
    password file it names)."""
    password = url_password(url)
    if password:
        register_secret(password, min_chars=MIN_PASSWORD_CHARS)
    for match in _PASSFILE.finditer(url):
        if match.group("quoted") is not None:
            register_passfile(re.sub(r"\\(.)", r"\1", match.group("quoted")))
        else:
            register_passfile(unquote(match.group("plain")))


def register_passfile(path: str) -> None:
    """Register every password in the libpq password file at ``path`` (if it is a readable
    regular file): a URL naming it carries those passwords as surely as its own."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return
        text = handle.read(MAX_PASSFILE_BYTES).decode("utf-8", errors="replace")
    for line in text.splitlines():
        password = _pgpass_password(line)
        if password:
            register_secret(password, min_chars=MIN_PASSWORD_CHARS)


def _pgpass_password(line: str) -> str | None:
    """The fifth field of a ``host:port:db:user:password`` line (``\\`` escapes honoured)."""
    if line.lstrip().startswith("#"):
        return None
    match = _PGPASS_LINE.match(line)
    return re.sub(r"\\(.)", r"\1", match.group("password")) if match else None


def register_environment(environ: Mapping[str, str], names: Iterable[str] = ()) -> None:
    """Register the well-known secret variables (and the passwords in the URL variables)."""
    for name in (*SECRET_ENVIRONMENT, *names):
        value = environ.get(name)
        if value:
            register_secret(value)
            if "://" in value:
                register_url_password(value)
    for name in URL_ENVIRONMENT:
        value = environ.get(name)
        if value:
            register_url_password(value)
    if environ.get("PGPASSFILE"):
        register_passfile(environ["PGPASSFILE"])


def redact(text: str) -> str:
    """``text`` with every registered secret and every secret-shaped value replaced by ``***``."""
    if not text:
        return text
    for secret in _registry.ordered:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(_replace, text)
    return text


def _replace(match: re.Match[str]) -> str:
    secret = match.group("secret")
    if not secret or secret == REDACTED:
        return match.group(0)
    return match.group("head") + REDACTED


class RedactingFilter(logging.Filter):
    """Rewrites a log record whose rendered message contains a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record is the logging module's to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RedactingFormatter(logging.Formatter):
    """A formatter whose whole output (message, exception text, stack) is redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
