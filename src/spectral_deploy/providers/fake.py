"""In-process fakes of hosting, DNS and VCS, sharing one small world, for testing the
orchestration (deployer, rollback runner, fact gathering, status) without subprocesses.

The world is real where it matters and instant everywhere else:

* the outbox and the worker registry are the real PostgreSQL tables: a slot's app writes
  real rows at its generation (``FakeWorld.request``, and every smoke request that is not a
  health check), and a slot's workers are registered in ``workers`` like real ones and
  handle their generation's rows through the outbox's own store whenever the world moves;
* the world moves when anyone looks at it or waits on it (every provider call, and
  ``FakeClock.sleep``, which advances a virtual clock instead of sleeping);
* the CNAME is a record that public requests follow at once (no resolver caches), and
  ``FakeProbe`` reports which slot answered them;
* the repository is a dict of commits, each a dict of files (``FakeVcs``, also the
  ``SourceTree`` the lint and the migrations read).

Faults are knobs on the world: a slot that fails its health check, workers that never
reach ``running``, a provider that raises.

``register(world, root)`` makes the world the ``fake`` provider of the project at
``root`` (``[hosting] provider = "fake"``, ``[dns] provider = "fake"``, ``[vcs] provider =
"fake"``), so the CLI itself can run in-process against it.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from spectral_deploy.config import Config
from spectral_deploy.db import Database
from spectral_deploy.errors import ConfigError, InputError, ProviderError, ProviderUnavailable
from spectral_deploy.outbox.drain import unfinished_rows
from spectral_deploy.outbox.emit import emit
from spectral_deploy.outbox.pgstore import PostgresStore
from spectral_deploy.outbox.store import Lease, WorkerInfo, WorkerState
from spectral_deploy.providers.base import (
    Color,
    Deployment,
    DnsRecord,
    Health,
    ProbeReading,
    ReleaseSpec,
)
from spectral_deploy.providers.http import error_class

__all__ = [
    "FAKE_TOPIC",
    "FakeClock",
    "FakeDns",
    "FakeHosting",
    "FakeProbe",
    "FakeVcs",
    "FakeWorld",
    "clock_from_config",
    "dns_from_config",
    "fetch_from_config",
    "hosting_from_config",
    "probe_from_config",
    "register",
    "unregister",
    "vcs_from_config",
]

FAKE_TOPIC = "fake.request"
PROVIDER = "fake"
WORKER_LEASE_SECONDS = 30.0
CLAIM_ROWS = 500
# refresh heartbeats this often (wall clock): well inside any stale_after_seconds
HEARTBEAT_EVERY_SECONDS = 1.0


class FakeClock:
    """A virtual monotonic clock: ``sleep`` advances it at once and lets the world move."""

    def __init__(self, world: FakeWorld) -> None:
        self._world = world
        self._now = 0.0

    def monotonic(self) -> float:
        """Virtual seconds."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Advance the clock; the world's workers do their work meanwhile."""
        self._now += max(0.0, seconds)
        self._world.tick(force=True)


@dataclass
class _Worker:
    id: uuid.UUID
    generation: int
    state: WorkerState


@dataclass
class _Slot:
    generation: int
    commit: str
    tag: str
    web: bool = True
    workers: list[_Worker] = field(default_factory=list)


class FakeWorld:
    """Two slots, a CNAME, a repository and the real outbox tables of ``database``.

    Knobs: ``unhealthy`` (slots whose health check fails), ``workers_start`` (False: new
    workers register but never reach ``running``), ``failing`` (provider operations that
    raise ``ProviderUnavailable``, the vendor down, e.g. ``{"dns.read"}``), ``refusing``
    (operation -> the HTTP status it answers, e.g. ``{"dns.read": 401}``), ``app_writes``
    (whether non-health requests write an outbox row), ``cached`` (a slot that public
    requests still reach whatever the record says, as resolvers that cache an old answer
    make them, or a custom domain attached to one slot), ``generation_header`` (False: the
    app answers without the generation header).
    """

    def __init__(
        self,
        database: Database,
        *,
        record: str = "app.example.test",
        blue_target: str = "blue.example.test",
        green_target: str = "green.example.test",
        health_path: str = "/health",
        ttl: int = 60,
    ) -> None:
        self.database = database
        self.record_name = record
        self.targets = {Color.BLUE: blue_target, Color.GREEN: green_target}
        self.health_path = health_path
        self.slots: dict[Color, _Slot] = {}
        self.record = DnsRecord(record, "", ttl)
        self.unhealthy: set[Color] = set()
        self.workers_start = True
        self.failing: set[str] = set()
        self.refusing: dict[str, int] = {}
        self.app_writes = True
        self.cached: Color | None = None
        # whether the app's answers carry the generation header (spectral_deploy.middleware)
        self.generation_header = True
        self.requests: dict[Color, int] = {Color.BLUE: 0, Color.GREEN: 0}
        self.written: dict[int, int] = {}
        self.handled: dict[int, int] = {}
        self.clock = FakeClock(self)
        self.hosting = FakeHosting(self)
        self.dns = FakeDns(self)
        self.vcs = FakeVcs(self)
        self.probe = FakeProbe(self)
        self._conn: psycopg.Connection[Any] | None = None
        self._store: PostgresStore | None = None
        self._beat_at = 0.0
        self._dirty = False
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"FakeWorld(record={self.record.target!r}, slots={sorted(self.slots)})"

    # -- the outside world's behaviour ---------------------------------------------------

    def check(self, operation: str) -> None:
        """Raise if ``operation`` is set to fail; then let the world move."""
        if operation in self.failing:
            raise ProviderUnavailable(
                "the fake provider is down", provider=PROVIDER, operation=operation, status=503
            )
        if operation in self.refusing:
            status = self.refusing[operation]
            raise error_class(status)(
                "the fake provider refuses", provider=PROVIDER, operation=operation, status=status
            )
        self.tick()

    def color_at(self, target: str) -> Color | None:
        """The slot a target sends traffic to."""
        wanted = target.strip().rstrip(".").lower()
        for color, name in self.targets.items():
            if name.lower() == wanted:
                return color
        return None

    def serving(self, color: Color | None) -> bool:
        """Whether ``color`` runs a web app that answers."""
        slot = self.slots.get(color) if color is not None else None
        return slot is not None and slot.web and color not in self.unhealthy

    def request(self, color: Color, path: str = "/orders") -> int:
        """A request to ``color``'s direct address: 200 (a non-health path writes a row at the
        slot's generation), 503 when unhealthy; raises ``ConnectionRefusedError`` when nothing
        listens."""
        with self._lock:
            slot = self.slots.get(color)
            if slot is None or not slot.web:
                raise ConnectionRefusedError(f"nothing listens on slot {color}")
            self.requests[color] += 1
            if color in self.unhealthy:
                return 503
            if path != self.health_path and self.app_writes:
                self._write(slot.generation, path)
            return 200

    def public_color(self) -> Color | None:
        """The slot a public request reaches now."""
        return self.cached or self.color_at(self.record.target)

    def public_request(self, path: str = "/orders") -> int:
        """A request to the public hostname: follows the record (502 when its slot is down)."""
        color = self.public_color()
        try:
            return self.request(color, path) if color is not None else 502
        except ConnectionRefusedError:
            return 502

    def fetch(self, url: str) -> int:
        """HTTP GET of a fake address: ``http://<color>.fake.internal/<path>``."""
        host, _, path = url.removeprefix("http://").partition("/")
        color = next((c for c in Color if host == f"{c}.fake.internal"), None)
        if color is None:
            raise ConnectionRefusedError(f"unknown host {host}")
        return self.request(color, "/" + path)

    # -- workers -------------------------------------------------------------------------

    def tick(self, *, force: bool = False) -> None:
        """Heartbeats of live workers, then each running worker handles its generation's rows
        (looked for when rows may have appeared: the app wrote, workers started, or someone
        waits on the clock)."""
        with self._lock:
            running = [w for s in self.slots.values() for w in s.workers]
            if not running:
                return
            store = self._open_store()
            now = time.monotonic()
            if now - self._beat_at >= HEARTBEAT_EVERY_SECONDS:
                for worker in running:
                    # rows are handled within a tick: a fake worker holds none between beats
                    store.heartbeat(worker.id, (), WORKER_LEASE_SECONDS)
                self._beat_at = now
            if not (force or self._dirty):
                return
            self._dirty = False
            for worker in running:
                if worker.state is WorkerState.RUNNING:
                    self._handle_all(store, worker)

    def refresh_heartbeats(self) -> None:
        """Beat at once (a world restored from a saved state has old heartbeats)."""
        self._beat_at = 0.0
        self.tick(force=True)

    def _handle_all(self, store: PostgresStore, worker: _Worker) -> None:
        conn = self._connection()
        if not unfinished_rows(conn, self.database.schema, worker.generation, None):
            return
        acks: list[Lease] = []
        while True:
            result = store.ack_and_claim(
                worker.id,
                worker.generation,
                acks,
                limit=CLAIM_ROWS,
                lease_seconds=WORKER_LEASE_SECONDS,
                after_id=0,
            )
            if not result.events:
                return
            acks = [Lease(event.id, event.token) for event in result.events]
            self.handled[worker.generation] = self.handled.get(worker.generation, 0) + len(acks)
            if len(acks) < CLAIM_ROWS:
                store.ack_and_claim(
                    worker.id,
                    worker.generation,
                    acks,
                    limit=0,
                    lease_seconds=WORKER_LEASE_SECONDS,
                    after_id=0,
                )
                return

    def start_workers(self, slot: _Slot, count: int) -> None:
        """Register ``count`` more workers of the slot's generation."""
        store = self._open_store()
        for _ in range(count):
            worker = _Worker(uuid.uuid4(), slot.generation, WorkerState.STARTING)
            store.register_worker(
                WorkerInfo(
                    id=worker.id,
                    generation=slot.generation,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    app="fake",
                    concurrency=1,
                    lease_seconds=WORKER_LEASE_SECONDS,
                )
            )
            if self.workers_start:
                worker.state = WorkerState.RUNNING
                store.set_worker_state(worker.id, WorkerState.RUNNING)
            else:
                store.set_worker_state(
                    worker.id, WorkerState.STARTING, "ImportError: the fake app does not load"
                )
            slot.workers.append(worker)
        self._dirty = True

    def stop_workers(self, slot: _Slot, count: int | None = None) -> None:
        """Stop the last ``count`` workers (all: None). A stopping worker finishes nothing it
        has not claimed: its generation's pending rows stay."""
        store = self._open_store()
        stopping = slot.workers if count is None else slot.workers[len(slot.workers) - count :]
        for worker in list(stopping):
            store.set_worker_state(worker.id, WorkerState.STOPPED)
            slot.workers.remove(worker)

    def _write(self, generation: int, path: str) -> None:
        conn = self._connection()
        with conn.transaction():
            emit(
                conn,
                FAKE_TOPIC,
                {"path": path},
                generation=generation,
                schema=self.database.schema,
            )
        self.written[generation] = self.written.get(generation, 0) + 1
        self._dirty = True

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = self.database.connect(autocommit=True, application_name="fake world")
        return self._conn

    def _open_store(self) -> PostgresStore:
        if self._store is None:
            self._store = PostgresStore(
                self.database.connect(autocommit=True, application_name="fake workers"),
                self.database.schema,
            )
        return self._store

    def close(self) -> None:
        """Close the world's connections."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class FakeHosting:
    """``HostingProvider`` over the world's slots."""

    def __init__(self, world: FakeWorld) -> None:
        self.world = world

    def __repr__(self) -> str:
        return "FakeHosting()"

    def deploy(
        self,
        color: Color,
        release: ReleaseSpec,
        *,
        on_started: Callable[[str], None] | None = None,
    ) -> Deployment:
        """Replace what runs on ``color`` with ``release`` (its workers: none yet). Like the
        local sandbox it has no platform deploy ids: ``on_started`` is not called."""
        world = self.world
        world.check("hosting.deploy")
        if release.commit not in world.vcs.commits:
            raise ProviderError(
                f"no build of {release.commit[:12]}", provider=PROVIDER, operation="deploy"
            )
        old = world.slots.get(color)
        if old is not None and old.generation == release.generation:
            old.web = True
        else:
            if old is not None:
                world.stop_workers(old)
            world.slots[color] = _Slot(release.generation, release.commit, release.tag)
        current = self.current(color)
        assert current is not None
        return current

    def current(self, color: Color) -> Deployment | None:
        """What runs on ``color``."""
        self.world.check("hosting.current")
        slot = self.world.slots.get(color)
        if slot is None:
            return None
        return Deployment(
            color=color,
            generation=slot.generation,
            commit=slot.commit,
            tag=slot.tag,
            status="running" if slot.web else "retiring",
            workers=sum(1 for w in slot.workers if w.state is WorkerState.RUNNING),
            address=self.address(color),
        )

    def health(self, color: Color) -> Health:
        """The slot's health check."""
        self.world.check("hosting.health")
        url = f"{self.address(color)}{self.world.health_path}"
        slot = self.world.slots.get(color)
        if slot is None:
            return Health(False, f"nothing runs on {color}", url)
        if not slot.web:
            return Health(False, "no answer: the web app is stopped", url)
        if color in self.world.unhealthy:
            return Health(False, "HTTP 503", url)
        return Health(True, "HTTP 200", url)

    def address(self, color: Color) -> str:
        """``http://<color>.fake.internal``."""
        return f"http://{color}.fake.internal"

    def stop_web(self, color: Color) -> None:
        """Stop the web app; the workers go on."""
        self.world.check("hosting.stop_web")
        slot = self.world.slots.get(color)
        if slot is not None:
            slot.web = False
        self.world.tick(force=True)

    def scale_workers(self, color: Color, count: int) -> None:
        """Run ``count`` workers on ``color``."""
        world = self.world
        world.check("hosting.scale_workers")
        slot = world.slots.get(color)
        if slot is None:
            if count == 0:
                return
            raise ProviderError(
                f"nothing is deployed on {color}", provider=PROVIDER, operation="scale_workers"
            )
        if count > len(slot.workers):
            world.start_workers(slot, count - len(slot.workers))
        elif count < len(slot.workers):
            world.stop_workers(slot, len(slot.workers) - count)
        world.tick()

    def stop(self, color: Color) -> None:
        """Stop everything on ``color`` (its workers finish what they hold first)."""
        world = self.world
        world.check("hosting.stop")
        slot = world.slots.pop(color, None)
        if slot is not None:
            world.stop_workers(slot)

    def build_available(self, commit: str) -> bool:
        """A build exists for every commit the repository has."""
        self.world.check("hosting.build_available")
        return commit in self.world.vcs.commits


class FakeDns:
    """``DnsProvider`` over the world's record."""

    def __init__(self, world: FakeWorld) -> None:
        self.world = world
        self.changes = 0

    def __repr__(self) -> str:
        return f"FakeDns({self.world.record.target!r})"

    def read(self) -> DnsRecord:
        """The record now."""
        self.world.check("dns.read")
        return self.world.record

    def point(self, target: str, ttl: int) -> DnsRecord:
        """Point the record at ``target``; public requests follow at once."""
        self.world.check("dns.point")
        self.world.record = DnsRecord(self.world.record_name, target, ttl)
        self.changes += 1
        return self.world.record


class FakeProbe:
    """``PublicProbe``: one request to the public hostname, reporting the slot that answered."""

    def __init__(self, world: FakeWorld) -> None:
        self.world = world

    def probe(self) -> ProbeReading:
        """Which slot and generation answer the public hostname now."""
        world = self.world
        world.check("probe")
        color = world.public_color()
        slot = world.slots.get(color) if color is not None else None
        if color is None or slot is None or not world.serving(color):
            return ProbeReading(None, None, "HTTP 502 from the public address")
        if not world.generation_header:
            return ProbeReading(None, None, "HTTP 200 without the header", header_missing=True)
        return ProbeReading(color, slot.generation, f"HTTP 200 from slot {color}")


class FakeVcs:
    """``VcsProvider`` and ``SourceTree`` over an in-memory repository."""

    def __init__(self, world: FakeWorld) -> None:
        self.world = world
        self.commits: dict[str, dict[str, str]] = {}
        self.tags: dict[str, str] = {}
        self._counter = itertools.count(1)

    def __repr__(self) -> str:
        return f"FakeVcs(tags={sorted(self.tags)})"

    def commit(self, files: dict[str, str], *, tag: str | None = None) -> str:
        """Add a commit holding ``files`` (and tag it); returns its sha."""
        digest = hashlib.sha1(f"{next(self._counter)}".encode())  # noqa: S324 - an id, not security
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + files[path].encode())
        sha = digest.hexdigest()
        self.commits[sha] = dict(files)
        if tag is not None:
            self.tags[tag] = sha
        return sha

    def resolve_tag(self, tag: str) -> str:
        """The commit of ``tag``."""
        self.world.check("vcs.resolve_tag")
        if tag in self.tags:
            return self.tags[tag]
        if tag in self.commits:
            return tag
        raise InputError(f"no tag or revision {tag!r} in the fake repository")

    def create_tag(self, tag: str, commit: str, message: str) -> None:
        """Tag ``commit``; the same tag at the same commit is fine."""
        self.world.check("vcs.create_tag")
        if commit not in self.commits:
            raise InputError(f"no commit {commit[:12]} in the fake repository")
        existing = self.tags.get(tag)
        if existing is not None and existing != commit:
            raise InputError(f"tag {tag} already exists at {existing[:12]}, not {commit[:12]}")
        self.tags[tag] = commit

    def tag_names(self) -> list[str]:
        """Every tag of the fake repository."""
        return sorted(self.tags)

    def changed_files(self, base: str | None, commit: str, directory: str) -> list[str]:
        """Files under ``directory`` (``.``: the whole tree, as git reads it) added or changed
        since ``base``."""
        prefix = "" if directory.strip("/") in ("", ".") else directory.rstrip("/") + "/"
        files = self.commits[commit]
        before = self.commits.get(base, {}) if base is not None else {}
        return sorted(
            path
            for path, text in files.items()
            if path.startswith(prefix) and (base is None or before.get(path) != text)
        )

    def export(self, commit: str, destination: Path) -> Path:
        """Write the commit's files under ``destination``."""
        marker = destination / ".spectral-source"
        if marker.is_file() and marker.read_text().strip() == commit:
            return destination
        for path, text in self.commits[commit].items():
            target = destination / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        marker.write_text(commit + "\n")
        return destination


# -- the ``fake`` provider of a project --------------------------------------------------

_WORLDS: dict[Path, FakeWorld] = {}


def register(world: FakeWorld, root: Path) -> None:
    """Make ``world`` the ``fake`` provider of the project at ``root``."""
    _WORLDS[root.resolve()] = world


def unregister(root: Path) -> None:
    """Forget the project's world."""
    _WORLDS.pop(root.resolve(), None)


def _world(config: Config, key: str) -> FakeWorld:
    world = _WORLDS.get(config.project_root.resolve())
    if world is None:
        raise ConfigError(
            "the fake provider exists only inside a test that registered its world",
            key=key,
            source=config.source,
        )
    return world


def hosting_from_config(config: Config, database_url: str) -> FakeHosting:
    """The registered world's hosting."""
    return _world(config, "hosting.provider").hosting


def dns_from_config(config: Config) -> FakeDns:
    """The registered world's DNS."""
    return _world(config, "dns.provider").dns


def vcs_from_config(config: Config) -> FakeVcs:
    """The registered world's repository."""
    return _world(config, "vcs.provider").vcs


def probe_from_config(config: Config) -> FakeProbe:
    """The registered world's public probe."""
    return _world(config, "dns.provider").probe


def fetch_from_config(config: Config) -> Callable[[str], int]:
    """The registered world's HTTP."""
    return _world(config, "hosting.provider").fetch


def clock_from_config(config: Config) -> FakeClock:
    """The registered world's clock."""
    return _world(config, "hosting.provider").clock
