"""What is live, observed: targets to slots, a deploy's flip against the record, and what an
observation says when a provider fails (pure, with stand-in providers)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from spectral_deploy.config import Config, DnsConfig
from spectral_deploy.cutover.observe import (
    FlipState,
    LiveObservation,
    SlotState,
    flip_state,
    observe,
)
from spectral_deploy.cutover.phase import Phase, next_commands
from spectral_deploy.errors import ProviderError
from spectral_deploy.providers.base import (
    Color,
    Deployment,
    DnsRecord,
    Health,
    ProbeReading,
    color_of,
)
from tests.unit.statuskit import DEPLOY, NOW

CONFIG = Config(
    project_root=Path("/project"),
    source="test",
    dns=DnsConfig(blue_target="shop-blue.onrender.com", green_target="shop-green.onrender.com"),
)


@dataclass
class Dns:
    target: str
    down: bool = False

    def read(self) -> DnsRecord:
        if self.down:
            raise ProviderError("timed out", provider="cloudflare", operation="read")
        return DnsRecord("shop.example.com", self.target, 60)

    def point(self, target: str, ttl: int) -> DnsRecord:
        raise AssertionError("observing never points")


@dataclass
class Hosting:
    running: dict[Color, int]
    down: bool = False

    def current(self, color: Color) -> Deployment | None:
        if self.down:
            raise ProviderError("503", provider="render", operation="current")
        generation = self.running.get(color)
        if generation is None:
            return None
        return Deployment(color, generation, "abc", f"v{generation}", "running")

    def health(self, color: Color) -> Health:
        return Health(color in self.running, "HTTP 200")


def observed(target: str, running: dict[Color, int], **changes: object) -> LiveObservation:
    found = observe(CONFIG, Dns(target), Hosting(running))  # type: ignore[arg-type]
    return replace(found, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "color"),
    [
        ("shop-green.onrender.com", Color.GREEN),
        ("Shop-Green.OnRender.com.", Color.GREEN),
        (" shop-blue.onrender.com ", Color.BLUE),
        ("elsewhere.example", None),
        ("", None),
    ],
)
def test_a_target_names_its_slot_whatever_its_case_or_trailing_dot(
    target: str, color: Color | None
) -> None:
    """Targets compare without case, surrounding space or the trailing dot of a FQDN."""
    assert color_of(CONFIG, target) is color


@pytest.mark.parametrize("color", list(Color))
def test_the_dns_config_names_each_slots_target_and_back(color: Color) -> None:
    """``[dns] blue_target``/``green_target`` are each slot's CNAME target, and read back as it."""
    target = CONFIG.dns.target_of(color)
    expected = {Color.BLUE: "shop-blue.onrender.com", Color.GREEN: "shop-green.onrender.com"}
    assert target == expected[color]
    assert color_of(CONFIG, target) is color


def test_the_live_generation_is_what_runs_where_the_record_points() -> None:
    """Record at green, green runs 2: live generation 2, serving; at a stopped slot: None."""
    at_green = observed("shop-green.onrender.com", {Color.BLUE: 1, Color.GREEN: 2})
    assert (at_green.record_color, at_green.live_generation, at_green.serves) == (
        Color.GREEN,
        2,
        True,
    )
    stopped = observed("shop-green.onrender.com", {Color.BLUE: 1})
    assert (stopped.live_generation, stopped.serves) == (None, False)


def test_a_failing_provider_is_recorded_never_guessed() -> None:
    """The DNS API times out: no record, no color, the reason kept; hosting down likewise."""
    found = observe(CONFIG, Dns("x", down=True), Hosting({}, down=True))  # type: ignore[arg-type]
    assert found.record is None and found.record_color is None
    assert found.record_error == "cloudflare read: timed out"
    assert all(not slot.known for slot in found.slots)
    assert found.slots[0].error == "render current: 503"


@pytest.mark.parametrize(
    ("target", "flipped", "probe", "state"),
    [
        ("shop-blue.onrender.com", False, None, FlipState.NOT_FLIPPED),
        ("shop-green.onrender.com", False, None, FlipState.UNRECORDED),
        ("shop-blue.onrender.com", False, Color.GREEN, FlipState.UNRECORDED),
        ("shop-green.onrender.com", True, None, FlipState.FLIPPED),
        ("shop-blue.onrender.com", True, None, FlipState.FLIPPED_BACK),
    ],
)
def test_a_deploys_flip_is_compared_with_the_record_and_the_probe(
    target: str, flipped: bool, probe: Color | None, state: FlipState
) -> None:
    """A flip the record (or the public probe) shows but the deploy never recorded is
    UNRECORDED; a recorded one the record no longer shows is FLIPPED_BACK."""
    reading = ProbeReading(probe, 2, "HTTP 200") if probe else None
    found = observed(target, {Color.BLUE: 1, Color.GREEN: 2}, probe=reading)
    deploy = replace(DEPLOY, step=11 if flipped else 10, flipped_at=NOW if flipped else None)
    assert flip_state(deploy, found) is state


def test_an_unreadable_record_is_unknown() -> None:
    """No record, no verdict on the flip."""
    found = LiveObservation(None, None, "timed out", (SlotState(Color.BLUE, None),))
    assert flip_state(DEPLOY, found) is FlipState.UNKNOWN


def test_the_next_commands_follow_the_observation_not_the_phase() -> None:
    """A progressing deploy whose flip is unrecorded is never answered with abort."""
    deploy = replace(DEPLOY, step=10)
    assert next_commands(deploy, Phase.PROGRESSING)[1] == "spectral-deploy deploy abort"
    assert next_commands(deploy, Phase.PROGRESSING, FlipState.UNRECORDED) == [
        "spectral-deploy deploy resume",
        "spectral-deploy rollback run --symptom behavior",
    ]
    failed = replace(DEPLOY, failed_step=11)
    assert "spectral-deploy deploy abort" not in next_commands(
        failed, Phase.FAILED, FlipState.UNRECORDED
    )
