"""The Cloudflare DNS provider against a local server speaking Cloudflare's API (via the SDK)."""

from __future__ import annotations

import httpx
import pytest

from spectral_deploy.errors import InputError, PreconditionFailed, ProviderError
from spectral_deploy.providers.cloudflare import CloudflareDns, make_client
from spectral_deploy.providers.http import Secret
from tests.providers.conftest import FAST_RETRIES, TOKENS, RecordedSleep
from tests.providers.fakes import FakeCloudflare

NAME = "app.example.com"
BLUE, GREEN = "shop-blue.onrender.com", "shop-green.onrender.com"


def provider(
    fake: FakeCloudflare,
    sleep: RecordedSleep | None = None,
    *,
    token: str = TOKENS["cloudflare"],
    proxied: bool = False,
) -> CloudflareDns:
    client = make_client(
        Secret(token), base_url=fake.api_url, policy=FAST_RETRIES, sleep=sleep or RecordedSleep()
    )
    return CloudflareDns(client, zone_id=fake.zone_id, name=NAME, proxied=proxied)


def test_read_finds_the_record_by_exact_name(fake_cloudflare: FakeCloudflare) -> None:
    """read() lists the zone's CNAMEs filtered by exact name, with the bearer token."""
    fake_cloudflare.add_cname("other.example.com", GREEN)
    fake_cloudflare.add_cname(NAME, BLUE)
    record = provider(fake_cloudflare).read()
    assert (record.name, record.target, record.ttl, record.proxied) == (NAME, BLUE, 60, False)
    (call,) = fake_cloudflare.calls("GET", r"/dns_records$")
    assert call.arg("name.exact") == NAME and call.arg("type") == "CNAME"
    assert call.headers["authorization"] == f"Bearer {TOKENS['cloudflare']}"


def test_point_patches_content_and_ttl_then_reads_back(fake_cloudflare: FakeCloudflare) -> None:
    """point() PATCHes content, ttl, proxied=false and confirms with a fresh GET of the record."""
    record_id = fake_cloudflare.add_cname(NAME, BLUE, ttl=300)
    record = provider(fake_cloudflare).point(GREEN, 60)
    assert (record.target, record.ttl, record.proxied) == (GREEN, 60, False)
    (patch,) = fake_cloudflare.calls("PATCH")
    assert patch.path.endswith(f"/dns_records/{record_id}")
    assert patch.json() | {} == {
        "name": NAME,
        "type": "CNAME",
        "content": GREEN,
        "ttl": 60,
        "proxied": False,
    }
    assert fake_cloudflare.calls("GET")[-1].path.endswith(f"/dns_records/{record_id}")
    assert fake_cloudflare.record(NAME)["content"] == GREEN


def test_a_proxied_record_reports_cloudflare_automatic_ttl(fake_cloudflare: FakeCloudflare) -> None:
    """proxied = true sends TTL 1 (Automatic) and reads back 300 s, proxied."""
    fake_cloudflare.add_cname(NAME, BLUE, proxied=True)
    record = provider(fake_cloudflare, proxied=True).point(GREEN, 60)
    assert (record.target, record.ttl, record.proxied) == (GREEN, 300, True)
    assert fake_cloudflare.calls("PATCH")[0].json()["ttl"] == 1


def test_missing_record_is_a_precondition(fake_cloudflare: FakeCloudflare) -> None:
    """No CNAME of that name in the zone: exit 3 with what to create."""
    with pytest.raises(PreconditionFailed, match=r"no CNAME record named app\.example\.com"):
        provider(fake_cloudflare).read()


def test_429_is_retried_after_retry_after(fake_cloudflare: FakeCloudflare) -> None:
    """A 429 with Retry-After: 7 is waited out once, then the call succeeds."""
    fake_cloudflare.add_cname(NAME, BLUE)
    fake_cloudflare.fail(
        429,
        {"success": False, "errors": [{"code": 971, "message": "Please wait"}]},
        headers={"Retry-After": "7"},
    )
    sleep = RecordedSleep()
    assert provider(fake_cloudflare, sleep).read().target == BLUE
    assert sleep.waits == [7.0]
    assert len(fake_cloudflare.calls("GET")) == 2  # ours only: the SDK's own retries are off


def test_5xx_then_success(fake_cloudflare: FakeCloudflare) -> None:
    """Two 502s on the PATCH (idempotent: absolute values) are retried; the third succeeds."""
    fake_cloudflare.add_cname(NAME, BLUE)
    fake_cloudflare.fail(502, b"<html>bad gateway</html>", method="PATCH", times=2)
    sleep = RecordedSleep()
    assert provider(fake_cloudflare, sleep).point(GREEN, 60).target == GREEN
    assert len(fake_cloudflare.calls("PATCH")) == 3
    assert len(sleep.waits) == 2


def test_5xx_every_time_gives_up_after_the_bounded_attempts(
    fake_cloudflare: FakeCloudflare,
) -> None:
    """A server that keeps failing is tried RetryPolicy.attempts times, then reported."""
    fake_cloudflare.add_cname(NAME, BLUE)
    fake_cloudflare.fail(
        503, {"success": False, "errors": [{"code": 1, "message": "down"}]}, times=99
    )
    with pytest.raises(ProviderError) as caught:
        provider(fake_cloudflare).read()
    assert caught.value.status == 503 and "down (code 1)" in str(caught.value)
    assert len(fake_cloudflare.calls()) == FAST_RETRIES.attempts


def test_401_names_provider_operation_and_status(fake_cloudflare: FakeCloudflare) -> None:
    """A rejected token: provider, operation, 401, Cloudflare's message; the hint names the var."""
    fake_cloudflare.add_cname(NAME, BLUE)
    with pytest.raises(ProviderError) as caught:
        provider(fake_cloudflare, token="cf-wrong-token-000000").read()
    error = caught.value
    assert str(error) == "cloudflare find record (HTTP 401): Authentication error (code 10000)"
    assert error.provider == "cloudflare" and error.status == 401
    assert "CLOUDFLARE_API_TOKEN" in (error.hint or "")
    assert len(fake_cloudflare.calls()) == 1  # a 401 is never retried


def test_malformed_json_is_reported(fake_cloudflare: FakeCloudflare) -> None:
    """A 200 whose JSON is cut short is a provider error saying so."""
    fake_cloudflare.add_cname(NAME, BLUE)
    fake_cloudflare.malformed()
    with pytest.raises(ProviderError, match="malformed JSON"):
        provider(fake_cloudflare).read()


def test_cloudflare_validation_message_reaches_the_operator(
    fake_cloudflare: FakeCloudflare,
) -> None:
    """Cloudflare's own validation message (a 400 on the PATCH) reaches the operator."""
    fake_cloudflare.add_cname(NAME, BLUE)
    fake_cloudflare.fail(
        400,
        {
            "success": False,
            "errors": [{"code": 9005, "message": "Content for CNAME record is invalid."}],
            "messages": [],
        },
        method="PATCH",
    )
    with pytest.raises(ProviderError, match=r"update record \(HTTP 400\): Content for CNAME"):
        provider(fake_cloudflare).point(GREEN, 60)


@pytest.mark.parametrize("ttl", [1, 30, 59])
def test_a_ttl_below_60_is_refused_before_any_request(
    fake_cloudflare: FakeCloudflare, ttl: int
) -> None:
    """TTL < 60 on a DNS-only record never reaches Cloudflare (1 would mean Automatic, 300 s)."""
    fake_cloudflare.add_cname(NAME, BLUE)
    with pytest.raises(InputError, match="minimum of 60"):
        provider(fake_cloudflare).point(GREEN, ttl)
    assert fake_cloudflare.calls() == []


def test_the_fake_rejects_a_ttl_cloudflare_rejects(fake_cloudflare: FakeCloudflare) -> None:
    """The fake is as strict as Cloudflare: 30 s is refused with its message (code 9021)."""
    record_id = fake_cloudflare.add_cname(NAME, BLUE)
    answer = httpx.patch(
        f"{fake_cloudflare.api_url}/zones/{fake_cloudflare.zone_id}/dns_records/{record_id}",
        json={"content": GREEN, "ttl": 30},
        headers={"Authorization": f"Bearer {TOKENS['cloudflare']}"},
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["message"].startswith("TTL must be between 60 and 86400")
    assert fake_cloudflare.record(NAME)["content"] == BLUE


def test_read_reports_the_target_as_dns_compares_it(fake_cloudflare: FakeCloudflare) -> None:
    """A record written as Shop-Blue.OnRender.com. reads back as shop-blue.onrender.com."""
    fake_cloudflare.add_cname(NAME, "Shop-Blue.OnRender.com.")
    assert provider(fake_cloudflare).read().target == BLUE


def test_repr_hides_the_token(fake_cloudflare: FakeCloudflare) -> None:
    """The provider's repr names zone and record, never the token."""
    text = repr(provider(fake_cloudflare))
    assert NAME in text and TOKENS["cloudflare"] not in text
