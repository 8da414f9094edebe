"""Message formats of the chat and error-rate providers, and the DNS read-back check."""

from __future__ import annotations

import pytest

from spectral_deploy.cli.dns import differences
from spectral_deploy.providers.base import ChatMessage, DnsRecord
from spectral_deploy.providers.sentry import bucket_interval, sum_counts
from spectral_deploy.providers.slack import slack_payload


def test_slack_payload_has_blocks_and_a_text_fallback() -> None:
    """Header, text and facts as blocks; the same content as plain text for notifications."""
    payload = slack_payload(
        ChatMessage(
            title="Rollback (Class 2) of v1.4.0",
            text="CNAME flipped back to blue",
            facts={"tag": "v1.4.0", "generations": "7 -> 6"},
        )
    )
    assert payload["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Rollback (Class 2) of v1.4.0"},
    }
    assert payload["blocks"][1]["text"]["text"] == "CNAME flipped back to blue"
    assert payload["blocks"][2]["fields"][1]["text"] == "*generations*\n7 -&gt; 6"
    assert payload["text"] == (
        "Rollback (Class 2) of v1.4.0\nCNAME flipped back to blue\ntag: v1.4.0\ngenerations: 7 -> 6"
    )


def test_slack_payload_respects_block_kit_limits() -> None:
    """Header <= 150 chars; at most 10 fields per section; mrkdwn specials escaped."""
    payload = slack_payload(
        ChatMessage(title="t" * 400, text="<b> & co", facts={f"k{i}": "v" for i in range(12)})
    )
    assert len(payload["blocks"][0]["text"]["text"]) == 150
    assert payload["blocks"][1]["text"]["text"] == "&lt;b&gt; &amp; co"
    assert [len(b["fields"]) for b in payload["blocks"][2:]] == [10, 2]


@pytest.mark.parametrize(
    ("seconds", "interval"),
    [(900, "1m"), (6000, "1m"), (6060, "5m"), (86400, "15m"), (10**7, "1d")],
)
def test_sentry_interval_keeps_buckets_few(seconds: float, interval: str) -> None:
    """The finest interval giving at most 100 buckets over the window."""
    assert bucket_interval(seconds) == interval


def test_sentry_counts_are_summed_over_buckets() -> None:
    """events-stats buckets [ts, [{count}]] add up; a malformed answer is an error."""
    assert (
        sum_counts({"data": [[1, [{"count": 2}]], [2, [{"count": 0}]], [3, [{"count": 5}]]]}) == 7
    )
    with pytest.raises(ValueError):
        sum_counts({"data": [[1, 2]]})
    with pytest.raises(ValueError):
        sum_counts({"detail": "nope"})


def test_dns_differences() -> None:
    """A read-back differs by target (case and trailing dot aside) or by TTL unless proxied."""
    record = DnsRecord(name="app.example.com", target="Green.example.net.", ttl=60)
    assert differences(record, target="green.example.net", ttl=60) == []
    assert differences(record, target="blue.example.net", ttl=60) == [
        "target is Green.example.net., expected blue.example.net"
    ]
    assert differences(record, target="green.example.net", ttl=120) == [
        "TTL is 60 s, expected 120 s"
    ]
    proxied = DnsRecord(name="app.example.com", target="green.example.net", ttl=300, proxied=True)
    assert differences(proxied, target="green.example.net", ttl=60) == []
