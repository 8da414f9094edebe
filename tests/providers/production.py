"""Production on the vendor fakes: Render, Cloudflare, GitHub, Sentry and Slack fakes, the
sample shop's repository configured for them, its generated workflows, and a runner.

What Render would run is run here: when a Render service goes live, the fake's hook starts
the release on this machine with the local hosting provider (web app and workers, against
the test database), and stops it when the service is suspended, so that health checks, smoke
tests and worker registrations are real. A web service going live with ``SENTRY_RELEASE`` set
registers that release in the Sentry fake, as the app's Sentry SDK would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from spectral_deploy.providers.base import Color, ReleaseSpec
from spectral_deploy.providers.local.hosting import LocalHosting
from spectral_deploy.sandbox.shop import ShopRelease, build_repository, free_port
from spectral_deploy.scaffold import Flavour, Settings, render, write_files
from spectral_deploy.scaffold.install import InstallKind, InstallSource
from tests.acceptance.sandbox import run_cli
from tests.providers.actions import WorkflowRunner
from tests.providers.conftest import TOKENS
from tests.providers.fakes import FakeCloudflare, FakeGitHub, FakeRender, FakeSentry, FakeSlack

__all__ = ["RECORD", "RELEASES", "Machines", "World", "production_world"]

RECORD = "app.example.com"
TARGETS = {Color.BLUE: "shop-blue.onrender.com", Color.GREEN: "shop-green.onrender.com"}
RELEASES = (
    ShopRelease("v1.0.0", "1.0.0", migrations=2, writes_email=False),
    ShopRelease("v1.1.0", "1.1.0", migrations=3),
    ShopRelease("v1.2.0", "1.2.0", migrations=3, fault="behavior"),
    ShopRelease("v1.3.0", "1.3.0", migrations=3, fault="data"),
)
PINNED = InstallSource(InstallKind.GIT, "https://github.com/acme/spectral-deploy", "e" * 40)
ACTIONS_TOKEN = f"ghs_{'a1' * 18}"
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
blue_target = "{blue_target}"
green_target = "{green_target}"
ttl = 60

[vcs]
provider = "github"
repository = "acme/shop"
api_url = "{github}"
workflow_poll_seconds = 0.3
workflow_timeout_seconds = 600

[notify]
chat = "slack"
release_notes = "github"

[errors]
provider = "sentry"
organization = "acme"
project = "shop"
api_url = "{sentry}"
max_errors = 0

[deploy]
smoke_paths = ["/health", "/"]
hold_seconds = 3600
health_timeout_seconds = 60
workers_ready_timeout_seconds = 60
watch_interval_seconds = 0.5

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
        sentry: FakeSentry,
        root: Path,
        database_url: str,
        ports: dict[Color, int],
        colors: dict[str, tuple[Color, str]],
    ) -> None:
        self.render = render
        self.sentry = sentry
        self.colors = colors  # service id -> (color, "web" | "worker")
        self.local = LocalHosting(
            project_root=root,
            state_dir=root / ".spectral",
            web_command="{python} -m shop.web --port {port}",
            worker_app="shop.handlers:handlers",
            health_path="/health",
            ports=ports,
            database_url=database_url,
        )

    def on_live(self, service: str, deploy: dict[str, Any], env: dict[str, str]) -> None:
        color, kind = self.colors[service]
        generation = int(env.get("SPECTRAL_GENERATION", "0") or 0)
        if kind == "web":
            release = ReleaseSpec(generation, deploy["commit"]["id"], env.get("SPECTRAL_TAG", ""))
            self.local.deploy(color, release)
            if env.get("SENTRY_RELEASE"):
                self.sentry.add_release(env["SENTRY_RELEASE"])
        else:
            self.local.scale_workers(color, 1)

    def on_suspend(self, service: str) -> None:
        color, kind = self.colors[service]
        if kind == "web":
            self.local.stop_web(color)
        else:
            self.local.scale_workers(color, 0)

    def down(self) -> None:
        for color in Color:
            if self.local.current(color) is not None:
                self.local.stop(color)


@dataclass
class World:
    """The fakes, the project, its workflows and a runner for them."""

    root: Path
    database_url: str
    render: FakeRender
    cloudflare: FakeCloudflare
    github: FakeGitHub
    sentry: FakeSentry
    slack: FakeSlack
    machines: Machines
    services: dict[str, str]
    commits: dict[str, str]
    runner: WorkflowRunner

    # --- what people do ------------------------------------------------------------------

    def push_tag(self, tag: str) -> None:
        """`git push origin TAG` by a person: the ref appears on GitHub (push runs queue)."""
        answer = httpx.post(
            f"{self.github.api_url}/repos/acme/shop/git/refs",
            json={"ref": f"refs/tags/{tag}", "sha": self.commits[tag]},
            headers={"Authorization": f"Bearer {TOKENS['github']}"},
        )
        assert answer.status_code == 201, answer.text

    def run_queued(self, workflow: str = "deploy-prod.yml") -> tuple[dict[str, Any], Any] | None:
        """A runner picks the oldest queued run of ``workflow`` and runs it to the end."""
        run = self.github.next_run(workflow)
        if run is None:
            return None
        event = run["event"]
        inputs = run.get("inputs") or {}
        result = self.runner.run(workflow, event=event, ref_name=run["head_branch"], inputs=inputs)
        self.github.finish_run(run["id"], "success" if result.ok else "failure")
        return run, result

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """``spectral-deploy ARGS`` on an operator's machine, with the secrets exported."""
        return run_cli(self.root, args, env=self.operator_env(), timeout=timeout)

    def operator_env(self) -> dict[str, str]:
        return {
            **{k: v for k, v in self.runner.secrets.items() if k != "GITHUB_TOKEN"},
            "GITHUB_TOKEN": TOKENS["github"],  # a person's token, not a run's
            "CLOUDFLARE_BASE_URL": self.cloudflare.api_url,
        }

    # --- looking -------------------------------------------------------------------------

    def query(self, text: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(text, params).fetchall()  # type: ignore[arg-type]

    def live_target(self) -> str:
        return str(self.cloudflare.record(RECORD)["content"])

    def color_of(self, target: str) -> Color:
        return next(color for color, name in TARGETS.items() if name == target)

    def suspended(self, color: Color) -> bool:
        return all(
            self.render.services[sid]["suspended"] == "suspended"
            for sid, (c, _) in self.machines.colors.items()
            if c is color
        )

    def backdate(self, deploy_id: int, seconds: float) -> None:
        """Time passes: the deploy's flip and hold window move ``seconds`` into the past."""
        with psycopg.connect(self.database_url) as conn:
            conn.execute(
                "UPDATE spectral.deploys SET flipped_at = flipped_at - make_interval(secs => %s), "
                "hold_until = hold_until - make_interval(secs => %s) WHERE id = %s",
                (seconds, seconds, deploy_id),
            )


@contextmanager
def production_world(database_url: str) -> Iterator[World]:
    """Every fake running, the shop's repository configured for them with the generated
    workflows, and a runner holding the repository's secrets."""
    with ExitStack() as stack:
        render = stack.enter_context(FakeRender(TOKENS["render"]))
        cloudflare = stack.enter_context(FakeCloudflare(TOKENS["cloudflare"]))
        github = stack.enter_context(FakeGitHub(TOKENS["github"]))
        sentry = stack.enter_context(FakeSentry(TOKENS["sentry"]))
        slack = stack.enter_context(FakeSlack(TOKENS["slack"]))
        github.actions_token = ACTIONS_TOKEN
        root = Path(tempfile.mkdtemp(prefix="spectral-production-"))
        root.chmod(0o755)
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        # named in spectral.toml (blue_url/green_url) before the slots start: see free_port
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
            blue_target=TARGETS[Color.BLUE],
            green_target=TARGETS[Color.GREEN],
            github=github.api_url,
            sentry=sentry.api_url,
            blue_port=ports[Color.BLUE],
            green_port=ports[Color.GREEN],
            **services,
        )
        commits = build_repository(root, RELEASES, settings=settings)
        # the generated production workflows, with this project's spectral.toml kept
        files = [f for f in render_files() if f.path.as_posix() != "spectral.toml"]
        write_files(root, files, force=True)
        for commit in commits.values():
            github.commits.add(commit)
        machines = Machines(
            render,
            sentry,
            root,
            database_url,
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
        stack.callback(machines.down)
        secrets = {
            "DATABASE_URL": database_url,
            "RENDER_API_KEY": TOKENS["render"],
            "CLOUDFLARE_API_TOKEN": TOKENS["cloudflare"],
            "SLACK_WEBHOOK_URL": slack.webhook_url,
            "SENTRY_AUTH_TOKEN": TOKENS["sentry"],
            "GITHUB_TOKEN": ACTIONS_TOKEN,
            "GCP_BACKUP_WRITER": "{}",
            "BACKUP_VERIFY_KEY": "AGE-SECRET-KEY-1TEST",
        }
        environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SPECTRAL_") and k != "DATABASE_URL"
        }
        environ["CLOUDFLARE_BASE_URL"] = cloudflare.api_url
        environ["COLUMNS"] = "200"

        def resolve(tag: str) -> str:
            ref = github.refs[f"refs/tags/{tag}"]
            return github._peel(tag) if ref["type"] == "tag" else ref["sha"]

        runner = WorkflowRunner(
            root, secrets, environ, resolve_tag=resolve, job_env={"WATCH_SECONDS": "2"}
        )
        yield World(
            root,
            database_url,
            render,
            cloudflare,
            github,
            sentry,
            slack,
            machines,
            services,
            commits,
            runner,
        )


def render_files() -> list[Any]:
    return list(render(Settings(Flavour.RENDER_CLOUDFLARE, repository="acme/shop", install=PINNED)))
