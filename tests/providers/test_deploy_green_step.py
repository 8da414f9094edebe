"""Step 5 (deploy green) on the Render fake: what runs is read from Render, and the deploy ids
the ledger recorded decide "already done", never the variables the step set itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectral_deploy.config import load_config
from spectral_deploy.cutover import store
from spectral_deploy.cutover.orchestrator import Deployer
from spectral_deploy.cutover.steps import VENDOR_DEPLOY_ACTION, StepContext, deploy_green
from spectral_deploy.db import Database
from spectral_deploy.errors import ProviderError
from spectral_deploy.ledger import generations
from spectral_deploy.ledger.store import entries
from spectral_deploy.providers.base import Color, DnsRecord
from spectral_deploy.providers.http import ApiClient, Secret
from spectral_deploy.providers.render import RenderHosting, RenderServices
from tests.providers.conftest import FAST_RETRIES, TOKENS, RecordedSleep
from tests.providers.fakes import FakeRender

OLD, NEW = "a" * 40, "b" * 40


class _PointsAt:
    """A DNS provider whose record points at one target and never moves."""

    def __init__(self, name: str, target: str) -> None:
        self.record = DnsRecord(name=name, target=target, ttl=60)

    def read(self) -> DnsRecord:
        return self.record

    def point(self, target: str, ttl: int) -> DnsRecord:
        raise AssertionError(f"abort must not move the record (asked for {target})")


class Step5:
    """Blue live at generation 1; green ran the same release before (the retired slot); an
    open deploy of v1.1.0 (NEW) to green with generation 2 allocated."""

    def __init__(self, fake: FakeRender, tmp_path: Path, database: Database) -> None:
        self.fake = fake
        ids = {
            name: fake.add_service(name, kind=kind)
            for name, kind in (
                ("blue", "web_service"),
                ("green", "web_service"),
                ("blue-w", "background_worker"),
                ("green-w", "background_worker"),
            )
        }
        self.green = ids["green"]
        for service in (ids["blue"], ids["green"]):
            fake.seed_live(
                service, OLD, SPECTRAL_GENERATION="1", SPECTRAL_TAG="v1.0.0", SPECTRAL_COMMIT=OLD
            )
        (tmp_path / "spectral.toml").write_text(
            "[hosting]\nprovider = 'render'\n"
            f"blue_service_id = '{ids['blue']}'\ngreen_service_id = '{ids['green']}'\n"
            f"blue_worker_service_id = '{ids['blue-w']}'\n"
            f"green_worker_service_id = '{ids['green-w']}'\n"
            f"blue_url = '{fake.app_url(ids['blue'])}'\n"
            f"green_url = '{fake.app_url(ids['green'])}'\n",
            encoding="utf-8",
        )
        config = load_config(cwd=tmp_path, environ={})
        api = ApiClient(
            provider="render",
            base_url=fake.api_url,
            token=Secret(TOKENS["render"]),
            policy=FAST_RETRIES,
            sleep=RecordedSleep(),
        )
        self.hosting = RenderHosting(
            api, RenderServices(config), poll_seconds=0.0, sleep=RecordedSleep()
        )
        self.database = database
        schema = database.schema
        with database.connect() as conn, conn.transaction():
            first = generations.allocate(conn, schema, tag="v1.0.0", commit_sha=OLD)
            generations.set_state(
                conn, schema, first.generation, generations.GenerationState.ACTIVE
            )
            deploy_id = store.insert(
                conn,
                schema,
                tag="v1.1.0",
                commit=NEW,
                from_generation=first.generation,
                from_commit=OLD,
                blue=Color.BLUE,
                green=Color.GREEN,
                started_by="test",
            )
            allocated = generations.allocate(conn, schema, tag="v1.1.0", commit_sha=NEW)
            store.set_generation(conn, schema, deploy_id, allocated.generation)
            deploy = store.get(conn, schema, deploy_id)
        assert deploy is not None
        self.said: list[str] = []
        self.ctx = StepContext(
            config=config,
            database=database,
            hosting=self.hosting,
            dns=None,  # type: ignore[arg-type]  # step 5 reads neither DNS nor tags
            vcs=None,  # type: ignore[arg-type]
            source=None,  # type: ignore[arg-type]
            deploy=deploy,
            say=self.said.append,
        )

    def recorded(self) -> list[str]:
        with self.database.connect() as conn:
            found = entries(conn, self.database.schema, kind="step", deploy_id=self.ctx.deploy.id)
        return [e.details["vendor_deploy_id"] for e in found if e.action == VENDOR_DEPLOY_ACTION]


@pytest.fixture
def step5(fake_render: FakeRender, tmp_path: Path, database: Database) -> Step5:
    """Step 5 of an open deploy, against the Render fake."""
    return Step5(fake_render, tmp_path, database)


def test_resume_after_a_failed_build_deploys_again(step5: Step5) -> None:
    """The build fails after the variables were set to generation 2; resuming the step must
    deploy NEW again, not take the old code (still live) for generation 2."""
    step5.fake.failing_commits[NEW] = "build_failed"
    with pytest.raises(ProviderError, match="ended build_failed"):
        deploy_green(step5.ctx)
    (failed,) = step5.recorded()
    assert step5.fake.env[step5.green]["SPECTRAL_GENERATION"] == "2"  # what fooled resume

    del step5.fake.failing_commits[NEW]  # the build is fixed
    details = deploy_green(step5.ctx)
    assert details.get("note") != "already deployed"
    live = next(d for d in step5.fake.deploys[step5.green] if d["status"] == "live")
    assert (live["commit"]["id"], live["id"]) == (NEW, details["vendor_deploy_id"])
    assert step5.fake.running_env(step5.green)["SPECTRAL_GENERATION"] == "2"  # type: ignore[index]
    assert step5.recorded() == [failed, live["id"]]


def test_a_deploy_that_went_live_is_not_repeated(step5: Step5) -> None:
    """Run twice (a crash after the deploy, before the step was recorded): the second run
    finds Render's live deploy among the ids this deploy recorded and does nothing."""
    first = deploy_green(step5.ctx)
    triggers = len(step5.fake.calls("POST", r"/deploys$"))
    again = deploy_green(step5.ctx)
    assert again["note"] == "already deployed"
    assert again["vendor_deploy_id"] == first["vendor_deploy_id"]
    assert len(step5.fake.calls("POST", r"/deploys$")) == triggers


def test_a_live_release_this_deploy_did_not_start_is_not_taken_for_done(step5: Step5) -> None:
    """Green already runs NEW with generation 2 in its variables, but from a deploy nobody
    recorded (started by hand in the dashboard): the step deploys it itself."""
    step5.fake.env[step5.green].update(
        SPECTRAL_GENERATION="2", SPECTRAL_TAG="v1.1.0", SPECTRAL_COMMIT=NEW
    )
    step5.fake.seed_live(step5.green, NEW)
    details = deploy_green(step5.ctx)
    assert details.get("note") != "already deployed"
    assert len(step5.recorded()) == 1


def test_a_job_timeout_during_the_build_resumes_without_overlapping(step5: Step5) -> None:
    """The job dies while Render builds (here: the wait times out); resuming waits for that
    deploy to end before triggering, so no deploy is canceled, and NEW ends live at 2."""
    clock = iter([0.0, 0.0, 1e9, 1e9, 1e9])
    step5.hosting._clock = lambda: next(clock, 1e9)
    with pytest.raises(ProviderError, match="still"):
        deploy_green(step5.ctx)
    step5.hosting._clock = lambda: 0.0
    details = deploy_green(step5.ctx)
    statuses = [d["status"] for d in step5.fake.deploys[step5.green]]
    assert "canceled" not in statuses
    live = next(d for d in step5.fake.deploys[step5.green] if d["status"] == "live")
    assert live["commit"]["id"] == NEW and live["id"] == details["vendor_deploy_id"]
    assert step5.fake.running_env(step5.green)["SPECTRAL_GENERATION"] == "2"  # type: ignore[index]


def test_abort_after_a_failed_build_stops_green(step5: Step5) -> None:
    """Class 1 after a failed build: Render cannot vouch for green's generation (the old code
    runs under the new variables), and abort stops green all the same."""
    step5.fake.failing_commits[NEW] = "build_failed"
    with pytest.raises(ProviderError):
        deploy_green(step5.ctx)
    config = step5.ctx.config
    deployer = Deployer(
        config,
        step5.database,
        hosting=step5.hosting,
        dns=_PointsAt(config.dns.record, config.dns.blue_target),  # abort reads the record
        vcs=None,  # type: ignore[arg-type]  # nor tags
        source=None,  # type: ignore[arg-type]
    )
    aborted = deployer.abort()
    assert str(aborted.deploy.outcome) == "aborted"
    assert step5.fake.services[step5.green]["suspended"] == "suspended"
