"""The one CNAME flip (``point_cname``) the cutover and the rollback make: changed only when
needed and only after the slot is checked, then read back (pure, with a stand-in DNS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectral_deploy.config import Config, DnsConfig
from spectral_deploy.cutover.flip import point_cname
from spectral_deploy.errors import CheckFailed
from spectral_deploy.providers.base import DnsRecord

BLUE, GREEN = "shop-blue.onrender.com", "shop-green.onrender.com"
CONFIG = Config(
    project_root=Path("/project"),
    source="test",
    dns=DnsConfig(blue_target=BLUE, green_target=GREEN, ttl=60),
)


class Dns:
    """A DNS that records each ``point`` and reads back ``answer`` (default: what was asked)."""

    def __init__(self, answer: str | None = None) -> None:
        self.answer = answer
        self.pointed: list[tuple[str, int]] = []

    def read(self) -> DnsRecord:
        raise AssertionError("point_cname is given the record it observed")

    def point(self, target: str, ttl: int) -> DnsRecord:
        self.pointed.append((target, ttl))
        return DnsRecord("shop.example.com", self.answer or target, ttl)


def record(target: str) -> DnsRecord:
    return DnsRecord("shop.example.com", target, 60)


def test_a_record_elsewhere_is_pointed_after_the_slot_check() -> None:
    """Blue live, flip to green: the check runs first, then the change with the config's TTL."""
    dns, checked = Dns(), []
    new, flipped = point_cname(
        CONFIG,
        dns,
        record(BLUE),
        GREEN,
        serves=lambda: checked.append(dns.pointed[:]),
        crash_point="test:dns-changed",
    )
    assert flipped and new.target == GREEN
    assert checked == [[]] and dns.pointed == [(GREEN, 60)]


def test_a_record_already_there_is_left_alone_without_a_check() -> None:
    """Resumed after the change (same slot, other case and a trailing dot): nothing is done."""
    dns = Dns()

    def refuse() -> None:
        raise AssertionError("no check when nothing changes")

    new, flipped = point_cname(
        CONFIG, dns, record("Shop-Green.OnRender.com."), GREEN, serves=refuse, crash_point="x"
    )
    assert not flipped and dns.pointed == [] and new.target == "Shop-Green.OnRender.com."


def test_a_slot_that_does_not_serve_stops_before_the_change() -> None:
    """The slot check raises: the record is never changed."""
    dns = Dns()

    def refuse() -> None:
        raise CheckFailed("green is not healthy")

    with pytest.raises(CheckFailed, match="not healthy"):
        point_cname(CONFIG, dns, record(BLUE), GREEN, serves=refuse, crash_point="x")
    assert dns.pointed == []


def test_a_record_that_reads_back_elsewhere_fails_naming_both() -> None:
    """The provider answers with another target: the flip fails, naming what was asked and read."""
    dns = Dns(answer="somewhere.else.example")
    with pytest.raises(CheckFailed) as caught:
        point_cname(CONFIG, dns, record(BLUE), GREEN, serves=lambda: None, crash_point="x")
    assert GREEN in caught.value.message and "somewhere.else.example" in caught.value.message


def test_a_caller_keeps_its_own_words_for_a_misread_record() -> None:
    """The deploy's step failure (and ledger) keeps its text: ``misread`` builds the error."""
    dns = Dns(answer="somewhere.else.example")
    with pytest.raises(CheckFailed, match=r"^flipped the CNAME but it reads back 'somewhere"):
        point_cname(
            CONFIG,
            dns,
            record(BLUE),
            GREEN,
            serves=lambda: None,
            crash_point="x",
            misread=lambda back: CheckFailed(f"flipped the CNAME but it reads back {back!r}"),
        )
