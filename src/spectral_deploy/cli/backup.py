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
    format_: FormatOption = OutputFormat.TEXT,
) -> None:
    """Back up the database: pg_dump -> age -> storage, streamed, with a manifest beside it.

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
    storage = _storage(ctx, to)
    database_url = resolve_url(config)
    with console.progress("backup", None) as update:
        result = run_backup(
            database_url,
            storage,
            recipients,
            schema=config.database.schema,
            pg_bin_dir=config.backup.pg_bin_dir,
            exclude_schemas=config.backup.exclude_schemas,
            progress=update,
        )
    manifest = result.manifest
    if format_ is OutputFormat.JSON:
        console.print_json(
            {
                **manifest.as_json(),
                "storage": result.storage_url,
                "seconds": result.seconds,
                "excluded_schemas": list(result.excluded_schemas),
            }
        )
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
    format_: FormatOption = OutputFormat.TEXT,
) -> None:
    """List backups, newest first, with size, age and whether they were verified.

    Example: spectral-deploy backup list --from gs://shop-backups/prod --format json
    """
    from spectral_deploy.backup.catalog import read_catalog

    storage = _storage(ctx, from_)
    entries = read_catalog(storage)
    now = datetime.now(UTC)
    if format_ is OutputFormat.JSON:
        console.print_json(
            {"storage": storage.url, "backups": [_entry_json(e, now) for e in entries]}
        )
        return
    if not entries:
        console.info(f"no backups in {storage.url}")
        return
    console.print_table(
        ["id", "created (UTC)", "age", "size", "database", "gen", "verified"],
        [
            (
                e.id,
                e.manifest.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                _age(e.age_seconds(now)),
                console.human_size(e.manifest.size_bytes),
                e.manifest.database,
                e.manifest.generation,
                _verified_text(e, now),
            )
            for e in entries
        ],
        title=storage.url,
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
    format_: FormatOption = OutputFormat.TEXT,
) -> None:
    """Prove a backup: download, check sha256, decrypt, restore into a scratch database,
    compare the tables and row counts with the manifest, drop the scratch database, and
    record the result beside the backup. Exit 1 if any check fails.

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
        read_catalog(storage), storage_url=storage.url, backup_id=backup_id, latest=latest
    )
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
    entries = read_catalog(storage)
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
        console.print_json(
            {
                "backup_id": result.backup_id,
                "target": result.target,
                "size_bytes": result.size_bytes,
                "pg_restore_version": result.pg_restore_version,
                "seconds": round(result.seconds, 3),
                "replaced_existing_objects": result.replaced,
            }
        )
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
    report = run_prune(storage, policy, dry_run=dry_run)
    if format_ is OutputFormat.JSON:
        console.print_json(
            {
                "storage": report.storage_url,
                "dry_run": report.dry_run,
                "policy": {
                    "keep_daily": policy.keep_daily,
                    "keep_weekly": policy.keep_weekly,
                    "keep_monthly": policy.keep_monthly,
                },
                "backups": [
                    {
                        "id": item.entry.id,
                        "created_at": item.entry.manifest.created_at.isoformat(),
                        "verified": item.entry.verified,
                        "action": _prune_action(item, report.dry_run),
                        "reasons": [str(r) for r in item.decision.reasons],
                        "lock": item.locked_message
                        or (item.hold.describe() if item.hold else None),
                    }
                    for item in report.items
                ],
            }
        )
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
                _prune_action(item, report.dry_run),
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


def _prune_action(item: Any, dry_run: bool) -> str:
    if item.deleted:
        return "would delete" if dry_run else "deleted"
    if item.kept_only_by_lock:
        return "kept (locked)"
    return "keep"


def _entry_json(entry: CatalogEntry, now: datetime) -> dict[str, Any]:
    manifest = entry.manifest
    return {
        "id": entry.id,
        "created_at": manifest.created_at.isoformat(),
        "age_seconds": round(entry.age_seconds(now), 1),
        "size_bytes": manifest.size_bytes,
        "stored_size_bytes": entry.stored_size,
        "intact": entry.intact,
        "sha256": manifest.sha256,
        "database": manifest.database,
        "server_version": manifest.server_version,
        "generation": manifest.generation,
        "recipients": list(manifest.recipients),
        "tables": len(manifest.tables),
        "verified": entry.verified,
        "verification": entry.verification.as_json() if entry.verification else None,
    }


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
