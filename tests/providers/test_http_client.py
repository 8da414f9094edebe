"""The shared client's transport failures: refused connections and timeouts, bounded and named."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from spectral_deploy.errors import ProviderError
from spectral_deploy.providers.http import ApiClient, Secret
from tests.ports import refusing_port
from tests.providers.conftest import FAST_RETRIES, RecordedSleep
from tests.providers.fakes.base import FakeServer, Recorded, Reply, route


class SlowApi(FakeServer):
    """Answers /slow after half a second."""

    provider = "slow"

    @route("GET", "/slow")
    @route("POST", "/slow")
    def slow(self, request: Recorded) -> Reply:
        time.sleep(0.5)
        return Reply(200, {"ok": True})


@pytest.fixture
def slow_api() -> Iterator[SlowApi]:
    """A server that answers too late for a 0.1 s timeout."""
    with SlowApi(token="slow-token-123456") as fake:
        yield fake


def client(base_url: str, sleep: RecordedSleep, timeout: float = 5.0) -> ApiClient:
    return ApiClient(
        provider="acme",
        base_url=base_url,
        token=Secret("slow-token-123456"),
        policy=FAST_RETRIES,
        sleep=sleep,
        timeout=httpx.Timeout(timeout),
    )


def test_refused_connection_is_retried_then_named() -> None:
    """Nothing listening: every attempt is made (the request never left), then a ProviderError."""
    sleep = RecordedSleep()
    with refusing_port() as port, pytest.raises(ProviderError) as caught:
        client(f"http://127.0.0.1:{port}", sleep).request("POST", "/x", operation="create")
    assert str(caught.value).startswith("acme create: cannot reach the API")
    assert caught.value.status is None
    assert len(sleep.waits) == FAST_RETRIES.attempts - 1


def test_read_timeout_on_get_is_retried_and_reported(slow_api: SlowApi) -> None:
    """A GET that times out is tried again (safe to repeat), then reported as a timeout."""
    sleep = RecordedSleep()
    with pytest.raises(ProviderError, match=r"acme read: no answer within 0\.1 s"):
        client(slow_api.url, sleep, timeout=0.1).get("/slow", operation="read")
    # counted on the client: under load the fake may record the last attempt late
    assert len(sleep.waits) == FAST_RETRIES.attempts - 1


def test_read_timeout_on_post_is_not_repeated(slow_api: SlowApi) -> None:
    """A POST that timed out may have acted: it is not sent again."""
    sleep = RecordedSleep()
    with pytest.raises(ProviderError, match="no answer within"):
        client(slow_api.url, sleep, timeout=0.1).request("POST", "/slow", operation="create")
    assert sleep.waits == []


def test_allowed_statuses_are_returned(slow_api: SlowApi) -> None:
    """A status in allow= comes back as a response (how providers read a 404 as 'absent')."""
    response = client(slow_api.url, RecordedSleep()).get("/missing", operation="read", allow=(404,))
    assert response.status == 404 and response.data == {"message": "not found"}


def test_repr_hides_the_token(slow_api: SlowApi) -> None:
    """The client's repr shows provider and URL only."""
    text = repr(client(slow_api.url, RecordedSleep()))
    assert "slow-token" not in text and "acme" in text
