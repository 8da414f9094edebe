"""`status`, the dashboard and /metrics on the sample shop's sandbox; the page in headless
Chromium (Debian's package, driven by Playwright) during a deploy."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import expect, sync_playwright
from prometheus_client.parser import text_string_to_metric_families

from spectral_deploy.outbox import emit_many
from tests.acceptance.sandbox import Sandbox, make_sandbox
from tests.ports import reported_port
from tests.waiting import wait_for

CHROMIUM = Path("/usr/bin/chromium")
# Playwright adds --headless itself (headless=True) and --user-data-dir (a fresh directory)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STRANDED_ROWS = 40


@pytest.fixture(scope="module")
def shop() -> Iterator[Sandbox]:
    """The shop with v1.0.0 live on blue as generation 1, and generation 2 stranded: rows
    emitted at a generation that never had a worker. The browser test, last in this file,
    then deploys v1.1.0 (generation 3) on top."""
    sandbox = make_sandbox()
    try:
        sandbox.ok("deploy", "v1.0.0")
        sandbox.ok("generations", "allocate", "--tag", "v1.0.1-hotfix")
        with psycopg.connect(sandbox.database_url()) as conn:
            events = [("order.created", {"order_id": n}) for n in range(STRANDED_ROWS)]
            emit_many(conn, events, generation=2, schema="spectral")
        yield sandbox
    finally:
        sandbox.down()
        shutil.rmtree(sandbox.root, ignore_errors=True)


class Dashboard:
    """``spectral-deploy dashboard`` running in the project on the loopback port it bound
    (``--listen 127.0.0.1:0``; the port is read from its ``dashboard: URL`` line)."""

    def __init__(self, sandbox: Sandbox) -> None:
        environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SPECTRAL_") and k != "DATABASE_URL"
        }
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "spectral_deploy", "dashboard"),
                *("--listen", "127.0.0.1:0", "--interval", "0.5"),
            ],
            cwd=sandbox.root,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.port, _ = reported_port(self.process, r"dashboard: http://127\.0\.0\.1:(\d+)/")
        self.url = f"http://127.0.0.1:{self.port}/"
        wait_for(lambda: self.get("api/status") is not None, 30, "the dashboard to answer")

    def get(self, path: str) -> bytes | None:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as response:
                return bytes(response.read())
        except (urllib.error.URLError, OSError):
            return None

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=15)
        assert self.process.returncode == 0, output
        return output


@pytest.fixture
def dashboard(shop: Sandbox) -> Iterator[Dashboard]:
    served = Dashboard(shop)
    try:
        yield served
    finally:
        output = served.stop()
        assert "dashboard stopped" in output


def test_status_shows_the_live_color_the_stranded_generation_and_its_drain(shop: Sandbox) -> None:
    """`status` (text and JSON) says blue serves generation 1, generation 2 is stranded with
    40 rows, and the next command is its drain; it exits 0 although action is needed."""
    text = shop.run("status")
    assert text.returncode == 0, text.stderr
    assert "live: blue, generation 1 (v1.0.0" in text.stdout
    assert "STRANDED" in text.stdout
    assert "! generation 2 is stranded: 40 row(s) and no live worker" in text.stdout
    assert "    next: spectral-deploy drain --target-generation 2" in text.stdout

    shape = json.loads(shop.ok("status", "--format", "json").stdout)
    assert (shape["live"]["color"], shape["live"]["generation"]) == ("blue", 1)
    assert shape["outbox"]["stranded"] == [2]
    assert shape["deploy"]["phase"] == "Completed"
    assert [(w["generation"], w["state"], w["count"]) for w in shape["workers"]] == [
        (1, "running", 2)
    ]
    assert shape["next"][0]["commands"] == ["spectral-deploy drain --target-generation 2"]
    assert shape["backup"]["state"] == "none"


def test_metrics_and_the_api_carry_the_same_picture(shop: Sandbox, dashboard: Dashboard) -> None:
    """/metrics parses as Prometheus text with generation 2's 40 stranded rows and blue
    live; /api/status agrees; a non-loopback --listen is refused with exit 2."""
    body = dashboard.get("metrics")
    assert body is not None
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    assert samples[("spectral_outbox_backlog_rows", (("generation", "2"),))] == STRANDED_ROWS
    assert samples[("spectral_outbox_stranded", (("generation", "2"),))] == 1
    assert samples[("spectral_live_color", (("color", "blue"),))] == 1
    assert samples[("spectral_workers", (("generation", "1"), ("state", "running")))] == 2
    status = json.loads(dashboard.get("api/status") or b"{}")
    assert status["outbox"]["stranded"] == [2]

    refused = shop.run("dashboard", "--listen", "0.0.0.0:8180")
    assert refused.returncode == 2
    assert "no authentication" in refused.stderr


def _chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the browser test: {reason}")
    pytest.skip(reason)


def test_the_page_shows_the_live_color_and_the_stranded_generation_during_a_deploy(
    shop: Sandbox, dashboard: Dashboard
) -> None:
    """In headless Chromium: blue live and generation 2 highlighted as stranded; a deploy of
    v1.1.0 whose process dies at step 7 shows as progressing with nobody driving it and the
    resume command; after `deploy resume`, green is live at generation 3 and generation 2 is
    still stranded. The page requests nothing but the dashboard itself and throws no error."""
    _chromium_or_skip()
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="spectral-chromium-"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(dashboard.url)
            expect(page.locator("#live-color")).to_have_text("blue", timeout=15_000)
            stranded = page.locator('#outbox tr.stranded[data-generation="2"]')
            expect(stranded).to_contain_text("STRANDED")
            expect(stranded).to_contain_text(str(STRANDED_ROWS))

            crashed = shop.run("deploy", "v1.1.0", env={"SPECTRAL_CRASH_AT": "step-7:start"})
            assert crashed.returncode == -9, crashed.stdout + crashed.stderr
            expect(page.locator("#deploy-phase")).to_have_text("Progressing", timeout=15_000)
            expect(page.locator("#deploy-body")).to_contain_text(
                "step 7/11: start-workers (no process driving it)"
            )
            expect(page.locator("#actions")).to_contain_text("spectral-deploy deploy resume")
            expect(page.locator("#live-color")).to_have_text("blue")

            shop.ok("deploy", "resume")
            expect(page.locator("#live-color")).to_have_text("green", timeout=15_000)
            expect(page.locator("#live-generation")).to_have_text("3")
            expect(page.locator("#deploy-phase")).to_have_text("HoldWindow")
            expect(page.locator("#slot-green")).to_contain_text("LIVE")
            expect(stranded).to_contain_text("STRANDED")
        finally:
            browser.close()
    assert requests and all(url.startswith(dashboard.url) for url in requests), requests
    assert errors == []
