"""Message formats of the chat and error-rate providers, and the DNS read-back check."""

from __future__ import annotations

import pytest

from spectral_deploy.cli.dns import differences
from spectral_deploy.providers.base import ChatMessage, DnsRecord
from spectral_deploy.providers.sentry import count_of
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


def test_sentry_count_is_read_from_the_events_table() -> None:
    """The events table's first row holds count(); no row is zero; a malformed answer (no
    data, no count, a boolean) is an error, never a count."""
    assert count_of({"data": [{"count()": 7}], "meta": {}}) == 7
    assert count_of({"data": [], "meta": {}}) == 0
    for malformed in ({"detail": "nope"}, {"data": [{"count": 2}]}, {"data": [{"count()": True}]}):
        with pytest.raises(ValueError):
            count_of(malformed)


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
