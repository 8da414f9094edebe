"""``spectral-deploy backup`` end to end, as an operator runs it (the CLI as a subprocess)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from google.cloud import storage as gcs
from psycopg.conninfo import make_conninfo

from tests.acceptance.conftest import Project
from tests.backup_support import KeyPair, make_keypair, seed_app_database, table_checksums

pytestmark = pytest.mark.db

COMMANDS = [
    ["backup"],
    ["backup", "run"],
    ["backup", "list"],
    ["backup", "verify"],
    ["backup", "restore"],
    ["backup", "prune"],
]


@pytest.fixture(scope="module")
def keys(project: Project) -> KeyPair:
    """The operator's key pair, its public key in spectral.toml; the writer's signing key."""
    pair = make_keypair(project.root, "ops.key")
    signing = project.run("backup", "keygen", "--out", str(project.root / "signing.pem"))
    assert signing.returncode == 0, signing.stderr
    public = signing.stdout.split("public key: ")[1].split()[0]
    (project.root / "spectral.toml").write_text(
        f'[backup]\nstorage = "file://backups"\nrecipients = ["{pair.public_key}"]\n'
        f'signing_public_keys = ["{public}"]\nsigning_key_file = "signing.pem"\n'
    )
    return pair


@pytest.fixture(scope="module")
def app_url(project: Project, keys: KeyPair) -> str:
    """The project's embedded database with Spectral's schema and application tables."""
    assert project.run("db", "init").returncode == 0
    url = project.run("db", "url").stdout.strip()
    seed_app_database(url)
    return url


@pytest.fixture
def fresh_database(project: Project, app_url: str) -> Iterator[str]:
    """An empty database on the project's server."""
    name = f"restored_{secrets.token_hex(3)}"
    with psycopg.connect(app_url, dbname="postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield make_conninfo(app_url, dbname=name)
    with psycopg.connect(app_url, dbname="postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def backups(project: Project) -> list[dict[str, object]]:
    """``backup list --format json``."""
    listed = project.run("backup", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout)["backups"])


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_backup_commands_explain_themselves(project: Project, command: list[str]) -> None:
    """--help works without a database and shows an example."""
    result = project.run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Example" in result.stdout


def test_run_verify_restore(
    project: Project, keys: KeyPair, app_url: str, fresh_database: str
) -> None:
    """run -> list -> verify -> list (verified) -> restore: exit 0s, data identical."""
    run = project.run("backup", "run")
    assert run.returncode == 0, run.stderr
    assert "stored in file://" in run.stdout

    [listed] = backups(project)
    assert listed["verified"] is False and listed["intact"] is True
    assert (project.root / "backups" / f"{listed['id']}.dump.age").is_file()

    verify = project.run("backup", "verify", "--latest", "--identity", str(keys.identity_file))
    assert verify.returncode == 0, verify.stderr
    assert "rows shop.orders" in verify.stdout and "verified" in verify.stdout
    assert backups(project)[0]["verified"] is True

    restore = project.run(
        "backup", "restore", "--id", str(listed["id"]), "-i", str(keys.identity_file),
        "--to-database", fresh_database,
    )  # fmt: skip
    assert restore.returncode == 0, restore.stderr
    assert "100%" in restore.stderr  # progress is shown
    expected = table_checksums(app_url)
    restored = table_checksums(fresh_database)
    # the backup's own ledger entries (started, ok) come after the snapshot it dumps
    assert (expected.pop("spectral.ledger")[0], restored.pop("spectral.ledger")[0]) == (2, 0)
    assert restored == expected

    again = project.run(
        "backup", "restore", "--latest", "-i", str(keys.identity_file),
        "--to-database", fresh_database,
    )  # fmt: skip
    assert again.returncode == 3
    assert "already holds" in again.stderr and "--force" in again.stderr

    ledger = json.loads(
        project.run("ledger", "show", "--kind", "backup", "--format", "json").stdout
    )
    assert [e["outcome"] for e in ledger["entries"]][-2:] == ["started", "ok"]


def test_wrong_identity_exits_2(project: Project, keys: KeyPair, app_url: str) -> None:
    """An identity that is not a recipient: exit 2, one line naming the file."""
    project.run("backup", "run")
    stranger = make_keypair(project.root, "stranger.key")
    result = project.run("backup", "verify", "-i", str(stranger.identity_file))
    assert result.returncode == 2
    assert f"identity file {stranger.identity_file} cannot decrypt backup" in result.stderr
    assert "Traceback" not in result.stderr


def test_tampered_backup_exits_1_and_lists_as_failed(
    project: Project, keys: KeyPair, app_url: str
) -> None:
    """A flipped byte: verify exits 1 saying tampered; list shows the failed verification."""
    run = project.run("backup", "run", "--format", "json")
    backup_id = json.loads(run.stdout)["id"]
    path = project.root / "backups" / f"{backup_id}.dump.age"
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x10
    path.write_bytes(bytes(data))

    result = project.run("backup", "verify", "--id", backup_id, "-i", str(keys.identity_file))
    assert result.returncode == 1
    assert "tampered" in result.stderr
    listed = {b["id"]: b for b in backups(project)}
    assert listed[backup_id]["verified"] is False
    text = project.run("backup", "list").stdout
    assert "FAILED" in text


def test_truncated_backup_exits_1(project: Project, keys: KeyPair, app_url: str) -> None:
    """A truncated object: exit 1 with both sizes."""
    backup_id = json.loads(project.run("backup", "run", "--format", "json").stdout)["id"]
    path = project.root / "backups" / f"{backup_id}.dump.age"
    path.write_bytes(path.read_bytes()[:-5000])
    result = project.run("backup", "verify", "--id", backup_id, "-i", str(keys.identity_file))
    assert result.returncode == 1
    assert "is truncated" in result.stderr


def test_missing_pg_dump_exits_3(project: Project, app_url: str, tmp_path: Path) -> None:
    """No pg_dump of the server's version where configured: exit 3 naming the version."""
    result = project.run("--set", f"backup.pg_bin_dir={tmp_path}", "backup", "run")
    assert result.returncode == 3
    assert "no pg_dump 18 was found" in result.stderr
    assert "next: install the PostgreSQL 18 client programs" in result.stderr


def test_bad_input_exits_2(project: Project, keys: KeyPair, app_url: str) -> None:
    """A bad recipient, an unknown id, a password on the command line: exit 2, clear."""
    bad = project.run("backup", "run", "--recipient", "age1notakey")
    assert bad.returncode == 2 and "'age1notakey' is not an age X25519 public key" in bad.stderr
    unknown = project.run("backup", "verify", "--id", "nope", "-i", str(keys.identity_file))
    assert unknown.returncode == 2 and "'nope' is not a backup id" in unknown.stderr
    absent = "20200101T000000Z-abcdef"
    missing = project.run("backup", "verify", "--id", absent, "-i", str(keys.identity_file))
    assert missing.returncode == 2 and f"there is no backup {absent!r}" in missing.stderr
    password = project.run(
        "backup", "restore", "-i", str(keys.identity_file),
        "--to-database", "postgresql://ops:hunter2@db/app",
    )  # fmt: skip
    assert password.returncode == 2 and "hunter2" not in password.stderr


def test_secret_key_never_printed(project: Project, keys: KeyPair, app_url: str) -> None:
    """Verbose runs of every command never print the identity's secret key."""
    outputs = [
        project.run("-vv", "backup", "run"),
        project.run("-vv", "backup", "verify", "-i", str(keys.identity_file)),
        project.run("-vv", "backup", "list", "--format", "json"),
        project.run("-vv", "backup", "verify", "-i", str(project.root / "missing.key")),
    ]
    for result in outputs:
        assert keys.secret not in result.stdout + result.stderr
        assert "AGE-SECRET-KEY" not in result.stdout + result.stderr


def test_prune_dry_run_then_prune(project: Project, keys: KeyPair, app_url: str) -> None:
    """Prune keeps today's newest and the newest verified; --dry-run deletes nothing."""
    for _ in range(2):
        assert project.run("backup", "run").returncode == 0
    before = backups(project)
    dry = project.run("backup", "prune", "--keep-daily", "1", "--dry-run", "--format", "json")
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)["backups"]
    assert len(backups(project)) == len(before)
    doomed = {b["id"] for b in planned if b["action"] == "would delete"}
    kept = {b["id"] for b in planned if b["action"] == "keep"}
    assert before[0]["id"] in kept
    newest_verified = next(b["id"] for b in before if b["verified"])
    assert newest_verified in kept and doomed

    done = project.run("backup", "prune", "--keep-daily", "1")
    assert done.returncode == 0, done.stderr
    assert {b["id"] for b in backups(project)} == kept

    zero = project.run("backup", "prune", "--keep-daily", "0", "--keep-weekly", "0",
                       "--keep-monthly", "0")  # fmt: skip
    assert zero.returncode == 2


def test_gcs_storage_from_the_environment(
    project: Project,
    keys: KeyPair,
    app_url: str,
    gcs_emulator: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--to gs://... with STORAGE_EMULATOR_HOST set: the CLI stores, lists and verifies there."""
    env = {"STORAGE_EMULATOR_HOST": gcs_emulator, "GOOGLE_CLOUD_PROJECT": "spectral-test"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    bucket = f"spectral-{secrets.token_hex(4)}"
    gcs.Client().create_bucket(bucket)
    url = f"gs://{bucket}/prod"

    run = project.run("backup", "run", "--to", url, env=env)
    assert run.returncode == 0, run.stderr
    listed = project.run("backup", "list", "--from", url, "--format", "json", env=env)
    report = json.loads(listed.stdout)
    assert report["storage"] == url and len(report["backups"]) == 1
    verify = project.run("backup", "verify", "--from", url, "-i", str(keys.identity_file), env=env)
    assert verify.returncode == 0, verify.stderr
    assert [b.name for b in gcs.Client().list_blobs(bucket, prefix="prod/.tmp/")] == []
