"""The Slack webhook and Sentry error-rate providers against local servers of those APIs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from spectral_deploy.errors import ProviderError, ReleaseNotFound
from spectral_deploy.providers.base import ChatMessage
from spectral_deploy.providers.http import ApiClient, Secret
from spectral_deploy.providers.sentry import SentryErrors
from spectral_deploy.providers.slack import SlackChat
from tests.providers.conftest import FAST_RETRIES, TOKENS, RecordedSleep
from tests.providers.fakes import FakeSentry, FakeSlack

MESSAGE = ChatMessage(title="Rollback of v1.2.0", text="Class 2", facts={"generations": "7 -> 6"})
T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def slack(fake: FakeSlack, url: str | None = None, sleep: RecordedSleep | None = None):
    api = ApiClient(
        provider="slack", base_url="", policy=FAST_RETRIES, sleep=sleep or RecordedSleep()
    )
    return SlackChat(api, Secret(url or fake.webhook_url))


def sentry(fake: FakeSentry, token: str = TOKENS["sentry"], sleep: RecordedSleep | None = None):
    api = ApiClient(
        provider="sentry",
        base_url=fake.api_url,
        token=Secret(token),
        token_env="SENTRY_AUTH_TOKEN",
        policy=FAST_RETRIES,
        sleep=sleep or RecordedSleep(),
    )
    return SentryErrors(api, organization="acme", project="shop", environment="production")


def test_slack_posts_blocks_and_text(fake_slack: FakeSlack) -> None:
    """One POST to the webhook with blocks and a text fallback; no Authorization header."""
    slack(fake_slack).send(MESSAGE)
    (payload,) = fake_slack.messages
    assert payload["text"].startswith("Rollback of v1.2.0")
    assert payload["blocks"][0]["type"] == "header"
    assert "authorization" not in fake_slack.calls()[0].headers


def test_slack_unknown_webhook_says_no_service(fake_slack: FakeSlack) -> None:
    """Slack's plain-text error word reaches the operator; the URL does not."""
    wrong = fake_slack.url + "/services/T0/B0/wrongsecret123"
    with pytest.raises(ProviderError) as caught:
        slack(fake_slack, wrong).send(MESSAGE)
    assert str(caught.value) == "slack post message (HTTP 404): no_service"
    assert "wrongsecret123" not in repr(caught.value)


def test_slack_429_is_retried(fake_slack: FakeSlack) -> None:
    """Slack's rate limit (429, Retry-After) is waited out; the message is posted once."""
    fake_slack.fail(429, b"rate_limited", headers={"Retry-After": "1"})
    sleep = RecordedSleep()
    slack(fake_slack, sleep=sleep).send(MESSAGE)
    assert len(fake_slack.messages) == 1 and sleep.waits == [1.0]


def test_slack_5xx_is_not_repeated(fake_slack: FakeSlack) -> None:
    """A 500 may have posted: it is reported, not retried into a duplicate message."""
    fake_slack.fail(500, b"internal_error")
    with pytest.raises(ProviderError, match=r"\(HTTP 500\): internal_error"):
        slack(fake_slack).send(MESSAGE)
    assert len(fake_slack.calls()) == 1


def test_sentry_counts_errors_of_the_release_in_the_window(fake_sentry: FakeSentry) -> None:
    """Errors of that release, in that environment, inside [start, end) are counted, through
    the documented events endpoint (dataset=errors, field=count())."""
    fake_sentry.add_event(T0 + timedelta(minutes=1), "v1.2.0")
    fake_sentry.add_event(T0 + timedelta(minutes=9), "v1.2.0")
    fake_sentry.add_event(T0 + timedelta(minutes=2), "v1.1.0")  # another release
    fake_sentry.add_event(T0 + timedelta(minutes=3), "v1.2.0", kind="transaction")
    fake_sentry.add_event(T0 + timedelta(minutes=4), "v1.2.0", environment="staging")
    fake_sentry.add_event(T0 + timedelta(minutes=20), "v1.2.0")  # after the window
    errors = sentry(fake_sentry)
    assert errors.error_count("v1.2.0", T0, T0 + timedelta(minutes=15)) == 2
    call = fake_sentry.calls("GET", r"/organizations/acme/events/$")[0]
    assert (call.arg("dataset"), call.arg("field")) == ("errors", "count()")
    assert call.arg("query") == 'release:"v1.2.0"'
    assert call.arg("environment") == "production"
    assert (call.arg("start"), call.arg("end")) == ("2026-05-04T12:00:00", "2026-05-04T12:15:00")
    assert call.arg("project") == fake_sentry.project_id
    errors.error_count("v1.2.0", T0, T0 + timedelta(minutes=5))
    assert len(fake_sentry.calls("GET", "/projects/")) == 1  # the id is looked up once
    assert fake_sentry.calls("GET", "events-stats") == []


def test_a_release_sentry_does_not_know_is_a_failed_check_not_zero(
    fake_sentry: FakeSentry,
) -> None:
    """The app reports under another release name: ReleaseNotFound (exit 1) naming the
    release and SENTRY_RELEASE, never a count of 0."""
    fake_sentry.add_event(T0 + timedelta(minutes=1), "a1b2c3d")  # the app's own naming
    with pytest.raises(ReleaseNotFound, match=r"no release 'v1\.2\.0' in acme/shop") as caught:
        sentry(fake_sentry).error_count("v1.2.0", T0, T0 + timedelta(minutes=5))
    assert caught.value.exit_code == 1
    assert "SENTRY_RELEASE" in (caught.value.hint or "")
    assert fake_sentry.calls("GET", r"/events/$") == []


def test_a_known_release_without_errors_counts_zero(fake_sentry: FakeSentry) -> None:
    """A release Sentry knows with no error in the window: 0, the one honest zero."""
    fake_sentry.add_release("v1.2.0")
    assert sentry(fake_sentry).error_count("v1.2.0", T0, T0 + timedelta(minutes=5)) == 0


def test_the_fake_rejects_undocumented_endpoints(fake_sentry: FakeSentry) -> None:
    """events-stats is not in Sentry's published API: the fake answers 404, and the events
    endpoint without its required dataset answers 400."""
    headers = {"Authorization": f"Bearer {TOKENS['sentry']}"}
    stats = httpx.get(
        f"{fake_sentry.url}/api/0/organizations/acme/events-stats/",
        params={"yAxis": "count()", "query": 'release:"v1"'},
        headers=headers,
    )
    assert stats.status_code == 404
    no_dataset = httpx.get(
        f"{fake_sentry.url}/api/0/organizations/acme/events/",
        params={"field": "count()"},
        headers=headers,
    )
    assert no_dataset.status_code == 400


def test_sentry_errors(fake_sentry: FakeSentry) -> None:
    """5xx then success; 401 with Sentry's detail; malformed JSON."""
    fake_sentry.add_release("v1")
    fake_sentry.fail(502, b"bad gateway", times=1)
    assert sentry(fake_sentry).error_count("v1", T0, T0 + timedelta(minutes=5)) == 0
    with pytest.raises(ProviderError) as caught:
        sentry(fake_sentry, token="sntrys_wrong_0000000").error_count(
            "v1", T0, T0 + timedelta(minutes=5)
        )
    assert str(caught.value) == "sentry find release (HTTP 401): Invalid token"
    fake_sentry.malformed(path=r"/events/$")
    with pytest.raises(ProviderError, match="malformed JSON"):
        sentry(fake_sentry).error_count("v1", T0, T0 + timedelta(minutes=5))
