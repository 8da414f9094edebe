"""``spectral-deploy dns``: read and point the public CNAME, through any DNS provider.

What an operator runs by hand, and what the ``cloudflare-cname-flip`` composite action
calls: ``dns point green --yes``. The record is always read back after the change; a
read-back that differs from what was asked exits 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import OutputFormat, state
from spectral_deploy.errors import CheckFailed, UsageError

if TYPE_CHECKING:
    from spectral_deploy.config import Config
    from spectral_deploy.providers.base import DnsRecord

__all__ = ["app", "differences", "resolve_target"]

app = typer.Typer(
    help=(
        "The public hostname's CNAME: show where it points, point it at blue or green "
        "(the flip), read back to confirm.\n\n"
        "Example: spectral-deploy dns point green --yes"
    ),
    no_args_is_help=True,
)

FormatOption = Annotated[OutputFormat, typer.Option("--format", help="text or json")]
PROXIED_NOTE = (
    "the record is proxied by Cloudflare: its TTL is fixed at 300 s and the flip takes "
    "effect at Cloudflare's edge, not in resolvers"
)


def resolve_target(config: Config, target: str) -> str:
    """``blue``/``green`` through ``dns.blue_target``/``dns.green_target``; else as given."""
    word = target.strip().lower()
    if word == "blue":
        return config.dns.blue_target
    if word == "green":
        return config.dns.green_target
    if not target.strip():
        raise UsageError("TARGET is empty", hint="spectral-deploy dns point green")
    return target.strip()


def _norm(name: str) -> str:
    return name.strip().rstrip(".").lower()


def differences(record: DnsRecord, *, target: str, ttl: int) -> list[str]:
    """How a read-back record differs from what was asked (empty: it matches).

    A proxied record's TTL is Cloudflare's to choose, so only its target is compared.
    """
    found: list[str] = []
    if _norm(record.target) != _norm(target):
        found.append(f"target is {record.target}, expected {target}")
    if not record.proxied and record.ttl != ttl:
        found.append(f"TTL is {record.ttl} s, expected {ttl} s")
    return found


def _color_of(config: Config, target: str) -> str | None:
    for color, name in (("blue", config.dns.blue_target), ("green", config.dns.green_target)):
        if _norm(name) == _norm(target):
            return color
    return None


def _as_json(config: Config, record: DnsRecord) -> dict[str, Any]:
    return {
        "provider": config.dns.provider,
        "name": record.name,
        "target": record.target,
        "color": _color_of(config, record.target),
        "ttl": record.ttl,
        "proxied": record.proxied,
    }


def _describe(config: Config, record: DnsRecord) -> str:
    color = _color_of(config, record.target)
    where = f"{record.target} ({color})" if color else record.target
    how = "proxied" if record.proxied else "DNS only"
    return f"{record.name} CNAME {where}, TTL {record.ttl} s, {how}"


@app.command()
def show(ctx: typer.Context, format_: FormatOption = OutputFormat.TEXT) -> None:
    """Show where the public CNAME points now, as the DNS provider reports it.

    Example: spectral-deploy dns show --format json
    """
    from spectral_deploy.providers import dns_provider

    config = state(ctx).config()
    record = dns_provider(config).read()
    if format_ is OutputFormat.JSON:
        console.print_json(_as_json(config, record))
        return
    console.info(_describe(config, record))
    if record.proxied:
        console.info(f"note: {PROXIED_NOTE}")


@app.command()
def point(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            help="blue, green (dns.blue_target / dns.green_target), or a hostname to point at."
        ),
    ],
    ttl: Annotated[
        int | None,
        typer.Option(
            "--ttl",
            min=1,
            help="TTL in seconds (default: dns.ttl, 60; Cloudflare's minimum is 60 for a "
            "record that is not proxied).",
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    format_: FormatOption = OutputFormat.TEXT,
) -> None:
    """Point the public CNAME at TARGET, then read it back (exit 1 if it differs).

    This is the cutover's flip (and a Class 2 rollback's flip back). It moves production
    traffic, so it asks first unless --yes.

    Example: spectral-deploy dns point blue --yes
    """
    from spectral_deploy.providers import check_dns_ttl, dns_provider

    config = state(ctx).config()
    wanted = resolve_target(config, target)
    wanted_ttl = config.dns.ttl if ttl is None else ttl
    check_dns_ttl(config, wanted_ttl)
    dns = dns_provider(config)
    record = dns.read()
    if not differences(record, target=wanted, ttl=wanted_ttl):
        if format_ is OutputFormat.TEXT:
            console.info("already there; nothing to change")
    else:
        if not yes:
            console.info(f"now:  {_describe(config, record)}")
            console.info(f"will: {record.name} CNAME {wanted}, TTL {wanted_ttl} s")
            typer.confirm("Point the public hostname there?", abort=True)
        record = dns.point(wanted, wanted_ttl)
    problems = differences(record, target=wanted, ttl=wanted_ttl)
    if format_ is OutputFormat.JSON:
        console.print_json({**_as_json(config, record), "matches": not problems})
    else:
        console.success(_describe(config, record))
        if record.proxied:
            console.info(f"note: {PROXIED_NOTE}")
    if problems:
        raise CheckFailed(
            f"read back {record.name}: " + "; ".join(problems),
            hint="spectral-deploy dns show  (then point it again, or fix it at the provider)",
        )
