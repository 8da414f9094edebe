"""Finding 2: backups are trusted by their signature, never by what storage holds."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tests.backup_support import KeyPair, make_keypair
from tests.security.conftest import cli


@dataclass
class Archive:
    """A project with a signed, verified backup in ``file://backups``."""

    root: Path
    keys: KeyPair
    url: str

    @property
    def storage(self) -> Path:
        return self.root / "backups"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli(self.root, *args, timeout=180)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.run(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def listed(self, *extra: str) -> list[dict[str, object]]:
        return list(
            json.loads(self.ok("backup", "list", "--format", "json", *extra).stdout)["backups"]
        )

    def manifest(self, backup_id: str) -> dict[str, object]:
        return dict(json.loads((self.storage / f"{backup_id}.manifest.json").read_text()))


@pytest.fixture(scope="module")
def archive() -> Iterator[Archive]:
    """Two signed backups of an embedded database, the newer one verified."""
    root = Path(tempfile.mkdtemp(prefix="spectral-sec-backup-"))
    root.chmod(0o755)
    keys = make_keypair(root, "ops.key")
    made = cli(root, "backup", "keygen", "--out", str(root / "signing.pem"))
    public = made.stdout.split("public key: ")[1].split()[0]
    (root / "spectral.toml").write_text(
        f'[backup]\nstorage = "file://backups"\nrecipients = ["{keys.public_key}"]\n'
        f'signing_public_keys = ["{public}"]\nsigning_key_file = "signing.pem"\n'
    )
    archive = Archive(root, keys, "")
    try:
        archive.ok("db", "init")
        archive.url = archive.ok("db", "url").stdout.strip()
        with psycopg.connect(archive.url) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS accounts (id int PRIMARY KEY)")
            conn.execute("INSERT INTO accounts VALUES (1), (2) ON CONFLICT DO NOTHING")
        archive.ok("backup", "run")
        archive.ok("backup", "run")
        archive.ok("backup", "verify", "--latest", "-i", str(keys.identity_file))
        yield archive
    finally:
        cli(root, "db", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _forge(archive: Archive, source_id: str, new_id: str, **changes: object) -> None:
    """Copy ``source_id``'s object and manifest to ``new_id`` with ``changes`` (no key)."""
    document = archive.manifest(source_id)
    document.update(changes)
    shutil.copy(archive.storage / f"{source_id}.dump.age", archive.storage / f"{new_id}.dump.age")
    (archive.storage / f"{new_id}.manifest.json").write_text(json.dumps(document))


def _cleanup(archive: Archive, backup_id: str) -> None:
    for path in archive.storage.glob(f"{backup_id}*"):
        path.unlink()


def _future_id(days: int = 400) -> tuple[str, str]:
    when = datetime.now(UTC) + timedelta(days=days)
    return f"{when:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}", when.isoformat()


def test_forged_future_dated_backup_is_not_latest(archive: Archive) -> None:
    """A dump copied in with an unsigned manifest dated next year: listed as refused, never used."""
    genuine = archive.listed()
    forged_id, forged_time = _future_id()
    _forge(
        archive,
        str(genuine[0]["id"]),
        forged_id,
        id=forged_id,
        object=f"{forged_id}.dump.age",
        created_at=forged_time,
        completed_at=forged_time,
        signature=None,
    )
    try:
        entries = {str(e["id"]): e for e in archive.listed()}
        assert entries[forged_id]["trusted"] is False
        assert entries[forged_id]["signature"] == "unsigned"
        verify = archive.run("backup", "verify", "--latest", "-i", str(archive.keys.identity_file))
        assert verify.returncode == 0, verify.stderr
        assert forged_id not in verify.stdout and str(genuine[0]["id"]) in verify.stdout
        refused = archive.run(
            "backup", "verify", "--id", forged_id, "-i", str(archive.keys.identity_file)
        )
        assert refused.returncode == 1 and "signature" in refused.stderr
        # even trusting unsigned manifests, a date in the future is not the latest
        allowed = archive.listed("--allow-unsigned")
        assert {e["id"]: e["future_dated"] for e in allowed}[forged_id] is True
    finally:
        _cleanup(archive, forged_id)


def test_signed_manifest_altered_or_signed_by_another_key_is_refused(archive: Archive) -> None:
    """A signed manifest with one field changed, or re-signed by a stranger's key: refused."""
    newest = str(archive.listed()[0]["id"])
    document = archive.manifest(newest)
    path = archive.storage / f"{newest}.manifest.json"
    original = path.read_text()
    try:
        path.write_text(
            json.dumps({**document, "size_bytes": int(str(document["size_bytes"])) + 1})
        )
        [entry] = [e for e in archive.listed() if e["id"] == newest]
        assert entry["signature"] == "BAD SIGNATURE" and entry["trusted"] is False
        stranger = cli(archive.root, "backup", "keygen", "--out", str(archive.root / "x.pem"))
        assert stranger.returncode == 0
        signed = dict(document)
        signed["signature"] = {**dict(document["signature"]), "key": "ed25519:" + "A" * 43 + "="}  # type: ignore[arg-type]
        path.write_text(json.dumps(signed))
        [entry] = [e for e in archive.listed() if e["id"] == newest]
        assert entry["trusted"] is False
        result = archive.run(
            "backup",
            "restore",
            "--id",
            newest,
            "-i",
            str(archive.keys.identity_file),
            "--to-database",
            make_conninfo(archive.url, dbname="postgres"),
        )
        assert result.returncode == 1 and "signature" in result.stderr
    finally:
        path.write_text(original)
        (archive.root / "x.pem").unlink(missing_ok=True)


def test_traversing_ids_never_leave_the_storage(archive: Archive, tmp_path: Path) -> None:
    """`--id ../../victim/ID` and a manifest whose id points elsewhere are refused everywhere."""
    victim = tmp_path / "victim"
    victim.mkdir()
    newest = str(archive.listed()[0]["id"])
    planted = victim / f"{newest}.dump.age"
    shutil.copy(archive.storage / f"{newest}.dump.age", planted)
    traversal = f"../../{victim.relative_to('/')}/{newest}"
    restore = archive.run(
        "backup",
        "restore",
        "--id",
        traversal,
        "-i",
        str(archive.keys.identity_file),
        "--to-database",
        make_conninfo(archive.url, dbname="postgres"),
    )
    assert restore.returncode == 2 and "is not a backup id" in restore.stderr
    # a manifest stored under a good name whose id points outside the storage
    name_id = "20200101T000000Z-abcdef"
    _forge(archive, newest, name_id, id=traversal, object=f"{traversal}.dump.age")
    try:
        assert name_id not in {e["id"] for e in archive.listed("--allow-unsigned")}
        prune = archive.run("backup", "prune", "--keep-daily", "1", "--allow-unsigned")
        assert prune.returncode == 0, prune.stderr
        assert planted.exists(), "prune deleted a file outside the storage"
    finally:
        _cleanup(archive, name_id)


def test_copied_manifest_never_makes_prune_delete_the_newest_verified(archive: Archive) -> None:
    """The newest verified backup's manifest copied under an older and a newer name."""
    listed = archive.listed()
    newest_verified = next(str(e["id"]) for e in listed if e["verified"])
    copies = ["20200101T000000Z-c0ffee", _future_id(1)[0]]
    for copy in copies:
        shutil.copy(
            archive.storage / f"{newest_verified}.manifest.json",
            archive.storage / f"{copy}.manifest.json",
        )
        shutil.copy(
            archive.storage / f"{newest_verified}.dump.age", archive.storage / f"{copy}.dump.age"
        )
    try:
        for flags in ((), ("--allow-unsigned",)):
            result = archive.run("backup", "prune", "--keep-daily", "1", *flags)
            assert result.returncode == 0, result.stderr
            assert (archive.storage / f"{newest_verified}.dump.age").exists()
            assert (archive.storage / f"{newest_verified}.manifest.json").exists()
    finally:
        for copy in copies:
            _cleanup(archive, copy)


MALICIOUS = """
CREATE FUNCTION sneaky(v int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF current_database() LIKE 'spectral_verify_%' THEN
        EXECUTE format('COPY (SELECT 1) TO PROGRAM %L', 'touch {marker}');
    END IF;
    RETURN true;
END $$;
CREATE TABLE trap (v int CHECK (sneaky(v)));
INSERT INTO trap VALUES (1);
"""


def test_verify_never_runs_copy_to_program_from_a_dump(tmp_path: Path) -> None:
    """A CHECK constraint calling `COPY ... TO PROGRAM`: verify fails (exit 1), nothing runs."""
    root = Path(tempfile.mkdtemp(prefix="spectral-sec-trap-"))
    root.chmod(0o755)
    marker = Path(tempfile.gettempdir()) / f"spectral-pwned-{secrets.token_hex(6)}"
    keys = make_keypair(root, "ops.key")
    (root / "spectral.toml").write_text(
        f'[backup]\nstorage = "file://backups"\nrecipients = ["{keys.public_key}"]\n'
    )
    try:
        assert cli(root, "db", "init").returncode == 0
        url = cli(root, "db", "url").stdout.strip()
        with psycopg.connect(url) as conn:
            conn.execute(MALICIOUS.format(marker=marker))  # type: ignore[arg-type]
        assert not marker.exists()
        made = cli(root, "backup", "run", "--allow-unsigned")
        assert made.returncode == 0, made.stderr
        verify = cli(
            root, "backup", "verify", "--latest", "--allow-unsigned", "-i", str(keys.identity_file)
        )
        assert verify.returncode == 1, verify.stdout + verify.stderr
        assert not marker.exists(), "restored code ran a program on the server"
        assert "pg_execute_server_program" in verify.stderr or "superuser" in verify.stderr
    finally:
        cli(root, "db", "stop")
        marker.unlink(missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)
