"""An operator at the keyboard of a project whose outside world is ``providers.fake``.

``Operator`` types the commands an operator may type (``deploy``, ``deploy resume``,
``deploy abort``, ``rollback plan`` / ``run``, ``status``, and the commands ``status``
advises), each as the CLI runs it: the same library calls, a fresh ``Deployer`` per command
(a new process), the real PostgreSQL. ``crash_at`` kills a command at a crash point (the
in-process stand-in for ``SPECTRAL_CRASH_AT``'s SIGKILL). ``invariants`` and the claim
checks say whether the world ended where the contract says it must.
"""

from __future__ import annotations

import contextlib
import copy
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from spectral_deploy.backup.storage.local import LocalStorage
from spectral_deploy.config import (
    Config,
    DeployConfig,
    DnsConfig,
    HostingConfig,
    OutboxConfig,
    VcsConfig,
)
from spectral_deploy.cutover import crash
from spectral_deploy.cutover import store as deploys
from spectral_deploy.cutover.model import Deploy, Outcome
from spectral_deploy.cutover.orchestrator import AbortReport, Deployer
from spectral_deploy.db import Database
from spectral_deploy.db.connect import APPLICATION_NAME
from spectral_deploy.errors import SpectralError
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.generations import GenerationState
from spectral_deploy.ledger.store import entries
from spectral_deploy.outbox import drain as drains
from spectral_deploy.outbox.handlers import Event, Handlers
from spectral_deploy.outbox.status import read_status
from spectral_deploy.providers.base import Color
from spectral_deploy.providers.fake import FAKE_TOPIC, FakeWorld
from spectral_deploy.rollback.classify import Symptom
from spectral_deploy.rollback.facts import Gathered
from spectral_deploy.rollback.plan import Plan
from spectral_deploy.rollback.planner import plan_rollback, sources_of
from spectral_deploy.rollback.run import RollbackRunner
from spectral_deploy.rollback.store import RollbackRecord
from spectral_deploy.web.model import Level, Snapshot
from spectral_deploy.web.snapshot import Sources, read_snapshot

MIGRATION_V1 = "CREATE TABLE IF NOT EXISTS gadgets (id bigint PRIMARY KEY);\n"
MIGRATION_V2 = "CREATE TABLE IF NOT EXISTS widgets (id bigint PRIMARY KEY, name text);\n"
# the app's tables the releases' migrations create, to put back when a saved state has them
APP_TABLES = {"gadgets": MIGRATION_V1, "widgets": MIGRATION_V2}


class _PooledConnection(psycopg.Connection[Any]):
    """A connection that goes back to its ``PooledDatabase`` when closed (rolled back first)."""

    home: PooledDatabase | None = None
    pool_key: str = APPLICATION_NAME

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        if self.closed:
            return
        if exc_type is None:
            self.commit()
        else:
            with contextlib.suppress(psycopg.Error):
                self.rollback()
        self.close()

    def close(self) -> None:
        home = self.home
        if home is None or self.closed or self.broken:
            super().close()
            return
        try:
            if self.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self.rollback()
        except psycopg.Error:
            super().close()
            return
        home.give_back(self)

    def discard(self) -> None:
        """Close for real."""
        self.home = None
        super().close()


@dataclass(frozen=True)
class PooledDatabase(Database):
    """The same database, with sessions reused instead of opened per call: a command of the
    matrix opens dozens, and opening one costs more than the statements it runs. A session
    goes back rolled back, its advisory locks released (as they would be on close)."""

    idle: dict[str, list[_PooledConnection]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def connect(
        self, *, autocommit: bool = False, application_name: str = APPLICATION_NAME
    ) -> psycopg.Connection[tuple[object, ...]]:
        idle = self.idle.setdefault(application_name, [])
        while idle:
            conn = idle.pop()
            if not conn.closed and not conn.broken:
                conn.autocommit = autocommit
                conn.home = self
                return conn  # type: ignore[return-value]
        settings = self.settings
        conn = _PooledConnection.connect(
            self.url,
            autocommit=autocommit,
            application_name=application_name,
            options=f"-c statement_timeout={settings.statement_timeout_seconds * 1000} "
            f"-c lock_timeout={settings.lock_timeout_seconds * 1000}",
        )
        conn.home = self
        conn.pool_key = application_name
        return conn  # type: ignore[return-value]

    def give_back(self, conn: _PooledConnection) -> None:
        """Reuse ``conn`` later."""
        conn.home = None
        self.idle.setdefault(conn.pool_key, []).append(conn)

    def close_all(self) -> None:
        """Close every idle session."""
        for conns in self.idle.values():
            for conn in conns:
                conn.discard()
        self.idle.clear()


@dataclass(frozen=True)
class SavedState:
    """A copy of the database's rows (Spectral's schema and the app's tables) and of the world."""

    tables: dict[str, bytes]
    sequences: dict[str, int | None]
    app_tables: frozenset[str]
    world: dict[str, Any]


_WORLD_FIELDS = (
    "slots",
    "record",
    "unhealthy",
    "workers_start",
    "failing",
    "app_writes",
    "requests",
    "written",
    "handled",
)


class SimulatedCrash(BaseException):
    """The process died here (a BaseException: nothing of ours catches it, as with SIGKILL)."""


@contextlib.contextmanager
def crash_at(point: str | None, *, skip: int = 0, seen: list[str] | None = None) -> Iterator[None]:
    """Kill the command the ``skip + 1``-th time it reaches ``point``; every point reached is
    appended to ``seen``."""
    passed = [0]

    def handler(name: str) -> None:
        if seen is not None:
            seen.append(name)
        if point == name:
            if passed[0] >= skip:
                raise SimulatedCrash(name)
            passed[0] += 1

    previous = crash.install(handler)
    try:
        yield
    finally:
        crash.install(previous)


def make_config(root: Path, database: Database) -> Config:
    """A project on the fake providers: one worker per slot, short waits, TTL 1 s."""
    return Config(
        project_root=root,
        source=str(root / "spectral.toml"),
        outbox=OutboxConfig(stale_after_seconds=30, heartbeat_seconds=3),
        deploy=DeployConfig(
            health_timeout_seconds=1,
            workers_ready_timeout_seconds=1,
            smoke_paths=("/health", "/smoke"),
            hold_seconds=600,
            watch_interval_seconds=0.5,
        ),
        hosting=HostingConfig(provider="fake", workers=1),
        dns=DnsConfig(
            provider="fake",
            record="app.example.test",
            blue_target="blue.example.test",
            green_target="green.example.test",
            ttl=1,
        ),
        vcs=VcsConfig(provider="fake"),
    )


def handlers() -> Handlers:
    """What a legacy drain of the fake app runs (nothing: the rows only need handling)."""
    app = Handlers()

    @app.on(FAKE_TOPIC)
    def handled(event: Event) -> None:
        return None

    return app


@dataclass
class Operator:
    """One project, its fake world and the commands typed at it."""

    root: Path
    database: Database
    world: FakeWorld
    config: Config
    said: list[str] = field(default_factory=list)
    typed: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, root: Path, database: Database) -> Operator:
        """A project with v1.0.0 (its first migration) and v2.0.0 (one expand migration) tagged
        (a release without migrations where they are configured stops at step 3)."""
        world = FakeWorld(
            database,
            record="app.example.test",
            blue_target="blue.example.test",
            green_target="green.example.test",
        )
        base = {"app.py": "print('v1')\n", "migrations/0000_gadgets.sql": MIGRATION_V1}
        world.vcs.commit(base, tag="v1.0.0")
        world.vcs.commit(
            {**base, "app.py": "print('v2')\n", "migrations/0001_widgets.sql": MIGRATION_V2},
            tag="v2.0.0",
        )
        return cls(root, database, world, make_config(root, database))

    @classmethod
    @contextlib.contextmanager
    def deployed(cls, root: Path, database: Database, *tags: str) -> Iterator[Operator]:
        """``start``, then each of ``tags`` deployed in turn; the world closed afterwards."""
        operator = cls.start(root, database)
        try:
            for tag in tags:
                operator.deploy(tag)
            yield operator
        finally:
            operator.world.close()

    # -- one process per command ----------------------------------------------------------

    def deployer(self) -> Deployer:
        """What ``Deployer.from_config`` builds, with the fake world's providers."""
        world = self.world
        return Deployer(
            self.config,
            self.database,
            hosting=world.hosting,
            dns=world.dns,
            vcs=world.vcs,
            source=world.vcs,
            probe=world.probe,
            clock=world.clock,
            fetch=world.fetch,
            say=self.said.append,
        )

    def runner(self) -> RollbackRunner:
        """What ``rollback run`` builds."""
        return RollbackRunner(self.config, self.database, self.deployer(), say=self.said.append)

    def deploy(self, tag: str) -> Deploy:
        """``spectral-deploy deploy TAG``."""
        self.typed.append(f"deploy {tag}")
        return self.deployer().start(tag)

    def resume(self) -> Deploy:
        """``spectral-deploy deploy resume``."""
        self.typed.append("deploy resume")
        return self.deployer().resume()

    def abort(self) -> AbortReport:
        """``spectral-deploy deploy abort --yes``."""
        self.typed.append("deploy abort --yes")
        return self.deployer().abort()

    def finish(self, *, force: bool = True) -> None:
        """``spectral-deploy deploy finish [--force] --yes`` (tests end the window early)."""
        self.typed.append("deploy finish --force --yes" if force else "deploy finish --yes")
        self.deployer().finish(force=force)

    def plan(self, symptom: Symptom | None, deploy_id: int | None = None) -> tuple[Gathered, Plan]:
        """``spectral-deploy rollback plan [--symptom S]``."""
        self.typed.append(f"rollback plan --symptom {symptom}")
        return plan_rollback(
            self.config,
            symptom=symptom,
            deploy_id=deploy_id,
            sources=sources_of(self.deployer()),
            existing_tags=frozenset(self.world.vcs.tags),
        )

    def rollback_run(self, symptom: Symptom | None) -> RollbackRecord:
        """``spectral-deploy rollback run [--symptom S] --yes``: resumes an open rollback."""
        self.typed.append(f"rollback run --symptom {symptom} --yes")
        runner = self.runner()
        record = runner.open_record()
        if record is None:
            gathered, chosen = plan_rollback(
                self.config,
                symptom=symptom,
                sources=sources_of(runner.deployer),
                existing_tags=frozenset(self.world.vcs.tags),
            )
            record = runner.begin(chosen, gathered.facts, gathered.deploy)
        return runner.run(record)

    def status(self) -> Snapshot:
        """``spectral-deploy status``."""
        self.typed.append("status")
        world = self.world
        sources = Sources(
            self.config,
            self.database,
            world.dns,
            world.hosting,
            LocalStorage(self.root / "backups"),
            probe=world.probe,
        )
        return read_snapshot(sources, timeline_entries=0)

    def dns_point(self, color: str) -> None:
        """``spectral-deploy dns point COLOR --yes``."""
        self.typed.append(f"dns point {color} --yes")
        target = self.config.dns.blue_target if color == "blue" else self.config.dns.green_target
        self.world.dns.point(target, self.config.dns.ttl)

    def drain(self, generation: int, mode: str) -> None:
        """``spectral-deploy drain --target-generation G [--mode adopt] --yes``."""
        self.typed.append(f"drain --target-generation {generation} --mode {mode}")
        if mode == "adopt":
            live = self.deployer().observe_live(health=False).live_generation
            assert live is not None, "adopt needs a live generation"
            drains.adopt(self.database, self.config.outbox, generation, live)
        else:
            drains.process(
                self.database, self.config.outbox, generation, handlers(), app="fakeworld"
            )

    # -- the advice, followed --------------------------------------------------------------

    def follow(self, command: str) -> bool:
        """Type an advised command; False when it only reads (status, show, plan)."""
        words = shlex.split(command)
        assert words[0] == "spectral-deploy", command
        args = [w for w in words[1:] if w not in ("--yes", "-y")]
        match args:
            case ["deploy", "resume"]:
                self.resume()
            case ["deploy", "abort"]:
                self.abort()
            case ["deploy", "finish"]:
                self.finish(force=False)
            case ["rollback", "run", *rest]:
                self.rollback_run(_symptom(rest))
            case ["dns", "point", color]:
                self.dns_point(color)
            case ["drain", "--target-generation", generation, *rest]:
                self.drain(int(generation), "adopt" if "adopt" in rest else "process")
            case ["hosting", "scale", color, count]:
                self.typed.append(command)
                self.world.hosting.scale_workers(Color(color), int(count))
            case ["status"] | ["deploy", "status"] | ["dns", "show"] | ["hosting", "status"]:
                return False
            case ["rollback", "plan", *_] | ["deploy", "watch"] | ["lint", *_]:
                return False
            case _:
                raise AssertionError(
                    f"status advised a command the operator cannot type: {command}"
                )
        return True

    def recover(self, rounds: int = 6) -> list[str]:
        """Follow status's critical advice until there is none; the commands typed."""
        followed: list[str] = []
        for _ in range(rounds):
            snapshot = self.status()
            check_status_claims(self, snapshot)
            critical = [a for a in snapshot.actions if a.level is Level.CRITICAL]
            if not critical:
                return followed
            acted = False
            for advised in critical[0].commands:
                command = advised
                try:
                    acted = self.follow(command)
                except SpectralError as exc:
                    followed.append(f"{command} -> refused: {exc.message}")
                    hinted = _command_in(exc.hint)
                    if hinted is None:
                        continue
                    command = hinted
                    try:  # the refusal names the way out: type that
                        acted = self.follow(command)
                    except SpectralError as again:
                        followed.append(f"{command} -> refused: {again.message}")
                        continue
                if acted:
                    followed.append(command)
                    break
            assert acted, f"no advised command could act on: {critical[0].reason} {followed}"
        raise AssertionError(f"still critical after {rounds} rounds: {followed}")


def _command_in(hint: str | None) -> str | None:
    """The command a refusal's hint names first (``spectral-deploy ...``), if any."""
    if not hint or not hint.startswith("spectral-deploy "):
        return None
    return hint.splitlines()[0].split("  ")[0].strip()


def _symptom(rest: list[str]) -> Symptom | None:
    if "--symptom" in rest:
        return Symptom(rest[rest.index("--symptom") + 1])
    return None


# -- saving and restoring a state ---------------------------------------------------------


def save_state(operator: Operator) -> SavedState:
    """The database's rows and the world, to come back to."""
    schema = operator.database.schema
    world = operator.world
    tables: dict[str, bytes] = {}
    with operator.database.connect() as conn:
        names = _tables(conn, schema)
        for name in names:
            with conn.cursor().copy(
                sql.SQL("COPY {}.{} TO STDOUT (FORMAT binary)").format(
                    sql.Identifier(schema), sql.Identifier(name)
                )
            ) as copy_out:
                tables[name] = b"".join(bytes(chunk) for chunk in copy_out)
        sequences = {
            str(row[0]): row[1]
            for row in conn.execute(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = %s",
                (schema,),
            )
        }
        app = frozenset(_tables(conn, "public"))
    saved_world = {name: copy.deepcopy(getattr(world, name)) for name in _WORLD_FIELDS}
    saved_world["vcs"] = (copy.deepcopy(world.vcs.commits), dict(world.vcs.tags))
    saved_world["changes"] = world.dns.changes
    return SavedState(tables, sequences, app, saved_world)


def restore_state(operator: Operator, state: SavedState) -> None:
    """Put the rows and the world back as they were saved."""
    schema = operator.database.schema
    world = operator.world
    world.close()
    with operator.database.connect() as conn:
        conn.execute("SET session_replication_role = replica")
        names = _tables(conn, schema)
        for name in names:  # DELETE: on tables this small TRUNCATE's new files cost more
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(schema, name)))
        for name in names:
            with conn.cursor().copy(
                sql.SQL("COPY {}.{} FROM STDIN (FORMAT binary)").format(
                    sql.Identifier(schema), sql.Identifier(name)
                )
            ) as copy_in:
                copy_in.write(state.tables[name])
        for sequence, value in state.sequences.items():
            conn.execute(
                "SELECT setval(%s, %s, %s)",
                (f"{schema}.{sequence}", value or 1, value is not None),
            )
        present = set(_tables(conn, "public"))
        for table in present - state.app_tables:
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier("public", table)))
        for table in state.app_tables - present:
            conn.execute(APP_TABLES[table])
        conn.execute("SET session_replication_role = origin")
    for name in _WORLD_FIELDS:
        setattr(world, name, copy.deepcopy(state.world[name]))
    commits, tags = state.world["vcs"]
    world.vcs.commits = copy.deepcopy(commits)
    world.vcs.tags = dict(tags)
    world.dns.changes = state.world["changes"]
    world.refresh_heartbeats()
    operator.said.clear()
    operator.typed.clear()


def _tables(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", (schema,)
    ).fetchall()
    return [str(row[0]) for row in rows]


# -- what must hold ------------------------------------------------------------------------


def check_status_claims(operator: Operator, snapshot: Snapshot) -> None:
    """``status`` says only what it observed: the live slot, generation and slots as they are."""
    world = operator.world
    color = world.color_at(world.record.target)
    assert snapshot.live.color is color, (snapshot.live, world)
    slot = world.slots.get(color) if color else None
    expected = slot.generation if slot is not None and slot.web else None
    assert snapshot.live.generation == expected, (snapshot.live, world)
    for view in snapshot.slots:
        running = world.slots.get(view.color)
        assert (view.status == "stopped") == (running is None), (view, world)
        if running is not None:
            assert view.generation == running.generation


def check_abort_claims(operator: Operator, report: AbortReport) -> None:
    """What ``deploy abort`` said of blue is what the world shows."""
    world = operator.world
    deploy = report.deploy
    assert world.color_at(world.record.target) is not deploy.green or not deploy.has_blue
    if report.blue_serving is not None:
        assert report.blue_serving == world.serving(world.color_at(world.record.target))


def invariants(operator: Operator) -> list[str]:
    """The contract after recovery: what is wrong (empty: nothing)."""
    world = operator.world
    database = operator.database
    schema = database.schema
    problems: list[str] = []
    world.tick()
    color = world.color_at(world.record.target)
    slot = world.slots.get(color) if color is not None else None
    if color is None or slot is None or not world.serving(color):
        problems.append(f"the record points at {world.record.target!r}: not a serving slot")
    with database.connect() as conn:
        active = [
            g.generation
            for g in generations.list_all(conn, schema)
            if g.state is GenerationState.ACTIVE
        ]
        status = read_status(
            conn, schema, stale_after_seconds=operator.config.outbox.stale_after_seconds
        )
        opened = deploys.open_deploy(conn, schema)
        recent = deploys.list_recent(conn, schema, 50)
        ledger = entries(conn, schema)
    conn_rollback = RollbackRunner.read_open(database)
    if len(active) != 1:
        problems.append(f"generations active in the ledger: {active}")
    elif slot is not None and active[0] != slot.generation:
        problems.append(
            f"the ledger's active generation {active[0]} is not the one serving ({slot.generation})"
        )
    stranded = [g.generation for g in status.stranded]
    if stranded:
        problems.append(f"generations with rows and no live worker: {stranded}")
    if conn_rollback is not None:
        problems.append(f"rollback #{conn_rollback.id} left open")
    if opened is not None and opened.flipped and color is not opened.green:
        problems.append(f"deploy #{opened.id} is open and cut over, but the record is elsewhere")
    if opened is not None and not opened.flipped and color is opened.green:
        problems.append(f"deploy #{opened.id} is open, not cut over, and green gets the traffic")
    actions = {(e.deploy_id, e.action, e.outcome) for e in ledger}
    for deploy in recent:
        wanted = (
            {
                Outcome.ABORTED: ("abort",),
                Outcome.COMPLETED: ("finish",),
                Outcome.ROLLED_BACK: ("flip-back", "close-deploy"),
            }.get(deploy.outcome)
            if deploy.outcome
            else None
        )
        if wanted and not any((deploy.id, a, "ok") in actions for a in wanted):
            problems.append(f"deploy #{deploy.id} is {deploy.outcome} and the ledger never says so")
    if slot is not None:
        activated = [
            e
            for e in ledger
            if e.kind == "generation"
            and e.generation == slot.generation
            and e.action.startswith("set-state:")
        ]
        if not activated or activated[-1].action != "set-state:active":
            problems.append(f"the ledger never says generation {slot.generation} became live")
    return problems


def each_crash_point(run: Callable[[], Any]) -> list[str]:
    """The crash points ``run`` passes through when nothing crashes."""
    seen: list[str] = []
    with crash_at(None, seen=seen):
        run()
    return seen
