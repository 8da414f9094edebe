"""``spectral-deploy backup``: encrypted pg_dump backups, proven by restoring them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spectral_deploy.cli import console
from spectral_deploy.cli.common import OutputFormat, state
from spectral_deploy.errors import CheckFailed, UsageError

if TYPE_CHECKING:
    from spectral_deploy.backup.catalog import CatalogEntry
    from spectral_deploy.backup.storage import Storage

__all__ = ["app"]

app = typer.Typer(
    help=(
        "Backups and disaster recovery: pg_dump streamed through age encryption to storage "
        "(file://, gs://, s3://), with a manifest beside each; verify restores a backup into "
        "a scratch database to prove it; restore brings one back.\n\n"
        "Example: spectral-deploy backup run --to gs://shop-backups/prod"
    ),
    no_args_is_help=True,
)

FormatOption = Annotated[OutputFormat, typer.Option("--format", help="text or json")]
FromOption = Annotated[
    str | None,
    typer.Option("--from", metavar="URL", help="Storage URL (default: backup.storage in config)."),
]
LatestOption = Annotated[
    bool, typer.Option("--latest", help="The newest backup (the default without --id).")
]
IdOption = Annotated[str | None, typer.Option("--id", metavar="ID", help="A backup id.")]
AllowUnsignedOption = Annotated[
    bool,
    typer.Option(
        "--allow-unsigned",
        help="Accept backups whose manifest is unsigned or not signed by a key in "
        "backup.signing_public_keys (only if you trust everyone who can write to the storage).",
    ),
]
SigningKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--signing-key",
        metavar="FILE",
        help="The writer's Ed25519 signing key (PEM; default $SPECTRAL_BACKUP_SIGNING_KEY, "
        "$SPECTRAL_BACKUP_SIGNING_KEY_FILE, backup.signing_key_file).",
        dir_okay=False,
    ),
]
IdentityOption = Annotated[
    Path,
    typer.Option(
        "--identity",
        "-i",
        metavar="FILE",
        help="age identity file (AGE-SECRET-KEY-1... lines) of one of the backup's recipients.",
        dir_okay=False,
    ),
]


def _storage(ctx: typer.Context, url: str | None) -> Storage:
    from spectral_deploy.backup.storage import open_storage

    config = state(ctx).config()
    return open_storage(url or config.backup.storage, project_root=config.project_root)


def _trust(ctx: typer.Context, allow_unsigned: bool) -> Any:
    from spectral_deploy.backup.signing import Trust, parse_public_keys

    config = state(ctx).config()
    keys = parse_public_keys(config.backup.signing_public_keys, source="backup.signing_public_keys")
    return Trust(public_keys=keys, allow_unsigned=allow_unsigned)


def _signing_key(ctx: typer.Context, path: Path | None) -> Any:
    from spectral_deploy.backup.signing import signing_key_from

    config = state(ctx).config()
    configured = config.backup.signing_key_file
    if configured is not None and not configured.is_absolute():
        configured = config.project_root / configured
    return signing_key_from(path, configured=configured)


def _refuse_password(option: str, url: str) -> None:
    from spectral_deploy.config import url_has_password

    if url_has_password(url):
        raise UsageError(
            f"the {option} URL carries a password; command lines show up in ps and shell history",
            hint="drop the password from the URL and export PGPASSWORD (or use ~/.pgpass)",
        )


@app.command()
def run(
    ctx: typer.Context,
    to: Annotated[
        str | None,
        typer.Option("--to", metavar="URL", help="Storage URL (default: backup.storage)."),
    ] = None,
    recipient: Annotated[
        list[str] | None,
        typer.Option(
            "--recipient",
            "-r",
            metavar="AGE_PUBLIC_KEY",
            help="Encrypt to this age public key (repeatable; replaces backup.recipients).",
        ),
    ] = None,
    signing_key: SigningKeyOption = None,
    allow_unsigned: Annotated[
        bool,
        typer.Option(
            "--allow-unsigned",
            help="Write the backup without a signing key (readers will refuse it unless "
            "they pass --allow-unsigned too).",
        ),
    ] = False,
    format_: FormatOption = OutputFormat.TEXT,
) -> None:
    """Back up the database: pg_dump -> age -> storage, streamed, with a signed manifest.

    The database is the configured one (DATABASE_URL, or the embedded server). The dump
    is encrypted to every recipient (e.g. the ops key and an offline break-glass key),
    uploaded under a temporary name and committed only when complete.

    Example: spectral-deploy backup run --to gs://shop-backups/prod -r age1ops... -r age1glass...
    """
    from spectral_deploy.backup.keys import parse_recipients
    from spectral_deploy.backup.pipeline import run_backup
    from spectral_deploy.db.connect import resolve_url

    config = state(ctx).config()
    recipients = parse_recipients(
        recipient or config.backup.recipients,
        source="--recipient" if recipient else "backup.recipients",
    )
    key = _signing_key(ctx, signing_key)
    if key is None and not allow_unsigned:
        raise UsageError(
            "no signing key: a backup's manifest is signed so that nobody who can merely "
            "write to the storage can forge one",
            hint="spectral-deploy backup keygen --out backup-signing.pem, then "
            "--signing-key FILE (or SPECTRAL_BACKUP_SIGNING_KEY_FILE); or --allow-unsigned",
        )
    storage = _storage(ctx, to)
    database_url = resolve_url(config, create=False)
    with console.progress("backup", None) as update:
        result = run_backup(
            database_url,
            storage,
            recipients,
            schema=config.database.schema,
            pg_bin_dir=config.backup.pg_bin_dir,
            exclude_schemas=config.backup.exclude_schemas,
            progress=update,
            signing_key=key,
        )
    manifest = result.manifest
    if format_ is OutputFormat.JSON:
        console.print_json(result.as_json())
        return
    console.success(
        f"backup {manifest.id} of {manifest.database} (PostgreSQL {manifest.server_version}) "
        f"stored in {result.storage_url}: {console.human_size(manifest.size_bytes)} "
        f"in {result.seconds:.1f}s"
    )
    console.info(f"sha256: {manifest.sha256}")
    if result.excluded_schemas:
        console.info(
            f"left out (the platform's own, or backup.exclude_schemas): "
            f"{', '.join(result.excluded_schemas)}"
        )
    console.info(f"next:   spectral-deploy backup verify --id {manifest.id} --identity FILE")


@app.command("list")
def list_(
    ctx: typer.Context,
    from_: FromOption = None,
    allow_unsigned: AllowUnsignedOption = False,
    format_: FormatOption = OutputFormat.TEXT,
) -> None:
    """List backups, newest first, with size, age, signature and whether they were verified.

    Backups whose manifest is not signed by a trusted key are listed, flagged, and never
    used by verify, restore or prune (unless --allow-unsigned).

    Example: spectral-deploy backup list --from gs://shop-backups/prod --format json
    """
    from spectral_deploy.backup.catalog import listing_as_json, read_catalog

    storage = _storage(ctx, from_)
    entries = read_catalog(storage, _trust(ctx, allow_unsigned))
    now = datetime.now(UTC)
    if format_ is OutputFormat.JSON:
        console.print_json(listing_as_json(storage.url, entries, now))
        return
    if not entries:
        console.info(f"no backups in {storage.url}")
        return
    console.print_table(
        ["id", "created (UTC)", "age", "size", "database", "gen", "signature", "verified"],
        [
            (
                e.id,
                e.manifest.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                "IN THE FUTURE" if e.from_the_future(now) else _age(e.age_seconds(now)),
                console.human_size(e.manifest.size_bytes),
                e.manifest.database,
                e.manifest.generation,
                str(e.signature) + ("" if e.trusted else " (refused)"),
                _verified_text(e, now),
            )
            for e in entries
        ],
        title=storage.url,
    )
    refused = [e.id for e in entries if not e.trusted]
    if refused:
        console.warn(
            f"{len(refused)} backup(s) are not signed by a key in backup.signing_public_keys "
            f"and are refused: {', '.join(refused)}"
        )


@app.command()
def verify(
    ctx: typer.Context,
    identity: IdentityOption,
    from_: FromOption = None,
    latest: LatestOption = False,
    backup_id: IdOption = None,
    scratch_server: Annotated[
        str | None,
        typer.Option(
            "--scratch-server",
            metavar="URL",
            help="Server to restore into (default: backup.scratch_server_url, else the "
            "embedded server). Needs CREATE DATABASE.",
        ),
    ] = None,
    allow_unsigned: AllowUnsignedOption = False,
    signing_key: SigningKeyOption = None,
    format_: FormatOption = OutputFormat.TEXT,
) -> None:
    """Prove a backup: check its manifest's signature, download, check sha256, decrypt,
    restore into a scratch database as a throwaway role that is not a superuser,
    compare the tables and row counts with the manifest, drop the scratch database, and
    record the result beside the backup (signed with the signing key when there is one).
    Exit 1 if any check fails.

    Example: spectral-deploy backup verify --latest --identity ~/.config/spectral/backup.key
    """
    from spectral_deploy.backup.catalog import read_catalog, select_backup
    from spectral_deploy.backup.keys import load_identities
    from spectral_deploy.backup.restore import verify_backup
    from spectral_deploy.db.embedded import EmbeddedServer

    config = state(ctx).config()
    identities = load_identities(identity)
    storage = _storage(ctx, from_)
    entry = select_backup(
        read_catalog(storage, _trust(ctx, allow_unsigned)),
        storage_url=storage.url,
        backup_id=backup_id,
        latest=latest,
    )
    key = _signing_key(ctx, signing_key)
    scratch_url = scratch_server or config.backup.scratch_server_url
    if scratch_server:
        _refuse_password("--scratch-server", scratch_server)
    if scratch_url is None:
        scratch_url = EmbeddedServer(config.embedded_data_dir).ensure_started().url("postgres")
        assert scratch_url is not None
    with console.progress(f"verify {entry.id}", entry.manifest.size_bytes) as update:
        result = verify_backup(
            storage,
            entry.manifest,
            identities,
            scratch_server_url=scratch_url,
            pg_bin_dir=config.backup.pg_bin_dir,
            progress=update,
            signing_key=key,
        )
    if format_ is OutputFormat.JSON:
        console.print_json(result.as_json())
    else:
        console.print_table(
            ["check", "ok", "detail"],
            [(c.name, "yes" if c.ok else "NO", c.detail) for c in result.checks],
            title=f"backup {entry.id}",
        )
    if not result.ok:
        raise CheckFailed(
            f"backup {entry.id} did not verify: {result.error}",
            hint="do not rely on this backup; take a new one: spectral-deploy backup run",
        )
    if format_ is OutputFormat.TEXT:
        console.success(f"backup {entry.id} verified: restored and checked in a scratch database")


@app.command()
def restore(
    ctx: typer.Context,
    identity: IdentityOption,
    to_database: Annotated[
        str,
        typer.Option(
            "--to-database",
            metavar="URL",
            help="Database to restore into (no password in the URL: use PGPASSWORD).",
        ),
    ],
    from_: FromOption = None,
    latest: LatestOption = False,
    backup_id: IdOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Restore into a database that holds tables (replaces those objects)."
        ),
    ] = False,
    no_owner: Annotated[
        bool,
        typer.Option(
            "--no-owner", help="Skip ownership and grants (when the target lacks the roles)."
        ),
    ] = False,
    allow_unsigned: AllowUnsignedOption = False,
    format_: FormatOption = OutputFormat.TEXT,
) -> None:
    """Restore a backup into a database, in one transaction: it all lands or nothing does.

    Refuses a database that already holds tables unless --force. The object's sha256 is
    confirmed before pg_restore can finish, so a corrupt backup never half-restores.

    Example: spectral-deploy backup restore --latest -i backup.key --to-database postgresql://ops@db-new/app
    """
    from spectral_deploy.backup.catalog import read_catalog, select_backup
    from spectral_deploy.backup.keys import load_identities
    from spectral_deploy.backup.restore import restore_backup

    _refuse_password("--to-database", to_database)
    config = state(ctx).config()
    identities = load_identities(identity)
    storage = _storage(ctx, from_)
    entries = read_catalog(storage, _trust(ctx, allow_unsigned))
    entry = select_backup(entries, storage_url=storage.url, backup_id=backup_id, latest=latest)
    if not entry.verified:
        newest_verified = next((e.id for e in entries if e.verified), None)
        console.warn(
            f"backup {entry.id} has not been verified"
            + (f"; the newest verified one is {newest_verified}" if newest_verified else "")
        )
    with console.progress(f"restore {entry.id}", entry.manifest.size_bytes) as update:
        result = restore_backup(
            storage,
            entry.manifest,
            identities,
            target_url=to_database,
            force=force,
            no_owner=no_owner,
            pg_bin_dir=config.backup.pg_bin_dir,
            progress=update,
        )
    if format_ is OutputFormat.JSON:
        console.print_json(result.as_json())
        return
    console.success(
        f"backup {result.backup_id} restored into {result.target} in {result.seconds:.1f}s "
        f"(pg_restore {result.pg_restore_version})"
    )


@app.command()
def prune(
    ctx: typer.Context,
    keep_daily: Annotated[
        int | None, typer.Option("--keep-daily", min=0, help="Days to keep (default: config).")
    ] = None,
    keep_weekly: Annotated[
        int | None, typer.Option("--keep-weekly", min=0, help="ISO weeks to keep.")
    ] = None,
    keep_monthly: Annotated[
        int | None, typer.Option("--keep-monthly", min=0, help="Months to keep.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be deleted; delete nothing.")
    ] = False,
    from_: FromOption = None,
    allow_unsigned: AllowUnsignedOption = False,
    format_: FormatOption = OutputFormat.TEXT,
) -> None:
    """Delete backups the retention policy does not keep (the newest of each of the last N
    days, ISO weeks and months, in UTC). Never deletes the newest verified backup, and
    never one the storage holds under a retention lock or hold.

    Example: spectral-deploy backup prune --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run
    """
    from spectral_deploy.backup.prune import prune as run_prune
    from spectral_deploy.backup.retention import Policy

    config = state(ctx).config()
    policy = Policy(
        keep_daily=config.backup.keep_daily if keep_daily is None else keep_daily,
        keep_weekly=config.backup.keep_weekly if keep_weekly is None else keep_weekly,
        keep_monthly=config.backup.keep_monthly if keep_monthly is None else keep_monthly,
    )
    if not (policy.keep_daily or policy.keep_weekly or policy.keep_monthly):
        raise UsageError(
            "every keep count is 0: that would delete all but the newest verified backup",
            hint="spectral-deploy backup prune --keep-daily 7 --keep-weekly 4 --keep-monthly 6",
        )
    storage = _storage(ctx, from_)
    report = run_prune(storage, policy, dry_run=dry_run, trust=_trust(ctx, allow_unsigned))
    if report.refused:
        console.warn(
            f"{len(report.refused)} backup(s) not signed by a key in backup.signing_public_keys "
            f"were left alone (neither counted nor deleted): "
            + ", ".join(f"{e.id} ({e.signature})" for e in report.refused)
        )
    if format_ is OutputFormat.JSON:
        console.print_json(report.as_json())
        return
    if not report.items:
        console.info(f"no backups in {report.storage_url}")
        return
    console.print_table(
        ["id", "created (UTC)", "verified", "action", "why kept"],
        [
            (
                item.entry.id,
                item.entry.manifest.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                "yes" if item.entry.verified else "no",
                item.action(report.dry_run),
                ", ".join(str(r) for r in item.decision.reasons),
            )
            for item in report.items
        ],
        title=report.storage_url,
    )
    for item in report.locked:
        reason = item.locked_message or (item.hold.describe() if item.hold else "locked")
        console.warn(
            f"backup {item.entry.id} is past the retention policy but kept: the storage "
            f"holds it ({reason}); it can be deleted once the lock is released or expires"
        )
    verb = "would delete" if report.dry_run else "deleted"
    console.info(f"{verb} {len(report.deleted)} of {len(report.items)} backup(s)")


@app.command()
def keygen(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE",
            help="Where to write the private key (mode 0600).",
            dir_okay=False,
        ),
    ],
) -> None:
    """Create the backup writer's Ed25519 signing key; print the public key for the config.

    The private key signs every manifest `backup run` writes; keep it where only the
    backup writer (the nightly job) can read it. The public key goes in
    backup.signing_public_keys, where every reader checks manifests against it.

    Example: spectral-deploy backup keygen --out backup-signing.pem
    """
    import os

    from spectral_deploy.backup.signing import generate_signing_key

    pem, public = generate_signing_key()
    try:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError as exc:
        raise UsageError(f"{out} already exists; not overwriting a key") from exc
    except OSError as exc:
        raise UsageError(f"cannot create {out}: {exc.strerror}") from exc
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    console.success(f"signing key written to {out} (keep it secret: it can sign backups)")
    console.info(f"public key: {public}")
    console.info("put it in spectral.toml:")
    console.info(f'  [backup]\n  signing_public_keys = ["{public}"]')


def _verified_text(entry: CatalogEntry, now: datetime) -> str:
    if not entry.intact:
        return "MISSING OBJECT" if entry.stored_size is None else "SIZE MISMATCH"
    if entry.verification is None:
        return "no"
    when = _age((now - entry.verification.verified_at).total_seconds())
    return f"yes ({when} ago)" if entry.verification.ok else f"FAILED ({when} ago)"


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(0, int(seconds // 60))}m"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"
