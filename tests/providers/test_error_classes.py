"""The vendors' three kinds of failure are three errors, never one: ours to fix (401, 403, 404),
slow down (429), their outage (5xx, timeout, unreachable)."""

from __future__ import annotations

import httpx
import pytest

from spectral_deploy.errors import (
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from spectral_deploy.providers.cloudflare import CloudflareDns, make_client
from spectral_deploy.providers.http import ApiClient, Secret, error_class
from tests.providers.conftest import FAST_RETRIES, TOKENS, RecordedSleep
from tests.providers.fakes import FakeCloudflare, FakeRender


def render_api(fake: FakeRender, token: str = TOKENS["render"]) -> ApiClient:
    return ApiClient(
        provider="render",
        base_url=fake.api_url,
        token=Secret(token),
        token_env="RENDER_API_KEY",
        policy=FAST_RETRIES,
        sleep=RecordedSleep(),
    )


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ProviderError),
        (401, ProviderRejected),
        (403, ProviderRejected),
        (404, ProviderRejected),
        (409, ProviderError),
        (429, ProviderRateLimited),
        (500, ProviderUnavailable),
        (503, ProviderUnavailable),
        (None, ProviderError),
    ],
)
def test_each_status_has_its_class(status: int | None, kind: type[ProviderError]) -> None:
    """The status decides the class; all of them stay ProviderErrors (exit 1)."""
    assert error_class(status) is kind
    assert issubclass(kind, ProviderError) and kind.exit_code == 1


def test_a_rejected_key_and_an_unknown_service_are_ours_to_fix(fake_render: FakeRender) -> None:
    """401 (the key) and 404 (a service id in our config) are ProviderRejected."""
    with pytest.raises(ProviderRejected) as caught:
        render_api(fake_render, token="rnd_wrong_wrong_wrong").get(
            "/services/srv-x", operation="read service"
        )
    assert caught.value.status == 401
    with pytest.raises(ProviderRejected, match=r"HTTP 404"):
        render_api(fake_render).get("/services/srv-missing", operation="read service")


def test_a_rate_limit_that_outlasts_the_retries_says_slow_down(fake_render: FakeRender) -> None:
    """429 on every attempt: ProviderRateLimited, after the retries."""
    fake_render.fail(429, {"message": "rate limited"}, headers={"Retry-After": "0"}, times=10)
    with pytest.raises(ProviderRateLimited):
        render_api(fake_render).get("/services/srv-x", operation="read service")
    assert len(fake_render.calls()) == FAST_RETRIES.attempts


def test_an_outage_is_unavailable_5xx_timeout_or_unreachable(fake_render: FakeRender) -> None:
    """503 after the retries, a timeout and a refused connection are ProviderUnavailable."""
    fake_render.fail(503, {"message": "down"}, times=10)
    with pytest.raises(ProviderUnavailable, match=r"HTTP 503"):
        render_api(fake_render).get("/services/srv-x", operation="read service")

    def times_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    slow = ApiClient(
        provider="render",
        base_url="https://api.render.com/v1",
        transport=httpx.MockTransport(times_out),
        policy=FAST_RETRIES,
        sleep=RecordedSleep(),
    )
    with pytest.raises(ProviderUnavailable, match="no answer"):
        slow.get("/services/srv-x", operation="read service")
    unreachable = ApiClient(
        provider="render",
        base_url="http://127.0.0.1:9",
        policy=FAST_RETRIES,
        sleep=RecordedSleep(),
    )
    with pytest.raises(ProviderUnavailable, match="cannot reach"):
        unreachable.get("/services/srv-x", operation="read service")


def test_cloudflare_errors_are_classified_too(fake_cloudflare: FakeCloudflare) -> None:
    """Through the SDK: a bad token is ProviderRejected, a 502 that outlasts the retries is
    ProviderUnavailable."""
    fake_cloudflare.add_cname("app.example.com", "shop-blue.onrender.com")

    def dns(token: str) -> CloudflareDns:
        client = make_client(
            Secret(token),
            base_url=fake_cloudflare.api_url,
            policy=FAST_RETRIES,
            sleep=RecordedSleep(),
        )
        return CloudflareDns(client, zone_id=fake_cloudflare.zone_id, name="app.example.com")

    with pytest.raises(ProviderRejected):
        dns("cf-wrong-wrong-wrong").read()
    fake_cloudflare.fail(502, {"success": False, "errors": [], "messages": []}, times=10)
    with pytest.raises(ProviderUnavailable):
        dns(TOKENS["cloudflare"]).read()
