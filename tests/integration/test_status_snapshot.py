"""Reading a status snapshot from a real PostgreSQL, with stand-in DNS, hosting and storage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spectral_deploy.backup.storage.local import LocalStorage
from spectral_deploy.config import Config, HostingConfig
from spectral_deploy.cutover import store
from spectral_deploy.cutover.model import Step
from spectral_deploy.cutover.phase import Phase
from spectral_deploy.db import Database
from spectral_deploy.errors import ProviderError, StorageUnavailable
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.generations import GenerationState
from spectral_deploy.outbox import emit_many
from spectral_deploy.providers.base import Color, Deployment, DnsRecord, Health
from spectral_deploy.web.model import BackupState
from spectral_deploy.web.snapshot import Sources, read_snapshot


@dataclass
class Dns:
    target: str = "blue"
    down: bool = False

    def read(self) -> DnsRecord:
        if self.down:
            raise ProviderError("timed out", provider="cloudflare", operation="read")
        return DnsRecord("shop.example.com", self.target, 60)


class Hosting:
    def current(self, color: Color) -> Deployment | None:
        if color is Color.GREEN:
            return None
        return Deployment(color, 1, "abc", "v1.0.0", "running", workers=2)

    def health(self, color: Color) -> Health:
        return Health(True, "HTTP 200", "http://blue.internal/health")


class BrokenStorage(LocalStorage):
    def list(self) -> list:  # type: ignore[type-arg]
        raise StorageUnavailable("gs://shop-backups: 403 Forbidden")


def sources(database: Database, tmp_path: Path, **changes: object) -> Sources:
    config = Config(project_root=tmp_path, source="test", hosting=HostingConfig(workers=2))
    values: dict[str, object] = {
        "dns": Dns(),
        "hosting": Hosting(),
        "storage": LocalStorage(tmp_path / "backups"),
    }
    values.update(changes)
    return Sources(config, database, **values)  # type: ignore[arg-type]


def seed(database: Database) -> int:
    """Generation 1 live, generation 2 allocated with 5 rows and no worker, and a deploy of
    v1.1.0 (1 -> 3) that failed at step 6."""
    schema = database.schema
    with database.connect() as conn:
        first = generations.allocate(conn, schema, tag="v1.0.0", commit_sha="abc")
        generations.set_state(conn, schema, first.generation, GenerationState.ACTIVE)
        generations.allocate(conn, schema, tag="v1.0.1")
        emit_many(conn, [("order.created", {"n": n}) for n in range(5)], generation=2)
        deploy_id = store.insert(
            conn,
            schema,
            tag="v1.1.0",
            commit="def",
            from_generation=1,
            from_commit="abc",
            blue=Color.BLUE,
            green=Color.GREEN,
            started_by="test",
        )
        store.step_done(conn, schema, deploy_id, Step.DEPLOY_GREEN)
        store.step_failed(conn, schema, deploy_id, Step.GREEN_HEALTHY, "green never answered")
        conn.commit()
    return deploy_id


def test_the_snapshot_shows_live_color_stranded_rows_and_the_failed_deploy(
    database: Database, tmp_path: Path
) -> None:
    """Live blue at generation 1, generation 2 stranded with its drain command, the deploy
    failed at step 6 with abort first, no backup yet."""
    deploy_id = seed(database)
    snap = read_snapshot(sources(database, tmp_path))
    assert (snap.live.color, snap.live.generation, snap.live.tag) == (Color.BLUE, 1, "v1.0.0")
    assert [(s.color, s.live, s.generation) for s in snap.slots] == [
        (Color.BLUE, True, 1),
        (Color.GREEN, False, None),
    ]
    assert [g.generation for g in snap.outbox.stranded] == [2]
    assert snap.deploy is not None
    assert (snap.deploy.deploy.id, snap.deploy.phase) == (deploy_id, Phase.FAILED)
    assert snap.deploy.current_step is Step.GREEN_HEALTHY
    assert snap.backup.state is BackupState.NONE
    commands = [c for a in snap.actions for c in a.commands]
    assert commands[:3] == [
        "spectral-deploy deploy abort",
        "spectral-deploy deploy resume",
        "spectral-deploy rollback plan",
    ]
    assert "spectral-deploy drain --target-generation 2" in commands
    assert snap.unknown == {}
    assert [e.action for e in snap.timeline][:2] == ["allocate", "set-state:active"]


def test_unreadable_sources_become_unknown_without_failing(
    database: Database, tmp_path: Path
) -> None:
    """The DNS API and the backup storage fail: the snapshot still comes, saying why for
    each, with no live color guessed."""
    seed(database)
    snap = read_snapshot(
        sources(
            database,
            tmp_path,
            dns=Dns(down=True),
            storage=BrokenStorage(tmp_path / "backups"),
        )
    )
    assert snap.unknown == {
        "dns": "cloudflare read: timed out",
        "backup": "gs://shop-backups: 403 Forbidden",
    }
    assert snap.live.color is None and snap.live.generation == 1
    assert snap.backup.state is BackupState.UNKNOWN
    assert [g.generation for g in snap.outbox.stranded] == [2]


def test_a_deploy_driven_by_a_live_process_is_not_called_orphaned(
    database: Database, tmp_path: Path
) -> None:
    """While another session holds the deploy lock, the progressing deploy shows its driver
    and asks for nothing; once the lock is gone it asks for resume or abort."""
    schema = database.schema
    with database.connect() as conn:
        store.insert(
            conn,
            schema,
            tag="v1.0.0",
            commit="abc",
            from_generation=None,
            from_commit=None,
            blue=Color.GREEN,
            green=Color.BLUE,
            started_by="test",
        )
        conn.commit()
    with database.connect(autocommit=True) as holder, store.DeployLock(holder, schema):
        driven = read_snapshot(sources(database, tmp_path, dns=Dns(target="")))
    orphaned = read_snapshot(sources(database, tmp_path, dns=Dns(target="")))
    assert driven.deploy is not None and driven.deploy.driver_pid is not None
    assert not any("driving" in a.reason for a in driven.actions)
    assert orphaned.deploy is not None and orphaned.deploy.driver_pid is None
    (orphan,) = [a for a in orphaned.actions if "driving" in a.reason]
    assert orphan.commands == ("spectral-deploy deploy resume", "spectral-deploy deploy abort")
