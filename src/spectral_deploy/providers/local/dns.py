"""Local DNS: the sandbox's CNAME is a record file that the local router follows.

``point`` writes the record (atomically) and starts the router if it is not running;
``read`` reads the record back, as a DNS API read would. Targets are ``blue`` or
``green`` (the router maps them to the colors' ports) or a literal ``host:port``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from pathlib import Path

from spectral_deploy.config import Config
from spectral_deploy.errors import ProviderError
from spectral_deploy.processes import alive
from spectral_deploy.providers.base import DnsRecord
from spectral_deploy.providers.local.files import read_json, spawn_detached, write_json

__all__ = ["LocalDns", "from_config"]

log = logging.getLogger(__name__)

PROVIDER = "local-dns"
ROUTER_START_SECONDS = 15.0


def from_config(config: Config) -> LocalDns:
    """The local DNS provider of a project."""
    return LocalDns(
        state_dir=config.project_root / ".spectral" / "dns",
        name=config.dns.record,
        listen=config.dns.listen,
        upstreams={
            config.dns.blue_target: f"127.0.0.1:{config.hosting.blue_port}",
            config.dns.green_target: f"127.0.0.1:{config.hosting.green_port}",
        },
        long_tail_seconds=config.dns.long_tail_seconds,
    )


class LocalDns:
    """``DnsProvider`` for the sandbox router."""

    def __init__(
        self,
        *,
        state_dir: Path,
        name: str,
        listen: str,
        upstreams: dict[str, str],
        long_tail_seconds: float = 0.0,
    ) -> None:
        self.state_dir = state_dir
        self.name = name
        self.listen = listen
        self.upstreams = upstreams
        self.long_tail_seconds = long_tail_seconds

    @property
    def record_file(self) -> Path:
        """Where the record lives."""
        return self.state_dir / "record.json"

    def read(self) -> DnsRecord:
        """The record as stored (target empty when it was never pointed anywhere)."""
        record = read_json(self.record_file) or {}
        return DnsRecord(
            name=str(record.get("name", self.name)),
            target=str(record.get("target", "")),
            ttl=int(record.get("ttl", 60)),
        )

    def point(self, target: str, ttl: int) -> DnsRecord:
        """Point the record at ``target``; the router follows within ``ttl``."""
        write_json(
            self.record_file,
            {"name": self.name, "target": target, "ttl": ttl, "changed_at": time.time()},
            mode=0o644,
        )
        self.ensure_router()
        log.info("action=dns.pointed name=%s target=%s ttl=%s", self.name, target, ttl)
        return self.read()

    def router_pid(self) -> int | None:
        """The running router's pid, if any."""
        try:
            pid = int((self.state_dir / "router.pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if alive(pid) else None

    def ensure_router(self) -> None:
        """Start the router on ``listen`` unless it runs."""
        if self.router_pid() is not None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            "-m",
            "spectral_deploy.providers.local.router",
            "--state-dir",
            str(self.state_dir),
            "--listen",
            self.listen,
            "--long-tail-seconds",
            str(self.long_tail_seconds),
        ]
        for name, address in self.upstreams.items():
            argv += ["--upstream", f"{name}={address}"]
        spawn_detached(argv, log=self.state_dir / "router.log")
        host, _, port = self.listen.rpartition(":")
        deadline = time.monotonic() + ROUTER_START_SECONDS
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((host, int(port)), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise ProviderError(
            f"the local router did not start on {self.listen} (see {self.state_dir}/router.log)",
            provider=PROVIDER,
            operation="point",
        )

    def stop_router(self) -> bool:
        """Stop the router; False if it was not running."""
        pid = self.router_pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return True
