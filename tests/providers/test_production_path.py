"""The production path's decisions on the vendor fakes: the database it runs against, what is
live (the record, as DNS compares names), and Cloudflare's TTL floor at the command line."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from spectral_deploy.config import load_config
from spectral_deploy.cutover.orchestrator import Deployer
from spectral_deploy.db import Database
from spectral_deploy.errors import PreconditionFailed
from spectral_deploy.ledger import generations
from spectral_deploy.providers.base import Color
from spectral_deploy.providers.cloudflare import CloudflareDns, make_client
from spectral_deploy.providers.http import ApiClient, Secret
from spectral_deploy.providers.local.git import GitVcs
from spectral_deploy.providers.render import RenderHosting, RenderServices
from tests.acceptance.sandbox import run_cli
from tests.providers.conftest import FAST_RETRIES, TOKENS, RecordedSleep
from tests.providers.fakes import FakeCloudflare, FakeRender

RECORD = "app.example.com"
BLUE, GREEN = "shop-blue.onrender.com", "shop-green.onrender.com"


class World:
    """Render and Cloudflare fakes, and a project configured for them."""

    def __init__(self, render: FakeRender, cloudflare: FakeCloudflare, root: Path) -> None:
        self.render = render
        self.cloudflare = cloudflare
        self.root = root
        self.services = {
            "blue": render.add_service("shop-blue"),
            "green": render.add_service("shop-green"),
            "blue_worker": render.add_service("shop-blue-w", kind="background_worker"),
            "green_worker": render.add_service("shop-green-w", kind="background_worker"),
        }
        (root / "spectral.toml").write_text(
            f"""
[hosting]
provider = "render"
api_url = "{render.api_url}"
blue_service_id = "{self.services["blue"]}"
green_service_id = "{self.services["green"]}"
blue_worker_service_id = "{self.services["blue_worker"]}"
green_worker_service_id = "{self.services["green_worker"]}"
blue_url = "{render.app_url(self.services["blue"])}"
green_url = "{render.app_url(self.services["green"])}"
poll_seconds = 0.01

[dns]
provider = "cloudflare"
zone_id = "{cloudflare.zone_id}"
record = "{RECORD}"
blue_target = "{BLUE}"
green_target = "{GREEN}"
""",
            encoding="utf-8",
        )
        self.config = load_config(cwd=root, environ={})

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "CLOUDFLARE_API_TOKEN": TOKENS["cloudflare"],
            "CLOUDFLARE_BASE_URL": self.cloudflare.api_url,
            "RENDER_API_KEY": TOKENS["render"],
            **extra,
        }

    def deployer(self, database: Database, vcs: object) -> Deployer:
        hosting = RenderHosting(
            _api(self.render),
            RenderServices(self.config),
            poll_seconds=0.01,
            sleep=RecordedSleep(),
        )
        client = make_client(
            Secret(TOKENS["cloudflare"]),
            base_url=self.cloudflare.api_url,
            policy=FAST_RETRIES,
            sleep=RecordedSleep(),
        )
        dns = CloudflareDns(client, zone_id=self.cloudflare.zone_id, name=RECORD)
        return Deployer(
            self.config,
            database,
            hosting=hosting,
            dns=dns,
            vcs=vcs,  # type: ignore[arg-type]
            source=GitVcs(self.root),
        )


def _api(render: FakeRender) -> ApiClient:
    return ApiClient(
        provider="render",
        base_url=render.api_url,
        token=Secret(TOKENS["render"]),
        token_env="RENDER_API_KEY",
        policy=FAST_RETRIES,
        sleep=RecordedSleep(),
    )


class Tags:
    """A VCS that knows one tag."""

    def __init__(self, tags: dict[str, str]) -> None:
        self.tags = tags

    def resolve_tag(self, tag: str) -> str:
        return self.tags[tag]

    def create_tag(self, tag: str, commit: str, message: str) -> None:
        self.tags[tag] = commit


@pytest.fixture
def world(fake_render: FakeRender, fake_cloudflare: FakeCloudflare) -> Iterator[World]:
    """Render and Cloudflare fakes and a project directory configured for them."""
    root = Path(tempfile.mkdtemp(prefix="spectral-prod-"))
    try:
        yield World(fake_render, fake_cloudflare, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("command", [("deploy", "v1.0.0"), ("status",), ("rollback", "run")])
def test_an_empty_database_url_stops_every_command_before_anything_starts(
    world: World, command: tuple[str, ...]
) -> None:
    """With the production config and DATABASE_URL="" (an unset secret): exit 2 naming
    DATABASE_URL; no embedded server on the runner, no call to Render or Cloudflare."""
    world.cloudflare.add_cname(RECORD, BLUE)
    result = run_cli(world.root, command, env=world.env(DATABASE_URL=""), timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "DATABASE_URL" in result.stderr and "production providers" in result.stderr
    assert not (world.root / ".spectral" / "pg").exists()
    assert world.render.calls() == [] and world.cloudflare.calls() == []


def test_the_live_color_is_found_whatever_the_case_and_trailing_dot(
    world: World, database: Database
) -> None:
    """A record reading Shop-Green.OnRender.com. is green, not "nowhere we know"."""
    world.cloudflare.add_cname(RECORD, "Shop-Green.OnRender.com.")
    assert world.deployer(database, Tags({})).live_color() is Color.GREEN


def test_a_record_elsewhere_with_a_live_generation_is_never_a_first_deploy(
    world: World, database: Database
) -> None:
    """An active generation and a record pointing at neither target: the deploy refuses
    (exit 3) instead of skipping blue's checks and the hold window as a first deploy."""
    with database.connect() as conn, conn.transaction():
        allocated = generations.allocate(conn, database.schema, tag="v1.0.0", commit_sha="a" * 40)
        generations.set_state(
            conn, database.schema, allocated.generation, generations.GenerationState.ACTIVE
        )
    world.cloudflare.add_cname(RECORD, "maintenance.example.net")
    deployer = world.deployer(database, Tags({"v1.1.0": "b" * 40}))
    with pytest.raises(PreconditionFailed, match="neither slot") as caught:
        deployer.start("v1.1.0")
    assert caught.value.hint is not None and "dns point" in caught.value.hint
    with database.connect() as conn:
        assert conn.execute("SELECT count(*) FROM spectral.deploys").fetchone() == (0,)
    # what runs on each slot is read (the observation), nothing is changed
    assert [c.method for c in world.render.calls() if c.method != "GET"] == []


def test_dns_point_refuses_a_ttl_below_cloudflare_minimum_before_asking(world: World) -> None:
    """`dns point green --ttl 30`: exit 2 before reading or changing the record."""
    world.cloudflare.add_cname(RECORD, BLUE)
    result = run_cli(
        world.root, ("dns", "point", "green", "--ttl", "30"), env=world.env(), timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert "minimum of 60" in result.stderr
    assert world.cloudflare.calls() == []
