"""App-side proof of who served a request: a ``Spectral-Generation`` response header.

Wrap the app once; every response then says which generation served it, read from
``SPECTRAL_GENERATION`` (set by the deploy on each slot's web app)::

    # WSGI (Flask, Django's WSGI handler, any WSGI app)
    from spectral_deploy.middleware import GenerationHeader
    app.wsgi_app = GenerationHeader(app.wsgi_app)          # Flask
    application = GenerationHeader(get_wsgi_application())  # Django

    # ASGI (Starlette, FastAPI, Django's ASGI handler)
    from spectral_deploy.middleware import GenerationHeaderASGI
    app = GenerationHeaderASGI(app)

After a flip, the deploy requests the public address (``[dns] public_url``) until this
header shows the new generation: a record that moved while the traffic did not (a Render
custom domain still attached to blue's service) stops the cutover instead of passing as
green. Without the header the deploy falls back to the record read back and says so.

Stdlib only: importing it costs the app nothing (no psycopg, no httpx).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

__all__ = ["GENERATION_ENV", "GENERATION_HEADER", "GenerationHeader", "GenerationHeaderASGI"]

GENERATION_HEADER = "Spectral-Generation"
GENERATION_ENV = "SPECTRAL_GENERATION"

_StartResponse = Callable[..., Any]
_WsgiApp = Callable[[dict[str, Any], _StartResponse], Iterable[bytes]]
_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_AsgiApp = Callable[[_Scope, _Receive, _Send], Awaitable[None]]


def _generation(environ: Mapping[str, str] | None) -> str | None:
    value = (os.environ if environ is None else environ).get(GENERATION_ENV, "").strip()
    return value if value.isdigit() and int(value) > 0 else None


class GenerationHeader:
    """WSGI middleware: adds ``Spectral-Generation: N`` to every response (none when
    ``SPECTRAL_GENERATION`` is unset or not a positive integer)."""

    def __init__(self, app: _WsgiApp, *, environ: Mapping[str, str] | None = None) -> None:
        self.app = app
        self.generation = _generation(environ)

    def __call__(self, environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        generation = self.generation
        if generation is None:
            return self.app(environ, start_response)

        def start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            kept = [(k, v) for k, v in headers if k.lower() != GENERATION_HEADER.lower()]
            return start_response(status, [*kept, (GENERATION_HEADER, generation)], *args)

        return self.app(environ, start)


class GenerationHeaderASGI:
    """ASGI middleware: adds ``spectral-generation: N`` to every HTTP response."""

    def __init__(self, app: _AsgiApp, *, environ: Mapping[str, str] | None = None) -> None:
        self.app = app
        self.generation = _generation(environ)

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        generation = self.generation
        if scope.get("type") != "http" or generation is None:
            await self.app(scope, receive, send)
            return
        name = GENERATION_HEADER.lower().encode()

        async def send_with_header(message: MutableMapping[str, Any]) -> None:
            if message.get("type") == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != name]
                message["headers"] = [*headers, (name, generation.encode())]
            await send(message)

        await self.app(scope, receive, send_with_header)
