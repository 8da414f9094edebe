"""The app-side generation header: WSGI and ASGI middleware add Spectral-Generation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, MutableMapping
from typing import Any

from spectral_deploy.middleware import GenerationHeader, GenerationHeaderASGI


def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Spectral-Generation", "99")])
    return [b"ok"]


def call_wsgi(app: Any) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []

    def start_response(status: str, headers: list[tuple[str, str]], *args: Any) -> None:
        seen.extend(headers)

    assert b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, start_response)) == b"ok"
    return seen


def test_wsgi_responses_carry_the_generation_from_the_environment() -> None:
    """SPECTRAL_GENERATION=7: one Spectral-Generation: 7 header (an app's own is replaced)."""
    headers = call_wsgi(GenerationHeader(wsgi_app, environ={"SPECTRAL_GENERATION": "7"}))
    assert [v for k, v in headers if k.lower() == "spectral-generation"] == ["7"]
    assert ("Content-Type", "text/plain") in headers


def test_no_generation_no_header() -> None:
    """Unset, empty or not a positive integer: the app's answers are left as they are."""
    for environ in ({}, {"SPECTRAL_GENERATION": ""}, {"SPECTRAL_GENERATION": "x"}):
        headers = call_wsgi(GenerationHeader(wsgi_app, environ=environ))
        assert [v for k, v in headers if k == "Spectral-Generation"] == ["99"]


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
    await send({"type": "http.response.body", "body": b"ok"})


def call_asgi(app: Any, scope_type: str = "http") -> list[MutableMapping[str, Any]]:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": scope_type}, receive, send))
    return sent


def test_asgi_responses_carry_the_generation() -> None:
    """http.response.start gets spectral-generation; the body and other headers pass as they are."""
    sent = call_asgi(GenerationHeaderASGI(asgi_app, environ={"SPECTRAL_GENERATION": "12"}))
    assert sent[0]["headers"] == [(b"x-a", b"1"), (b"spectral-generation", b"12")]
    assert sent[1] == {"type": "http.response.body", "body": b"ok"}
    untouched = call_asgi(GenerationHeaderASGI(asgi_app, environ={}))
    assert untouched[0]["headers"] == [(b"x-a", b"1")]
