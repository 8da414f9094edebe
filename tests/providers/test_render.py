"""The Render hosting provider against a local server speaking Render's API."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from spectral_deploy.config import load_config
from spectral_deploy.errors import ConfigError, ProviderError
from spectral_deploy.providers.base import Color, ReleaseSpec
from spectral_deploy.providers.http import ApiClient, Secret
from spectral_deploy.providers.render import RenderHosting, RenderServices
from spectral_deploy.waiting import ReportsProgress, WaitProgress
from tests.providers.conftest import FAST_RETRIES, TOKENS, RecordedSleep
from tests.providers.fakes import FakeRender

OLD, NEW = "a" * 40, "b" * 40


class Setup:
    """Four services on the fake and a provider configured for them."""

    def __init__(self, fake: FakeRender, tmp_path: Path, *, token: str = TOKENS["render"]) -> None:
        self.fake = fake
        self.blue = fake.add_service("shop-blue")
        self.green = fake.add_service("shop-green")
        self.blue_workers = fake.add_service("shop-blue-workers", kind="background_worker")
        self.green_workers = fake.add_service(
            "shop-green-workers", kind="background_worker", suspended=True
        )
        (tmp_path / "spectral.toml").write_text(
            "[hosting]\n"
            'provider = "render"\n'
            f'blue_service_id = "{self.blue}"\n'
            f'green_service_id = "{self.green}"\n'
            f'blue_worker_service_id = "{self.blue_workers}"\n'
            f'green_worker_service_id = "{self.green_workers}"\n'
            f'blue_url = "{fake.app_url(self.blue)}"\n'
            f'green_url = "{fake.app_url(self.green)}"\n'
            f'api_url = "{fake.api_url}"\n'
            "poll_seconds = 0.5\n",
            encoding="utf-8",
        )
        self.config = load_config(cwd=tmp_path, environ={})
        self.sleep = RecordedSleep()
        self.api = ApiClient(
            provider="render",
            base_url=fake.api_url,
            token=Secret(token),
            token_env="RENDER_API_KEY",
            policy=FAST_RETRIES,
            sleep=self.sleep,
        )
        self.hosting = RenderHosting(
            self.api,
            RenderServices(self.config),
            builds_retained=3,
            poll_seconds=0.5,
            sleep=self.sleep,
        )

    def release(self, generation: int = 2, commit: str = NEW, tag: str = "v1.1.0") -> ReleaseSpec:
        return ReleaseSpec(generation=generation, commit=commit, tag=tag, env={"FEATURE_X": "on"})


@pytest.fixture
def render(fake_render: FakeRender, tmp_path: Path) -> Setup:
    """Blue live at gen 1 (commit OLD) with one worker; green never deployed."""
    setup = Setup(fake_render, tmp_path)
    fake_render.seed_live(setup.blue, OLD, SPECTRAL_GENERATION="1", SPECTRAL_TAG="v1.0.0")
    fake_render.seed_live(setup.blue_workers, OLD, SPECTRAL_GENERATION="1", SPECTRAL_TAG="v1.0.0")
    return setup


def test_deploy_sets_env_per_key_deploys_the_commit_and_waits_for_live(render: Setup) -> None:
    """deploy(): per-key env vars, POST /deploys with commitId, polled until live."""
    deployment = render.hosting.deploy(Color.GREEN, render.release())
    fake = render.fake
    assert fake.env[render.green] == {
        "FEATURE_X": "on",
        "SPECTRAL_GENERATION": "2",
        "SPECTRAL_TAG": "v1.1.0",
        "SPECTRAL_COMMIT": NEW,
        "SENTRY_RELEASE": "v1.1.0",
    }
    puts = fake.calls("PUT", rf"/services/{render.green}/env-vars/")
    assert sorted(c.path.rsplit("/", 1)[1] for c in puts) == [
        "FEATURE_X",
        "SENTRY_RELEASE",
        "SPECTRAL_COMMIT",
        "SPECTRAL_GENERATION",
        "SPECTRAL_TAG",
    ]
    assert puts[0].headers["authorization"] == f"Bearer {TOKENS['render']}"
    (trigger,) = fake.calls("POST", rf"/services/{render.green}/deploys$")
    assert trigger.json() == {"commitId": NEW, "clearCache": "do_not_clear"}
    assert [d["status"] for d in fake.deploys[render.green]] == ["live"]
    assert render.sleep.waits == [0.5, 0.5]  # build_in_progress, update_in_progress, live
    assert deployment.deploy_id == fake.deploys[render.green][0]["id"]
    assert (deployment.color, deployment.generation, deployment.commit, deployment.tag) == (
        Color.GREEN,
        2,
        NEW,
        "v1.1.0",
    )
    assert deployment.status == "live"
    assert deployment.address == render.fake.app_url(render.green)


def test_the_replace_all_env_endpoint_is_never_called(render: Setup) -> None:
    """Nothing we do uses PUT /services/{id}/env-vars, which deletes every other variable."""
    render.fake.env[render.green]["DATABASE_URL"] = "postgresql://db.internal/shop"
    render.hosting.deploy(Color.GREEN, render.release())
    render.hosting.scale_workers(Color.GREEN, 2)
    render.hosting.stop(Color.BLUE)
    assert render.fake.calls("PUT", r"/env-vars$") == []
    assert render.fake.env[render.green]["DATABASE_URL"] == "postgresql://db.internal/shop"


def test_a_failed_build_is_a_provider_error(render: Setup) -> None:
    """A deploy ending build_failed raises, naming deploy, commit and service."""
    render.fake.failing_commits[NEW] = "build_failed"
    with pytest.raises(ProviderError, match=r"ended build_failed") as caught:
        render.hosting.deploy(Color.GREEN, render.release())
    assert caught.value.provider == "render" and render.green in str(caught.value)


def test_a_deploy_that_never_goes_live_times_out(render: Setup) -> None:
    """Polling stops at deploy_timeout_seconds with the last status."""
    clock = iter(range(0, 10_000, 100))
    render.hosting._clock = lambda: float(next(clock))
    render.hosting.deploy_timeout_seconds = 150
    with pytest.raises(ProviderError, match=r"still update_in_progress after 150 s"):
        render.hosting.deploy(Color.GREEN, render.release())


def test_a_retained_build_is_redeployed_without_a_rebuild(render: Setup) -> None:
    """Deploying a commit whose build Render still keeps uses POST /rollback with its deployId."""
    old_deploy = render.fake.deploys[render.blue][0]
    render.hosting.deploy(
        Color.BLUE, render.release(generation=3, commit=OLD, tag="v1.0.0-rollback")
    )
    (rollback,) = render.fake.calls("POST", rf"/services/{render.blue}/rollback")
    assert rollback.json() == {"deployId": old_deploy["id"]}
    assert render.fake.calls("POST", rf"/services/{render.blue}/deploys$") == []


def test_build_available_follows_retention(render: Setup) -> None:
    """Without the repository to build from, a commit is available while among the last
    builds_retained successful builds."""
    assert render.hosting.build_available(OLD)
    assert render.hosting.build_available(OLD[:12])  # an abbreviated sha is the same commit
    assert not render.hosting.build_available("c" * 40)
    for n in range(3):  # three newer successful deploys push OLD out of a retention of 3
        render.fake.seed_live(render.blue, f"{n}" * 40)
    assert not render.hosting.build_available(OLD)


def test_a_commit_out_of_retention_is_available_while_render_can_build_it(render: Setup) -> None:
    """Render builds any commit of the repository: "no retained build" is not "unavailable"."""
    in_repository = {OLD}
    render.hosting.rebuildable = in_repository.__contains__
    for n in range(3):  # OLD leaves the retention of 3
        render.fake.seed_live(render.blue, f"{n}" * 40)
    assert render.hosting.build_available(OLD)
    assert not render.hosting.build_available("c" * 40)  # neither retained nor in the repository
    in_repository.clear()
    assert not render.hosting.build_available(OLD)


def test_build_available_pages_through_deploys(render: Setup) -> None:
    """The deploys list is followed by cursor past the first page."""
    render.hosting.builds_retained = 500
    for n in range(120):
        render.fake.seed_live(render.green, f"{n:040d}")
    assert render.hosting.build_available(OLD)  # on blue
    assert render.hosting.build_available(f"{0:040d}")  # the oldest green deploy, page two
    cursors = [c.arg("cursor") for c in render.fake.calls("GET", rf"{render.green}/deploys$")]
    assert cursors[0] is None and cursors[1] is not None


def test_scale_workers_zero_suspends(render: Setup) -> None:
    """0 workers: the worker service is suspended (Render SIGTERMs them; they drain)."""
    render.hosting.scale_workers(Color.BLUE, 0)
    assert render.fake.services[render.blue_workers]["suspended"] == "suspended"
    render.hosting.scale_workers(Color.BLUE, 0)  # again: nothing more to do
    assert len(render.fake.calls("POST", r"/suspend$")) == 1


def test_scale_workers_resumes_at_the_web_release_and_scales(render: Setup) -> None:
    """Workers follow the web's commit and generation; the old pair restarts first, never mixed."""
    seen: list[tuple[str, str, str]] = []
    render.fake.seed_live(render.green_workers, OLD, SPECTRAL_GENERATION="0")
    render.fake.services[render.green_workers]["suspended"] = "suspended"
    render.hosting.deploy(Color.GREEN, render.release())
    render.fake.on_live = lambda service, deploy, env: seen.append(
        (service, deploy["commit"]["id"], env.get("SPECTRAL_GENERATION", ""))
    )
    render.hosting.scale_workers(Color.GREEN, 2)
    workers = render.green_workers
    assert seen == [(workers, OLD, "0"), (workers, NEW, "2")]  # resumed as it was, then new
    assert render.fake.env[workers]["SPECTRAL_GENERATION"] == "2"
    assert render.fake.services[workers]["serviceDetails"]["numInstances"] == 2
    assert render.fake.calls("POST", rf"{workers}/scale")[0].json() == {"numInstances": 2}
    assert render.hosting.current(Color.GREEN).workers == 2  # type: ignore[union-attr]


def test_stop_suspends_workers_then_web(render: Setup) -> None:
    """stop(): workers first (they drain), then the web service; current() is then None."""
    render.hosting.stop(Color.BLUE)
    suspends = [c.path for c in render.fake.calls("POST", r"/suspend$")]
    assert suspends == [
        f"/v1/services/{render.blue_workers}/suspend",
        f"/v1/services/{render.blue}/suspend",
    ]
    assert render.hosting.current(Color.BLUE) is None


def test_current_and_health(render: Setup) -> None:
    """current() reads commit, generation, tag and workers; health() GETs the direct URL."""
    blue = render.hosting.current(Color.BLUE)
    assert blue is not None and (blue.generation, blue.commit, blue.tag, blue.workers) == (
        1,
        OLD,
        "v1.0.0",
        1,
    )
    assert render.hosting.current(Color.GREEN) is None
    healthy = render.hosting.health(Color.BLUE)
    assert healthy.ok and healthy.url == render.fake.app_url(render.blue) + "/health"
    assert not render.hosting.health(Color.GREEN).ok
    (check,) = render.fake.calls("GET", rf"/apps/{render.blue}/health")
    assert "authorization" not in check.headers  # the app never receives the API key


def test_health_of_an_unreachable_color_is_not_ok(render: Setup) -> None:
    """A refused connection is an unhealthy color, not an exception."""
    render.hosting._health = httpx.Client(timeout=1)
    render.hosting.services.url[Color.GREEN] = "http://127.0.0.1:9"
    health = render.hosting.health(Color.GREEN)
    assert not health.ok and "ConnectError" in health.detail


class _KeptAlive(BaseHTTPRequestHandler):
    """An app over HTTP/1.1 that answers 200 and keeps the connection open."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


def test_each_health_check_asks_whoever_listens_now(render: Setup) -> None:
    """A kept-alive connection to a slot's old process must not answer for the slot: once the
    listener is gone the next check is refused (a production-story deploy once passed step 6
    on the old process, then its smoke test was refused)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeptAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    render.hosting.services.url[Color.GREEN] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert render.hosting.health(Color.GREEN).ok
        server.shutdown()
        server.server_close()  # the listener goes; the open connection's thread lives on
        health = render.hosting.health(Color.GREEN)
    finally:
        server.shutdown()
    assert not health.ok and "ConnectError" in health.detail


def test_429_then_success(render: Setup) -> None:
    """429 with Retry-After on the service read is waited out."""
    render.fake.fail(429, {"message": "rate limit exceeded"}, headers={"Retry-After": "3"})
    assert render.hosting.current(Color.BLUE) is not None
    assert render.sleep.waits[0] == 3.0


def test_5xx_then_success_on_get_but_not_on_post(render: Setup) -> None:
    """A 500 on a GET is retried; a 500 on POST /deploys is not (a deploy may have started)."""
    render.fake.fail(500, {"message": "internal"}, method="GET", times=2)
    assert render.hosting.current(Color.BLUE) is not None
    render.fake.fail(500, {"message": "internal"}, method="POST", path=r"/deploys$")
    with pytest.raises(ProviderError) as caught:
        render.hosting.deploy(Color.GREEN, render.release())
    assert str(caught.value) == "render trigger deploy (HTTP 500): internal"
    assert len(render.fake.calls("POST", r"/deploys$")) == 1


def test_401(fake_render: FakeRender, tmp_path: Path) -> None:
    """A rejected key: render read service (HTTP 401), hint naming RENDER_API_KEY."""
    setup = Setup(fake_render, tmp_path, token="rnd_wrongwrongwrong")
    with pytest.raises(ProviderError) as caught:
        setup.hosting.current(Color.BLUE)
    assert str(caught.value) == "render read service (HTTP 401): Unauthorized"
    assert "RENDER_API_KEY" in (caught.value.hint or "")


def test_malformed_json(render: Setup) -> None:
    """A 200 that is not JSON is reported as such."""
    render.fake.malformed(path=r"/deploys/")
    with pytest.raises(ProviderError, match=r"render read deploy \(HTTP 200\): malformed JSON"):
        render.hosting.deploy(Color.GREEN, render.release())


def test_missing_service_ids_are_config_errors(tmp_path: Path) -> None:
    """Each of the four service ids is required, named by its key."""
    (tmp_path / "spectral.toml").write_text('[hosting]\nprovider = "render"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"hosting\.blue_service_id"):
        RenderServices(load_config(cwd=tmp_path, environ={}))


# --- Render as it behaves: overlapping deploys, 202, slow resumes, failed builds --------------


def test_a_202_queued_deploy_is_found_by_commit_and_followed(
    fake_render: FakeRender, tmp_path: Path
) -> None:
    """Overlap policy "Wait" and a deploy started from the dashboard just before ours:
    Render answers 202 with no body; the provider finds the queued deploy among the new ones
    by commit, reports its id, and waits for it to go live."""
    fake_render.overlap_policy = "wait"
    setup = Setup(fake_render, tmp_path)
    fake_render.seed_live(setup.green, OLD)
    fake_render.on_trigger = lambda service: fake_render._new_deploy(service, OLD, trigger="manual")
    started: list[str] = []
    deployment = setup.hosting.deploy(Color.GREEN, setup.release(), on_started=started.append)
    ours = next(d for d in fake_render.deploys[setup.green] if d["commit"]["id"] == NEW)
    assert started == [ours["id"]] and deployment.deploy_id == ours["id"]
    assert (deployment.commit, deployment.generation, ours["status"]) == (NEW, 2, "live")
    assert [d["trigger"] for d in fake_render.deploys[setup.green][:2]] == ["api", "manual"]


def test_the_202_itself_is_what_render_answers_when_a_deploy_is_running(
    fake_render: FakeRender, tmp_path: Path
) -> None:
    """The fake is as strict as Render: under "Wait", a deploy over a running one is 202 with
    an empty body (this is what the provider used to call "id is missing")."""
    fake_render.overlap_policy = "wait"
    setup = Setup(fake_render, tmp_path)
    fake_render._new_deploy(setup.green, OLD, trigger="api")
    answer = httpx.post(
        f"{fake_render.api_url}/services/{setup.green}/deploys",
        json={"commitId": NEW},
        headers={"Authorization": f"Bearer {TOKENS['render']}"},
    )
    assert (answer.status_code, answer.content) == (202, b"")


def test_a_resumed_service_settles_before_our_deploy_is_triggered(
    fake_render: FakeRender, tmp_path: Path
) -> None:
    """Resuming starts a deploy of the last release; ours is triggered only after that one
    ended, so nothing overlaps (no canceled deploy, no 202) and the old commit never runs with
    the new generation."""
    setup = Setup(fake_render, tmp_path)
    fake_render.seed_live(setup.green, OLD, SPECTRAL_GENERATION="1", SPECTRAL_TAG="v1.0.0")
    fake_render.services[setup.green]["suspended"] = "suspended"
    went_live: list[tuple[str, str]] = []
    fake_render.on_live = lambda service, deploy, env: went_live.append(
        (deploy["commit"]["id"], env.get("SPECTRAL_GENERATION", ""))
    )
    setup.hosting.deploy(Color.GREEN, setup.release())
    assert went_live == [(OLD, "1"), (NEW, "2")]
    statuses = [d["status"] for d in fake_render.deploys[setup.green]]
    assert "canceled" not in statuses and "queued" not in statuses
    assert fake_render.deploys[setup.green][1]["trigger"] == "service_resumed"


def test_after_a_failed_build_current_does_not_vouch_for_the_new_generation(
    render: Setup,
) -> None:
    """The variables say generation 2 but the build failed: current() reports the commit and
    deploy that run (the old ones) and no generation, never 2."""
    render.fake.seed_live(render.green, OLD, SPECTRAL_GENERATION="1", SPECTRAL_TAG="v1.0.0")
    old_live = render.fake.deploys[render.green][0]["id"]
    render.fake.failing_commits[NEW] = "build_failed"
    with pytest.raises(ProviderError, match="ended build_failed"):
        render.hosting.deploy(Color.GREEN, render.release())
    assert render.fake.env[render.green]["SPECTRAL_GENERATION"] == "2"
    current = render.hosting.current(Color.GREEN)
    assert current is not None
    assert (current.commit, current.generation, current.tag) == (OLD, None, None)
    assert (current.deploy_id, current.status) == (old_live, "build_failed")


def test_workers_are_never_scaled_over_a_web_release_render_does_not_vouch_for(
    render: Setup,
) -> None:
    """After a failed build, scale_workers refuses: workers of generation 2 would run the old
    commit (what resume used to do)."""
    render.fake.seed_live(render.green, OLD, SPECTRAL_GENERATION="1", SPECTRAL_TAG="v1.0.0")
    render.fake.failing_commits[NEW] = "build_failed"
    with pytest.raises(ProviderError):
        render.hosting.deploy(Color.GREEN, render.release())
    with pytest.raises(ProviderError, match="no release that Render vouches for"):
        render.hosting.scale_workers(Color.GREEN, 1)
    assert render.fake.calls("POST", rf"{render.green_workers}/(resume|deploys|scale)") == []


def test_a_deploy_canceled_by_another_is_reported_as_replaced(
    fake_render: FakeRender, tmp_path: Path
) -> None:
    """Overlap policy "Override": someone else's deploy cancels ours; the error says so."""
    setup = Setup(fake_render, tmp_path)
    original_tick = fake_render.tick

    def tick(service: str) -> None:
        """While ours builds, someone deploys from the dashboard."""
        deploys = fake_render.deploys[service]
        if service == setup.green and len(deploys) == 1:
            fake_render._new_deploy(service, "c" * 40, trigger="manual")
        original_tick(service)

    fake_render.tick = tick  # type: ignore[method-assign]
    with pytest.raises(ProviderError, match=r"ended canceled \(another deploy replaced it\)"):
        setup.hosting.deploy(Color.GREEN, setup.release())


def test_the_edge_routes_by_host_not_by_the_dns_name_that_led_there(
    fake_render: FakeRender, tmp_path: Path
) -> None:
    """A custom domain belongs to one service: a request for it lands there whatever the
    CNAME says; each service's own onrender.com name reaches that service."""
    setup = Setup(fake_render, tmp_path)
    fake_render.seed_live(setup.blue, OLD, SPECTRAL_GENERATION="1")
    fake_render.seed_live(setup.green, NEW, SPECTRAL_GENERATION="2")
    fake_render.add_custom_domain(setup.blue, "app.example.com")
    assert fake_render.edge("app.example.com") == (
        200,
        {"service": "shop-blue", "commit": OLD, "generation": "1", "path": "/"},
    )
    answer = httpx.get(fake_render.url + "/", headers={"Host": "shop-green.onrender.com"})
    assert answer.json()["service"] == "shop-green"
    with pytest.raises(ValueError, match="already belongs"):
        fake_render.add_custom_domain(setup.green, "app.example.com")


def test_waiting_for_a_render_deploy_reports_through_the_deployers_reporter(
    render: Setup,
) -> None:
    """A build that takes polls: the wait says which deploy, elapsed / limit, where to look."""
    seen: list[WaitProgress] = []
    elapsed = [0.0]

    def sleep(seconds: float) -> None:
        elapsed[0] += seconds

    render.hosting = RenderHosting(
        render.api,
        RenderServices(render.config),
        poll_seconds=2.0,
        deploy_timeout_seconds=600,
        sleep=sleep,
        clock=lambda: elapsed[0],
    )
    assert isinstance(render.hosting, ReportsProgress)
    render.hosting.progress = seen.append
    render.hosting.deploy(Color.GREEN, render.release())
    assert seen and all(p.limit_seconds == 600 for p in seen)
    assert "to go live" in seen[0].what and render.green in seen[0].look
