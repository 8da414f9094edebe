"""Which failures are the runbook's Class 5 conditions, confirmed, and which are errors to fix.

Pure. The runbook keeps Class 5 (disaster recovery) for code that cannot be rebuilt, a
database that is gone, and a region-wide outage. A failure becomes one of those facts only
when it is confirmed:

* the database: every one of ``DATABASE_ATTEMPTS`` connection attempts failed because the
  server did not answer. A server that answers and refuses us (wrong password, unknown
  role or database) is our configuration: an error naming ``DATABASE_URL`` (exit 2).
* a provider: every one of ``PROVIDER_READS`` reads failed with a 5xx, a timeout or a
  connection that never completed (``ProviderUnavailable``; the HTTP client has already
  retried each read). 401/403/404 are ours to fix: an error naming the token's variable
  or the config keys that name the vendor's objects (exit 2). 429 and any other answer
  say nothing about the vendor's health: they are reported as they are (exit 3).
"""

from __future__ import annotations

from collections.abc import Sequence

from spectral_deploy.errors import (
    ConfigError,
    DatabaseUnreachable,
    PreconditionFailed,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    SpectralError,
)

__all__ = [
    "DATABASE_ATTEMPTS",
    "DATABASE_RETRY_SECONDS",
    "PROVIDER_READS",
    "PROVIDER_RETRY_SECONDS",
    "database_down",
    "database_refusal",
    "provider_down",
    "provider_refusal",
]

DATABASE_ATTEMPTS = 3
# the pause before attempt 2, 3, ...
DATABASE_RETRY_SECONDS = (0.5, 1.5)
PROVIDER_READS = 2
PROVIDER_RETRY_SECONDS = 1.0

# what a server that answered says when it refuses us: ours to fix, not an outage
_REFUSALS = (
    "password authentication failed",
    "authentication failed",
    "no password supplied",
    "no pg_hba.conf entry",
    "does not exist",
    "permission denied",
    "is not valid",
)

# the settings each vendor's refusal points at: (the token's variable, the config keys)
_SETTINGS = {
    "render": ("RENDER_API_KEY", "[hosting] blue_service_id / green_service_id (and *_worker_*)"),
    "cloudflare": ("CLOUDFLARE_API_TOKEN", "[dns] zone_id / record"),
    "github": ("GITHUB_TOKEN", "[vcs] repository"),
}


def database_down(failures: Sequence[SpectralError], attempts: int = DATABASE_ATTEMPTS) -> bool:
    """Confirmed gone: ``attempts`` attempts, each one a server that did not answer."""
    return len(failures) >= attempts and all(_unanswered(f) for f in failures)


def provider_down(failures: Sequence[SpectralError], reads: int = PROVIDER_READS) -> bool:
    """Confirmed down: ``reads`` reads, each one a 5xx, a timeout or no connection."""
    return len(failures) >= reads and all(isinstance(f, ProviderUnavailable) for f in failures)


def database_refusal(exc: SpectralError) -> SpectralError | None:
    """None when ``exc`` may be an outage (try again); otherwise the clear error to raise."""
    if _unanswered(exc):
        return None
    if isinstance(exc, DatabaseUnreachable):
        return ConfigError(
            f"the database answered and refused us, which is not an outage: {exc.message}",
            key="database.url",
            source="DATABASE_URL",
            hint=exc.hint or "check the user, password and database name in DATABASE_URL",
        )
    return exc  # ConfigError, SchemaNotInstalled...: already clear, exit 2 or 3


def provider_refusal(exc: SpectralError) -> SpectralError | None:
    """None when ``exc`` may be an outage (read again); otherwise the clear error to raise."""
    if isinstance(exc, ProviderUnavailable):
        return None
    if isinstance(exc, ProviderRejected):
        token, keys = _SETTINGS.get(exc.provider, ("the provider's token", "the provider's ids"))
        setting = token if exc.status in (401, 403) else keys
        return ConfigError(
            f"{exc.message}: the vendor refused the request as ours to fix, not an outage",
            key=setting,
            source=f"{exc.provider} (HTTP {exc.status})",
            hint=exc.hint or f"check {setting}; docs/providers.md lists what each needs",
        )
    if isinstance(exc, ProviderRateLimited):
        return PreconditionFailed(
            f"{exc.message}: rate limited after every retry, which is not an outage",
            hint="wait a minute, then run the command again",
        )
    if isinstance(exc, ProviderError):
        return PreconditionFailed(
            f"{exc.message}: an unexpected answer, which does not show an outage",
            hint=exc.hint or "run the command again; docs/rollback.md says what Class 5 needs",
        )
    return exc


def _unanswered(exc: SpectralError) -> bool:
    if not isinstance(exc, DatabaseUnreachable):
        return False
    text = exc.message.lower()
    return not any(refusal in text for refusal in _REFUSALS)
