"""Finding 3, the rest of it: the embedded server trusts nobody, so an app that edits the URL
it was handed (another user, no password, a guessed one) gets no more than the app role."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from spectral_deploy.db.embedded import MARKER_FILE, EmbeddedServer
from spectral_deploy.outbox.emit import emit
from tests.fixtures import outbox_app
from tests.security.conftest import cli, project_with_a_ledger, role_url

REPO = Path(__file__).resolve().parents[2]
ROLES = ("postgres", "spectral_owner", "spectral_app")
NO_PASSFILE = "/dev/null/none"  # a path libpq cannot open: no password from any file


@pytest.fixture(scope="module")
def project() -> Iterator[Path]:
    """A project whose embedded server has Spectral's schema and one ledger entry."""
    yield from project_with_a_ledger("spectral-sec-auth-")


_url = role_url


def _credentials(project: Path) -> Path:
    return project / ".spectral" / "pg" / "credentials"


def _passwords(project: Path) -> dict[str, str]:
    """Every role's password, read from the files the server's URLs name."""
    found = {}
    for role in ROLES:
        line = (_credentials(project) / f"{role}.pgpass").read_text().strip()
        found[role] = line.rsplit(":", 1)[1]
    return found


def _hba_rules(data_dir: Path) -> list[list[str]]:
    lines = (data_dir / "data" / "pg_hba.conf").read_text().splitlines()
    return [fields for line in lines if (fields := line.split("#", 1)[0].split())]


def _without_password(url: str, **changes: str) -> str:
    """``url`` changed as an app would edit it, with no way to find a password anywhere."""
    return make_conninfo(url, password="", passfile=NO_PASSFILE, **changes)


def test_pg_hba_trusts_nobody(project: Path) -> None:
    """Every pg_hba rule, for the socket and for TCP, asks for a scram-sha-256 password."""
    rules = _hba_rules(project / ".spectral" / "pg")
    assert {rule[0] for rule in rules} >= {"local", "host"}
    for rule in rules:
        assert rule[-1] == "scram-sha-256", rule
        assert "trust" not in rule


@pytest.mark.parametrize("user", ["postgres", "spectral_owner"])
@pytest.mark.parametrize(
    "attempt", ["no password", "wrong password", "the app's password", "the app's password file"]
)
def test_app_url_edited_to_another_role_is_refused(project: Path, user: str, attempt: str) -> None:
    """The app's URL with the user changed to the superuser or the owner cannot log in: not
    without a password, not with a guess, not with the app's own password or file."""
    app = _url(project, "app")
    assert conninfo_to_dict(app)["user"] == "spectral_app"
    edited = {
        "no password": _without_password(app, user=user),
        "wrong password": make_conninfo(app, user=user, password="hunter2-guessed"),
        "the app's password": make_conninfo(
            app, user=user, password=_passwords(project)["spectral_app"]
        ),
        "the app's password file": make_conninfo(app, user=user),
    }[attempt]
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(edited, connect_timeout=10).close()


def test_no_role_logs_in_without_its_password(project: Path) -> None:
    """Even the app role needs its password: the server trusts no local connection."""
    for role in ROLES:
        with pytest.raises(psycopg.OperationalError, match="no password supplied"):
            psycopg.connect(
                _without_password(_url(project, "app"), user=role), connect_timeout=10
            ).close()


def test_app_url_emits_runs_a_worker_and_cannot_touch_the_ledger(project: Path) -> None:
    """With the URL it is handed, the app emits, a `spectral-deploy worker` handles the row,
    and the ledger refuses every rewrite; the owner still sees the ledger unchanged."""
    owner, app = _url(project, "owner"), _url(project, "app")
    with psycopg.connect(owner) as conn:
        before = conn.execute("SELECT count(*), max(id) FROM spectral.ledger").fetchone()
        conn.execute(outbox_app.CREATE_TABLE)  # the tables the fixture's handlers write
    with psycopg.connect(app) as conn:
        row_id = emit(conn, "test.work", {"n": 1}, generation=1)
        conn.commit()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAL_")}
    env |= {"DATABASE_URL": app, "SPECTRAL_OUTBOX_POLL_SECONDS": "0.2"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "spectral_deploy", "worker", "--generation", "1", "--app",
         "tests.fixtures.outbox_app:handlers"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        with psycopg.connect(app, autocommit=True) as conn:
            while not conn.execute(
                "SELECT 1 FROM test_handled WHERE event_id = %s", (row_id,)
            ).fetchone():
                assert worker.poll() is None, worker.communicate()[0]
                assert time.monotonic() < deadline, "the worker never handled the row"
                time.sleep(0.1)
            for statement in (
                "UPDATE spectral.ledger SET actor = 'someone else'",
                "SET session_replication_role = replica",
                "ALTER TABLE spectral.ledger DISABLE TRIGGER ALL",
                "SET ROLE postgres",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=60)[0]
    assert worker.returncode == 0, output
    with psycopg.connect(owner) as conn:
        assert conn.execute("SELECT count(*), max(id) FROM spectral.ledger").fetchone() == before
        assert conn.execute(
            "SELECT state FROM spectral.workers ORDER BY started_at DESC LIMIT 1"
        ).fetchone() == ("stopped",)


def test_password_files_are_the_operators_alone(project: Path) -> None:
    """credentials/ is 0700 and each role's file 0600, owned by whoever runs spectral-deploy,
    one line for its own role; the server's OS user (and so its superuser) cannot read them."""
    directory = _credentials(project)
    info = os.lstat(directory)
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700
    assert info.st_uid == os.geteuid()
    for role in ROLES:
        path = directory / f"{role}.pgpass"
        info = os.lstat(path)
        assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600, role
        assert info.st_uid == os.geteuid()
        [line] = path.read_text().splitlines()
        assert line.startswith(f"*:*:*:{role}:"), role
    if os.geteuid() != 0:
        return
    server_user = pwd.getpwuid((project / ".spectral" / "pg" / "data").stat().st_uid)
    assert server_user.pw_uid != 0
    denied = subprocess.run(
        ["cat", str(directory / "postgres.pgpass")],
        user=server_user.pw_uid,
        group=server_user.pw_gid,
        extra_groups=[],
        capture_output=True,
        text=True,
        check=False,
    )
    assert denied.returncode != 0 and "Permission denied" in denied.stderr
    with (
        psycopg.connect(EmbeddedServer(project / ".spectral" / "pg").status().url("postgres")) as c,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        c.execute("SELECT pg_read_file(%s)", (str(directory / "postgres.pgpass"),))


def test_no_password_in_output_logs_or_the_database(project: Path) -> None:
    """No role's password in -vv output of the commands that print URLs and statuses, in the
    server's log, in the ledger, or in any file Spectral keeps outside credentials/."""
    commands = [
        ("-vv", "db", "start"),
        ("-vv", "db", "url"),
        ("-vv", "db", "url", "--role", "app"),
        ("-vv", "db", "url", "--role", "owner"),
        ("-vv", "db", "status"),
        ("-vv", "db", "status", "--format", "json"),
        ("-vv", "db", "init"),
        ("-vv", "status"),
        ("-vv", "status", "--format", "json"),
        ("-vv", "ledger", "show"),
        ("-vv", "generations", "allocate", "--tag", "v2", "--commit", "def"),
        ("-vv", "outbox", "status"),
    ]
    outputs = []
    for command in commands:
        result = cli(project, *command)
        assert result.returncode == 0, (command, result.stderr)
        outputs.append(result.stdout + result.stderr)
    with psycopg.connect(_url(project, "owner")) as conn:
        outputs.append(str(conn.execute("SELECT * FROM spectral.ledger").fetchall()))
        outputs.append(str(conn.execute("SELECT * FROM spectral.deploys").fetchall()))
    kept = project / ".spectral"
    for path in kept.rglob("*"):
        inside = path.relative_to(kept).parts
        if path.is_file() and inside[:2] not in {("pg", "credentials"), ("pg", "data")}:
            outputs.append(path.read_text(errors="replace"))
    assert any("server.log" in str(p) for p in kept.rglob("server.log"))
    text = "\n".join(outputs)
    assert "passfile=" in text  # the URLs were printed, naming their files
    for role, password in _passwords(project).items():
        assert password not in text, role


def test_worker_stores_and_logs_no_password(project: Path) -> None:
    """A handler failing with the app's password (raw and in a URL) and a worker crashing at
    load with it: the outbox's and the worker registry's stored errors and the -vv log hold
    none of it."""
    app = _url(project, "app")
    secret = _passwords(project)["spectral_app"]
    with psycopg.connect(app) as conn:
        row_id = emit(conn, "leak", {"n": 1}, generation=1)
        conn.commit()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAL_")}
    env |= {
        "DATABASE_URL": app,
        "SPECTRAL_OUTBOX_POLL_SECONDS": "0.2",
        "SPECTRAL_OUTBOX_MAX_ATTEMPTS": "1",
    }
    argv = [sys.executable, "-m", "spectral_deploy", "-vv", "worker", "--generation", "1"]
    worker = subprocess.Popen(
        [*argv, "--app", "tests.security.leaky_app:handlers"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        with psycopg.connect(app, autocommit=True) as conn:
            while not conn.execute(
                "SELECT 1 FROM spectral.outbox WHERE id = %s AND dead_at IS NOT NULL", (row_id,)
            ).fetchone():
                assert worker.poll() is None, worker.communicate()[0]
                assert time.monotonic() < deadline, "the row was never dead-lettered"
                time.sleep(0.1)
    finally:
        worker.terminate()
        logged = worker.communicate(timeout=60)[0]
    crashed = subprocess.run(
        [*argv, "--app", "tests.security.leaky_app:broken"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert crashed.returncode != 0
    with psycopg.connect(_url(project, "owner")) as conn:
        [(stored,)] = conn.execute(
            "SELECT last_error FROM spectral.outbox WHERE id = %s", (row_id,)
        ).fetchall()
        registry = conn.execute("SELECT last_error FROM spectral.workers").fetchall()
    assert "RuntimeError" in str(stored) and "Traceback" in str(stored)
    assert any("configuration failed" in str(error) for (error,) in registry)
    for text in (str(stored), str(registry), logged, crashed.stdout + crashed.stderr):
        assert secret not in text, text


# what `initdb --auth=trust` wrote for a server made by an older spectral-deploy
TRUST_HBA = """\
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    all             all             ::1/128                 trust
local   replication     all                                     trust
"""


@pytest.fixture
def legacy(workdir: Path) -> Iterator[Path]:
    """A project whose server an older spectral-deploy made: every connection trusted, no
    role with a password, no credentials directory."""
    data_dir = workdir / ".spectral" / "pg"
    try:
        made = cli(workdir, "generations", "allocate", "--tag", "v1", "--commit", "abc")
        assert made.returncode == 0, made.stderr
        url = EmbeddedServer(data_dir).status().url("postgres")
        assert url is not None
        with psycopg.connect(url, autocommit=True) as conn:
            for role in ROLES:
                conn.execute(f"ALTER ROLE {role} PASSWORD NULL")
            (data_dir / "data" / "pg_hba.conf").write_text(TRUST_HBA)  # keeps its owner
            conn.execute("SELECT pg_reload_conf()")
        shutil.rmtree(data_dir / "credentials")
        deadline = time.monotonic() + 30
        while True:  # the reload is asynchronous
            try:
                psycopg.connect(_without_password(url), connect_timeout=10).close()
                break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        yield workdir
    finally:
        cli(workdir, "db", "stop")


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_an_old_trusting_server_is_refused_until_db_start_switches_it(
    legacy: Path, running: bool
) -> None:
    """Commands refuse a server that trusts connections (exit 3, naming `db start`) and change
    nothing; `db start` sets the passwords, rewrites pg_hba.conf, reloads, and from then on
    nobody gets in without a password while Spectral and the app still work."""
    data_dir = legacy / ".spectral" / "pg"
    if not running:
        assert cli(legacy, "db", "stop").returncode == 0
    else:
        report = cli(legacy, "db", "status", "--format", "json")
        assert report.returncode == 0 and '"passwords_required": false' in report.stdout
    for command in (("status",), ("generations", "allocate", "--tag", "v2", "--commit", "d")):
        refused = cli(legacy, *command)
        assert refused.returncode == 3, (command, refused.stdout, refused.stderr)
        assert "without a password" in refused.stderr
        assert "spectral-deploy db start" in refused.stderr
    assert not (data_dir / "credentials").exists()
    assert all(rule[-1] == "trust" for rule in _hba_rules(data_dir))

    upgraded = cli(legacy, "-vv", "db", "start")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "passwords_required" in upgraded.stderr  # the operator is told, apps to restart
    assert all(rule[-1] == "scram-sha-256" for rule in _hba_rules(data_dir))
    url = EmbeddedServer(data_dir).status().url("postgres")
    assert url is not None
    for role in ROLES:
        with pytest.raises(psycopg.OperationalError, match="no password supplied"):
            psycopg.connect(_without_password(url, user=role), connect_timeout=10).close()
    listed = cli(legacy, "generations", "list")
    assert listed.returncode == 0 and "v1" in listed.stdout, listed.stderr
    with psycopg.connect(_url(legacy, "app")) as conn:
        conn.execute("SELECT count(*) FROM spectral.generations")
    passwords = _passwords(legacy)
    for password in passwords.values():
        assert password not in upgraded.stdout + upgraded.stderr


def test_a_symlink_planted_at_a_password_file_is_not_followed(workdir: Path) -> None:
    """A link at the superuser's file before the first start or later, or at the app's file:
    the command refuses (exit 3, naming the file), the link's target is neither read nor
    written, and no URL naming it is handed out."""
    victim = workdir / "victim"
    victim.write_text("root's secrets\n")
    victim.chmod(0o644)
    credentials = workdir / ".spectral" / "pg" / "credentials"
    credentials.mkdir(parents=True, mode=0o700)
    for parent in (workdir / ".spectral", workdir / ".spectral" / "pg"):
        parent.chmod(0o755)
    (workdir / ".spectral" / "pg" / MARKER_FILE).touch()  # ours, from an earlier start
    (credentials / "postgres.pgpass").symlink_to(victim)
    try:
        first = cli(workdir, "db", "start")
        assert first.returncode == 3, first.stdout + first.stderr
        assert "symbolic link" in first.stderr and "postgres.pgpass" in first.stderr
        assert victim.read_text() == "root's secrets\n"
        assert stat.S_IMODE(victim.stat().st_mode) == 0o644
        assert not (workdir / ".spectral" / "pg" / "data" / "PG_VERSION").exists()

        (credentials / "postgres.pgpass").unlink()
        assert cli(workdir, "db", "start").returncode == 0
        app_file = credentials / "spectral_app.pgpass"
        app_file.unlink()
        app_file.symlink_to(victim)
        for command in (("db", "url", "--role", "app"), ("generations", "list")):
            refused = cli(workdir, *command)
            assert refused.returncode == 3, (command, refused.stdout, refused.stderr)
            assert "symbolic link" in refused.stderr and "spectral_app.pgpass" in refused.stderr
            assert "passfile=" not in refused.stdout
        assert victim.read_text() == "root's secrets\n"
        assert app_file.is_symlink()

        assert cli(workdir, "db", "stop").returncode == 0
        superuser_file = credentials / "postgres.pgpass"
        kept = superuser_file.read_bytes()
        superuser_file.unlink()
        superuser_file.symlink_to(victim)
        again = cli(workdir, "db", "start")
        assert again.returncode == 3, again.stdout + again.stderr
        assert "symbolic link" in again.stderr and "postgres.pgpass" in again.stderr
        assert victim.read_text() == "root's secrets\n"
        superuser_file.unlink()
        superuser_file.write_bytes(kept)
        superuser_file.chmod(0o600)
        app_file.unlink()  # the next start makes and sets a new app password
        restarted = cli(workdir, "db", "start")
        assert restarted.returncode == 0, restarted.stderr
        assert stat.S_ISREG(os.lstat(app_file).st_mode)
    finally:
        cli(workdir, "db", "stop")
