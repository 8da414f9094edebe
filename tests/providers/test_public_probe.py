"""The HTTP probe of [dns] public_url against a local server: it reads the generation header,
and with it the cutover's proof catches a record that moved while the traffic did not."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from spectral_deploy.config import Config, DnsConfig
from spectral_deploy.cutover.traffic import TrafficNotMoved, await_generation
from spectral_deploy.errors import ConfigError, ProviderUnavailable
from spectral_deploy.middleware import GenerationHeader
from spectral_deploy.providers import public_probe
from spectral_deploy.providers.publicprobe import HttpProbe


class Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def shop(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


class Server:
    """A local web app on a free port, serving ``app``."""

    def __init__(self, app: Any) -> None:
        self.httpd = make_server("127.0.0.1", 0, app, handler_class=Quiet)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/health"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def blue() -> Iterator[Server]:
    """Blue's app at generation 1 with the middleware: what the custom domain still reaches."""
    server = Server(GenerationHeader(shop, environ={"SPECTRAL_GENERATION": "1"}))
    yield server
    server.close()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def config_for(url: str) -> Config:
    dns = DnsConfig(provider="cloudflare", public_url=url)
    return Config(project_root=Path(), source="spectral.toml", dns=dns)


def test_the_probe_reads_the_generation_header(blue: Server) -> None:
    """GET public_url through the shared client: generation 1, from the header."""
    probe = public_probe(config_for(blue.url))
    assert isinstance(probe, HttpProbe)
    reading = probe.probe()
    assert reading.generation == 1 and not reading.header_missing
    assert "Spectral-Generation: 1" in reading.detail


def test_a_record_that_moved_without_the_traffic_is_caught(blue: Server) -> None:
    """The record says green (generation 2); the address still answers from 1: refused."""
    probe = HttpProbe(config_for(blue.url), blue.url)
    clock = Clock()
    with pytest.raises(TrafficNotMoved, match="moved the record, not the traffic"):
        await_generation(probe, 2, record="app.example.com -> green", ttl_seconds=1, clock=clock)
    assert clock.now >= 1  # it waited out the TTL and margin before saying so
    proof = await_generation(probe, 1, record="app -> blue", ttl_seconds=1, clock=Clock())
    assert proof.proved and "served by generation 1" in proof.detail


def test_an_app_without_the_header_falls_back_and_says_so() -> None:
    """No middleware: no proof, the record read back decides, and the result says so."""
    server = Server(shop)
    try:
        probe = HttpProbe(config_for(server.url), server.url)
        assert probe.probe().header_missing
        proof = await_generation(probe, 2, record="app -> green", ttl_seconds=60, clock=Clock())
        assert not proof.proved
        assert "record read back alone" in proof.detail
    finally:
        server.close()


def test_an_address_that_does_not_answer_is_an_outage_and_a_bad_url_a_config_error(
    blue: Server,
) -> None:
    """A closed port raises ProviderUnavailable; a URL without a scheme names dns.public_url."""
    url = blue.url
    blue.close()
    with pytest.raises(ProviderUnavailable):
        HttpProbe(config_for(url), url).probe()
    with pytest.raises(ConfigError, match=r"dns\.public_url"):
        HttpProbe(config_for("app.example.com"), "app.example.com")
