"""An example app (examples/alembic-app, examples/django-app) adopted from a fresh git repository,
the way a team would: its own code and virtualenv, `spectral-deploy init`, then deploys."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from spectral_deploy.sandbox.shop import Ports
from tests.acceptance.sandbox import run_cli
from tests.example_apps import EXAMPLES
from tests.waiting import wait_for

GIT = ["git", "-c", "user.name=Adopter", "-c", "user.email=adopter@example.invalid"]


def set_key(text: str, section: str, key: str, value: str) -> str:
    """``key = value`` in ``[section]`` of a spectral.toml, replacing its (commented) line."""
    start = text.index(f"[{section}]\n")
    end = text.find("\n[", start + 1)
    end = len(text) if end == -1 else end
    body = text[start:end]
    pattern = re.compile(rf"^(# )?{re.escape(key)} = .*$", re.MULTILINE)
    assert pattern.search(body), f"no {key} line in [{section}]"
    body = pattern.sub(lambda _: f"{key} = {value}", body, count=1)
    return text[:start] + body + text[end:]


@dataclass
class AppRepo:
    """The app's repository, its interpreter, and the ports its sandbox uses."""

    root: Path
    python: Path
    ports: Ports
    _url: str | None = field(default=None, repr=False)

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """``spectral-deploy ARGS`` in the repository; never raises on a non-zero exit."""
        return run_cli(self.root, args, env=None, timeout=timeout)

    def ok(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run and require exit 0."""
        result = self.run(*args, timeout=timeout)
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result

    def git(self, *args: str) -> str:
        done = subprocess.run(
            [*GIT, "-C", str(self.root), *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    def release(self, tag: str, message: str) -> None:
        """Commit everything and tag it."""
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        self.git("tag", "-a", tag, "-m", message)

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def configure(self) -> None:
        """Fill in what init left for the team: how blue and green run, ports, quick timings."""
        path = self.root / "spectral.toml"
        text = path.read_text()
        for section, key, value in (
            ("hosting", "python", json.dumps(str(self.python))),
            ("hosting", "web_command", json.dumps(self.web_command)),
            ("hosting", "worker_app", '"notes.handlers:handlers"'),
            ("hosting", "blue_port", str(self.ports.blue)),
            ("hosting", "green_port", str(self.ports.green)),
            ("dns", "listen", json.dumps(f"127.0.0.1:{self.ports.router}")),
            ("dns", "ttl", "1"),
            ("deploy", "hold_seconds", "600"),
            ("deploy", "health_timeout_seconds", "60"),
            ("deploy", "workers_ready_timeout_seconds", "30"),
            ("outbox", "poll_seconds", "0.2"),
            ("outbox", "heartbeat_seconds", "0.5"),
            ("outbox", "stale_after_seconds", "3"),
        ):
            text = set_key(text, section, key, value)
        path.write_text(text)

    @property
    def web_command(self) -> str:
        if (self.root / "manage.py").is_file():
            return "{python} -m gunicorn --bind 127.0.0.1:{port} --workers 2 config.wsgi"
        return "{python} -m notes.web --port {port}"

    # -- the running app --------------------------------------------------------------

    def database_url(self) -> str:
        if self._url is None:
            self._url = self.ok("db", "url").stdout.strip()
        return self._url

    def scalar(self, query: str) -> Any:
        with psycopg.connect(self.database_url()) as conn:
            row = conn.execute(query).fetchone()  # type: ignore[arg-type]
        assert row is not None
        return row[0]

    def post_note(self, body: str) -> tuple[int, dict[str, Any]]:
        """POST /notes through the router (the public hostname)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ports.router}/notes",
            data=json.dumps({"body": body}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, {}

    def health(self) -> dict[str, Any]:
        """GET /health through the router."""
        url = f"http://127.0.0.1:{self.ports.router}/health"
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def down(self) -> None:
        self.run("sandbox", "down", timeout=240)


def make_app_repo(example: str, python: Path) -> AppRepo:
    """A fresh git repository holding the example app, tagged v0.9.0 (before adoption)."""
    root = Path(tempfile.mkdtemp(prefix=f"spectral-{example}-"))
    root.chmod(0o755)
    shutil.copytree(
        EXAMPLES / example,
        root,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".venv", "__pycache__", "spectral.toml", ".spectral"),
    )
    repo = AppRepo(root=root, python=python, ports=Ports.free())
    repo.git("init", "--quiet", "--initial-branch=main")
    repo.write(".gitignore", "__pycache__/\n")
    repo.release("v0.9.0", "the app, before spectral-deploy")
    return repo


class NoteLoad:
    """Notes posted through the router in a background thread, every outcome counted."""

    def __init__(self, repo: AppRepo, interval: float = 0.05) -> None:
        self.repo = repo
        self.interval = interval
        self.served = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> NoteLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, _ = self.repo.post_note("under load")
            except OSError as exc:
                self.failed.append(type(exc).__name__)
            else:
                if status == 201:
                    self.served += 1
                else:
                    self.failed.append(f"HTTP {status}")
            time.sleep(self.interval)


def status_json(repo: AppRepo) -> Mapping[str, Any]:
    """``spectral-deploy status --format json``, which must exit 0."""
    return json.loads(repo.ok("status", "--format", "json").stdout)  # type: ignore[no-any-return]


@contextmanager
def adopted_app(example: str, python: Path) -> Iterator[AppRepo]:
    """``make_app_repo`` for the block; its sandbox stopped and its directory removed after."""
    repo = make_app_repo(example, python)
    try:
        yield repo
    finally:
        repo.down()
        shutil.rmtree(repo.root, ignore_errors=True)


@dataclass(frozen=True)
class NoteTables:
    """Where an example app keeps its notes and the events its handlers recorded."""

    notes: str
    handled: str


def adopt(app: AppRepo, found: str, *config_has: str) -> str:
    """init (which must report ``found`` and write each of ``config_has`` into spectral.toml),
    then the team's settings; returns the tag init names for the first deploy."""
    done = app.ok("init")
    assert found in done.stdout
    assert "spectral-deploy deploy v0.10.0" in done.stdout  # not v0.9.0: it predates adoption
    assert ".spectral/" in (app.root / ".gitignore").read_text().splitlines()
    config = (app.root / "spectral.toml").read_text()
    for line in config_has:
        assert line in config, line
    app.configure()
    app.release("v0.10.0", "adopt spectral-deploy")
    return "v0.10.0"


def first_note(app: AppRepo, tables: NoteTables, first: str) -> None:
    """Deploy ``first``: generation 1 serves, a note posted through the router is created
    there, and its event is handled, at generation 1."""
    app.ok("deploy", first)
    assert app.health()["generation"] == 1
    status, body = app.post_note("hello")
    assert status == 201 and body["generation"] == 1
    wait_for(lambda: app.scalar(f"SELECT count(*) FROM {tables.handled}") == 1, what="the event")
    assert app.scalar(f"SELECT generation FROM {tables.handled}") == 1


def assert_nothing_lost(app: AppRepo, tables: NoteTables) -> None:
    """Every note's event was handled once, and the outbox is empty."""
    notes = app.scalar(f"SELECT count(*) FROM {tables.notes}")
    wait_for(
        lambda: app.scalar(f"SELECT count(*) FROM {tables.handled}") == notes,
        what=f"{notes} events handled",
    )
    assert app.scalar("SELECT count(*) FROM spectral.outbox") == 0
    joined = f"SELECT count(*) FROM {tables.handled} h JOIN {tables.notes} n ON n.id = h.note_id"
    assert app.scalar(joined) == notes


def settled(
    app: AppRepo, tables: NoteTables, load: NoteLoad, *, generation: int
) -> Mapping[str, Any]:
    """After a rollback under ``load``: no request failed, ``generation`` serves and is live in
    status, nothing is stranded, every event was handled; returns the status snapshot."""
    assert load.failed == [], load.failed[:5]
    assert app.health()["generation"] == generation
    snapshot = status_json(app)
    assert snapshot["live"]["generation"] == generation
    assert snapshot["outbox"]["stranded"] == []
    assert_nothing_lost(app, tables)
    return snapshot


def class_2_under_load(app: AppRepo, tables: NoteTables) -> None:
    """From generation 3 on green: a Class 2 rollback while notes are posted; no request fails,
    blue (generation 1) serves, status has nothing critical, every event handled, some by 3."""
    with NoteLoad(app) as load:
        wait_for(lambda: load.served >= 10, what="traffic on green")
        app.ok("rollback", "run", "--symptom", "behavior", "--yes")
        served = load.served
        wait_for(lambda: load.served >= served + 10, what="traffic on blue")
    snapshot = settled(app, tables, load, generation=1)
    assert not [n for n in snapshot["next"] if n["level"] == "critical"], snapshot["next"]
    assert app.scalar(f"SELECT count(*) FROM {tables.handled} WHERE generation = 3") > 0


def class_3_under_load(app: AppRepo, tables: NoteTables, *says: str) -> None:
    """From generation 2 on green: a Class 3 rollback (the prior code at generation 3) while
    notes are posted; its output has each of ``says``; no request fails; generation 3 serves,
    status has nothing stranded, every event handled."""
    with NoteLoad(app) as load:
        wait_for(lambda: load.served >= 10, what="traffic on v0.11.0")
        rollback = app.run("rollback", "run", "--symptom", "data", "--yes", timeout=400)
        output = rollback.stdout + rollback.stderr
        assert rollback.returncode == 0, output
        for text in says:
            assert text in output, output
        served = load.served
        wait_for(lambda: load.served >= served + 10, what="traffic on the prior code")
    settled(app, tables, load, generation=3)
