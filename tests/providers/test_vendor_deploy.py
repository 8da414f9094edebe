"""A full deploy and a Class 2 rollback of the sample shop through the Cloudflare and Render
providers, against the local servers that speak their APIs.

The fake Render only keeps API state; so that health checks, smoke tests and worker
registration are real, its hooks run the release on this machine with the local hosting
provider when a service goes live, and stop it when a service is suspended.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spectral_deploy.db.embedded import EmbeddedServer
from spectral_deploy.providers.base import Color, ReleaseSpec
from spectral_deploy.providers.local.hosting import LocalHosting
from spectral_deploy.sandbox.shop import STANDARD_RELEASES, build_repository, free_port
from tests.acceptance.sandbox import Sandbox
from tests.providers.conftest import TOKENS
from tests.providers.fakes import FakeCloudflare, FakeRender

RECORD = "app.example.com"
WORKER = "background_worker"
SETTINGS = """
[hosting]
provider = "render"
api_url = "{render}"
blue_service_id = "{blue}"
green_service_id = "{green}"
blue_worker_service_id = "{blue_worker}"
green_worker_service_id = "{green_worker}"
blue_url = "http://127.0.0.1:{blue_port}"
green_url = "http://127.0.0.1:{green_port}"
workers = 1
poll_seconds = 0.05

[dns]
provider = "cloudflare"
zone_id = "{zone}"
record = "{record}"
blue_target = "shop-blue.onrender.com"
green_target = "shop-green.onrender.com"
ttl = 60

[deploy]
smoke_paths = ["/health", "/"]
health_timeout_seconds = 30
workers_ready_timeout_seconds = 30

[outbox]
poll_seconds = 0.2
heartbeat_seconds = 0.5
stale_after_seconds = 3
"""


class Machines:
    """What Render would run, run here: the local hosting provider behind the fake's hooks."""

    def __init__(
        self,
        render: FakeRender,
        root: Path,
        ports: dict[Color, int],
        colors: dict[str, tuple[Color, str]],
    ) -> None:
        self.render = render
        self.colors = colors  # service id -> (color, "web" | "worker")
        self.local = LocalHosting(
            project_root=root,
            state_dir=root / ".spectral",
            web_command="{python} -m shop.web --port {port}",
            worker_app="shop.handlers:handlers",
            health_path="/health",
            ports=ports,
            database_url="",
        )

    def on_live(self, service: str, deploy: dict[str, Any], env: dict[str, str]) -> None:
        color, kind = self.colors[service]
        generation = int(env.get("SPECTRAL_GENERATION", "0"))
        if kind == "web":
            self.local._database_url = self.database_url()
            self.local.deploy(
                color,
                ReleaseSpec(generation, deploy["commit"]["id"], env.get("SPECTRAL_TAG", "")),
            )
        else:
            self.local.scale_workers(color, 1)

    def on_suspend(self, service: str) -> None:
        color, kind = self.colors[service]
        if kind == "web":
            self.local.stop_web(color)
        else:
            self.local.scale_workers(color, 0)

    def database_url(self) -> str:
        url = EmbeddedServer(self.local.state_dir / "pg").status().url("spectral")
        assert url is not None
        return url

    def down(self) -> None:
        for color in Color:
            if self.local.current(color) is not None:
                self.local.stop(color)


@pytest.fixture
def vendor_sandbox() -> Iterator[tuple[Sandbox, FakeCloudflare, FakeRender, Machines]]:
    """The shop's repository configured for Render and Cloudflare, with both fakes running."""
    with FakeCloudflare(TOKENS["cloudflare"]) as cloudflare, FakeRender(TOKENS["render"]) as render:
        root = Path(tempfile.mkdtemp(prefix="spectral-vendor-"))
        root.chmod(0o755)
        ports = {Color.BLUE: free_port(), Color.GREEN: free_port()}
        services = {
            "blue": render.add_service("shop-blue"),
            "green": render.add_service("shop-green"),
            "blue_worker": render.add_service(
                "shop-blue-w", kind="background_worker", suspended=True
            ),
            "green_worker": render.add_service(
                "shop-green-w", kind="background_worker", suspended=True
            ),
        }
        cloudflare.add_cname(RECORD, "placeholder.example.com", ttl=60)
        settings = SETTINGS.format(
            render=render.api_url,
            zone=cloudflare.zone_id,
            record=RECORD,
            blue_port=ports[Color.BLUE],
            green_port=ports[Color.GREEN],
            **services,
        )
        commits = build_repository(root, STANDARD_RELEASES, settings=settings)
        machines = Machines(
            render,
            root,
            ports,
            {
                services["blue"]: (Color.BLUE, "web"),
                services["green"]: (Color.GREEN, "web"),
                services["blue_worker"]: (Color.BLUE, "worker"),
                services["green_worker"]: (Color.GREEN, "worker"),
            },
        )
        render.on_live = machines.on_live
        render.on_suspend = machines.on_suspend
        sandbox = Sandbox(root=root, router=0, commits=commits)
        # production providers need DATABASE_URL: the embedded server, started on purpose
        started = sandbox.ok("db", "start").stdout
        sandbox._database_url = next(
            line.split(None, 1)[1] for line in started.splitlines() if line.startswith("url:")
        )
        try:
            yield sandbox, cloudflare, render, machines
        finally:
            machines.down()
            sandbox.run("db", "stop")
            shutil.rmtree(root, ignore_errors=True)


def env_for(cloudflare: FakeCloudflare, sandbox: Sandbox) -> dict[str, str]:
    return {
        "DATABASE_URL": sandbox.database_url(),
        "CLOUDFLARE_API_TOKEN": TOKENS["cloudflare"],
        "CLOUDFLARE_BASE_URL": cloudflare.api_url,
        "RENDER_API_KEY": TOKENS["render"],
    }


def test_deploy_and_class_2_rollback_through_cloudflare_and_render(
    vendor_sandbox: tuple[Sandbox, FakeCloudflare, FakeRender, Machines],
) -> None:
    """v1.0.0 then v1.1.0 through the vendor APIs, then a Class 2 rollback flips back."""
    sandbox, cloudflare, render, machines = vendor_sandbox
    env = env_for(cloudflare, sandbox)
    sandbox.ok("db", "init", env=env)
    first = sandbox.ok("deploy", "v1.0.0", env=env)
    assert "first deploy" in first.stdout
    live = cloudflare.record(RECORD)["content"]
    assert live in ("shop-blue.onrender.com", "shop-green.onrender.com")

    second = sandbox.ok("deploy", "v1.1.0", env=env)
    assert "is live on slot" in second.stdout
    flipped = cloudflare.record(RECORD)
    assert flipped["content"] != live and flipped["ttl"] == 60 and flipped["proxied"] is False
    assert render.calls("PUT", r"/services/[^/]+/env-vars$") == [], "never the replace-all"
    assert render.calls("PUT", r"/services/[^/]+/env-vars/SPECTRAL_GENERATION$")

    rolled = sandbox.ok("rollback", "run", "--symptom", "behavior", "--yes", env=env)
    assert "rollback #1 completed" in rolled.stdout
    assert cloudflare.record(RECORD)["content"] == live
    states = dict(sandbox.query("SELECT generation, state FROM spectral.generations"))
    assert states == {1: "active", 2: "failed"}
    suspended = {
        sid for sid, service in render.services.items() if service["suspended"] == "suspended"
    }
    status = sandbox.ok("deploy", "status", "--format", "json", env=env)
    bad_slot = json.loads(status.stdout)["deploy"]["green"]
    assert {s for s, (c, _) in machines.colors.items() if c.value == bad_slot} <= suspended
    output = "".join(r.stdout + r.stderr for r in (first, second, rolled, status))
    for token in (TOKENS["cloudflare"], TOKENS["render"]):
        assert token not in output
