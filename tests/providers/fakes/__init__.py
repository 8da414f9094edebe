"""Local servers that speak the vendor APIs the providers call, for tests of any layer.

Each is a plain class: ``with FakeRender(token) as render: ...`` serves on 127.0.0.1 in a
thread until the block ends; ``tests/providers/conftest.py`` wraps them as fixtures.
"""

from tests.providers.fakes.base import FakeServer, Recorded, Reply
from tests.providers.fakes.cloudflare import FakeCloudflare
from tests.providers.fakes.github import FakeGitHub
from tests.providers.fakes.render import FakeRender
from tests.providers.fakes.sentry import FakeSentry
from tests.providers.fakes.slack import FakeSlack

__all__ = [
    "FakeCloudflare",
    "FakeGitHub",
    "FakeRender",
    "FakeSentry",
    "FakeServer",
    "FakeSlack",
    "Recorded",
    "Reply",
]
