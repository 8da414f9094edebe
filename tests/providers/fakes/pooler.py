"""A PostgreSQL pooler on 127.0.0.1, the way Supabase's Supavisor or PgBouncer pool: clients
speak the PostgreSQL protocol to it and it runs their statements on a few server sessions.

``mode="transaction"`` (Supabase's port 6543) hands each transaction the next server session,
round robin, and takes it back when the session reports "idle": a prepared statement, a
LISTEN, a SET or a session advisory lock stays behind in a session the client may never see
again (notifications arriving for an idle session are dropped, as poolers do).
``mode="session"`` (Supabase's port 5432) gives each client one server session for as long
as it is connected.

The server sessions connect over the test server's Unix socket and log in with SCRAM-SHA-256
(the password from the ``passfile`` the server URL names: the embedded server trusts nobody);
clients are answered with AuthenticationOk (no password) and the first session's parameters.
SSL and GSS encryption requests are declined, as a plain-TCP pooler does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import secrets
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["FakePooler"]

SSL_REQUEST, GSS_REQUEST, CANCEL_REQUEST = 80877103, 80877104, 80877102
PROTOCOL_3 = 196608
AUTH_OK, AUTH_SASL, AUTH_SASL_CONTINUE, AUTH_SASL_FINAL = 0, 10, 11, 12


def _passfile_password(passfile: str, user: str) -> str | None:
    """The password of ``user`` in a libpq password file (host:port:db:user:password)."""
    if not passfile:
        return None
    for line in Path(passfile).read_text(encoding="utf-8").splitlines():
        fields = line.split(":")
        if len(fields) >= 5 and fields[3] in (user, "*"):
            return ":".join(fields[4:])
    return None


class _Scram:
    """The client side of SCRAM-SHA-256 (RFC 5802 / 7677), no channel binding."""

    def __init__(self, password: str) -> None:
        self.password = password.encode()
        self.nonce = base64.b64encode(secrets.token_bytes(18)).decode()
        self.first_bare = f"n=,r={self.nonce}"

    def client_first(self) -> bytes:
        return f"n,,{self.first_bare}".encode()

    def client_final(self, server_first: bytes) -> bytes:
        fields = dict(item.split("=", 1) for item in server_first.decode().split(","))
        salted = hashlib.pbkdf2_hmac(
            "sha256", self.password, base64.b64decode(fields["s"]), int(fields["i"])
        )
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={fields['r']}"
        message = f"{self.first_bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.digest(stored_key, message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()


@dataclass
class _Session:
    """One server session: a connection to the real server, after its startup."""

    number: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    busy: bool = False
    transactions: int = 0


@dataclass
class _Stats:
    clients: int = 0
    transactions: int = 0
    sessions_used: set[int] = field(default_factory=set)


async def _read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    kind = await reader.readexactly(1)
    (length,) = struct.unpack("!i", await reader.readexactly(4))
    return kind, await reader.readexactly(length - 4)


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


class FakePooler:
    """``with FakePooler(server_url, sessions=3) as pooler: psycopg.connect(pooler.url(db))``."""

    def __init__(self, server_url: str, *, mode: str = "transaction", sessions: int = 3) -> None:
        if mode not in ("transaction", "session"):
            raise ValueError(f"mode is transaction or session, not {mode!r}")
        parts = urlsplit(server_url)
        query = parse_qs(parts.query)
        self.socket_path = Path(query["host"][0]) / f".s.PGSQL.{query['port'][0]}"
        self.user = unquote(parts.username or "postgres")
        self.password = _passfile_password(query.get("passfile", [""])[0], self.user)
        self.mode = mode
        self.size = sessions
        self.stats = _Stats()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._pools: dict[str, list[_Session]] = {}
        self._parameters: dict[str, list[bytes]] = {}
        self._turn = itertools.count()
        self._free = asyncio.Condition()
        self.port = 0

    def url(self, database: str, *, user: str | None = None) -> str:
        """A URL that reaches ``database`` through the pooler."""
        return f"postgresql://{user or self.user}@127.0.0.1:{self.port}/{database}"

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._client, "127.0.0.1", 0), self._loop
        ).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for pool in self._pools.values():
                for session in pool:
                    session.writer.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # --- server sessions -----------------------------------------------------------------

    async def _open_session(self, database: str, number: int) -> _Session:
        reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
        params = b"".join(
            key.encode() + b"\0" + value.encode() + b"\0"
            for key, value in (("user", self.user), ("database", database))
        )
        body = struct.pack("!i", PROTOCOL_3) + params + b"\0"
        writer.write(struct.pack("!i", len(body) + 4) + body)
        statuses: list[bytes] = []
        scram: _Scram | None = None
        while True:
            kind, payload = await _read_message(reader)
            if kind == b"R":
                (code,) = struct.unpack("!i", payload[:4])
                if code == AUTH_SASL:
                    if self.password is None:
                        raise RuntimeError("the test server asked for a password; no passfile")
                    scram = _Scram(self.password)
                    first = scram.client_first()
                    body = b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first
                    writer.write(_message(b"p", body))
                elif code == AUTH_SASL_CONTINUE and scram is not None:
                    writer.write(_message(b"p", scram.client_final(payload[4:])))
                elif code not in (AUTH_OK, AUTH_SASL_FINAL):
                    raise RuntimeError(f"the test server asked for authentication {code}")
            if kind == b"E":
                raise RuntimeError(f"server session refused: {payload!r}")
            if kind == b"S":
                statuses.append(_message(kind, payload))
            if kind == b"Z":
                break
        self._parameters.setdefault(database, statuses)
        return _Session(number, reader, writer)

    async def _pool(self, database: str) -> list[_Session]:
        if database not in self._pools:
            self._pools[database] = [
                await self._open_session(database, n) for n in range(self.size)
            ]
        return self._pools[database]

    async def _acquire(self, database: str) -> _Session:
        pool = await self._pool(database)
        async with self._free:
            while True:
                start = next(self._turn)
                for offset in range(len(pool)):  # round robin: the next free one
                    session = pool[(start + offset) % len(pool)]
                    if not session.busy:
                        session.busy = True
                        self.stats.sessions_used.add(session.number)
                        return session
                await self._free.wait()

    async def _release(self, session: _Session) -> None:
        async with self._free:
            session.busy = False
            self._free.notify_all()

    # --- clients -------------------------------------------------------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.clients += 1
        session: _Session | None = None
        forwarder: asyncio.Task[None] | None = None
        try:
            startup = await self._startup(reader, writer)
            if startup is None:
                return
            database = startup.get("database") or startup.get("user") or self.user
            await self._pool(database)
            key = struct.pack("!ii", 4242, self.stats.clients)
            writer.write(
                _message(b"R", struct.pack("!i", 0))
                + b"".join(self._parameters[database])
                + _message(b"K", key)
                + _message(b"Z", b"I")
            )
            await writer.drain()
            while True:
                kind, body = await _read_message(reader)
                if kind == b"X":
                    if forwarder is not None:
                        forwarder.cancel()
                    return
                if session is None:
                    session = await self._acquire(database)
                    self.stats.transactions += 1
                    if self.mode == "session":  # everything the session says, as it says it
                        forwarder = asyncio.ensure_future(self._forward(session, writer))
                session.writer.write(_message(kind, body))
                await session.writer.drain()
                if self.mode == "session" or kind not in (b"S", b"Q", b"c", b"f"):
                    continue  # answered at the next sync point
                if await self._pump(session, writer):
                    await self._release(session)
                    session = None
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            if forwarder is not None:
                forwarder.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await forwarder
            if session is not None:
                # a client gone mid-transaction is rolled back; a session pooler resets the
                # session for the next client (PgBouncer's DISCARD ALL)
                reset = b"DISCARD ALL\0" if self.mode == "session" else b"ROLLBACK\0"
                with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                    session.writer.write(_message(b"Q", reset))
                    await self._pump(session, None)
                await self._release(session)
            writer.close()

    async def _forward(self, session: _Session, client: asyncio.StreamWriter) -> None:
        """Session mode: the session's messages, notifications included, go to its client."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                kind, body = await _read_message(session.reader)
                client.write(_message(kind, body))
                await client.drain()

    async def _pump(self, session: _Session, client: asyncio.StreamWriter | None) -> bool:
        """Forward the session's answers to the client up to ReadyForQuery (True when the
        session is then idle) or a CopyInResponse (the client streams the data next)."""
        while True:
            kind, body = await _read_message(session.reader)
            if client is not None:
                client.write(_message(kind, body))
            if kind in (b"G", b"Z"):
                if client is not None:
                    await client.drain()
                return kind == b"Z" and body == b"I"

    async def _startup(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Mapping[str, str] | None:
        while True:
            (length,) = struct.unpack("!i", await reader.readexactly(4))
            body = await reader.readexactly(length - 4)
            (code,) = struct.unpack("!i", body[:4])
            if code in (SSL_REQUEST, GSS_REQUEST):
                writer.write(b"N")
                await writer.drain()
                continue
            if code == CANCEL_REQUEST:
                return None
            fields = body[4:].split(b"\0")
            return {
                fields[i].decode(): fields[i + 1].decode()
                for i in range(0, len(fields) - 1, 2)
                if fields[i]
            }
