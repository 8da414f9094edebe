"""Ports without races: a server child binds port 0 and reports the port it got; a test that
needs a port nothing answers on holds one bound (never listening) for as long as it needs it.

A port probed free and released is not reserved: another xdist worker's child may take it
before ours binds it. Only where a config file must name a port before its server starts (the
sandbox's app slots and router) is a port still chosen that way (``sandbox.shop.free_port``).
"""

from __future__ import annotations

import os
import re
import selectors
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["refusing_port", "reported_port"]


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections while the block runs: bound by this process
    and never listened on, so no other process can take it meanwhile."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


def reported_port(
    process: subprocess.Popen[str], pattern: str, *, timeout: float = 60.0
) -> tuple[int, str]:
    """Read the child's stdout until it matches ``pattern`` (its group 1 is the port the child
    bound); returns the port and the text read. Fails with the output if the child exits first
    or says nothing matching within ``timeout`` s. Reads the pipe's descriptor unbuffered, so
    what follows is left for ``communicate``."""
    assert process.stdout is not None, "the child's stdout must be a pipe"
    expected = re.compile(pattern)
    fd = process.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(left):
                continue
            chunk = os.read(fd, 65536)
            text = seen.decode(errors="replace")
            if not chunk:
                raise AssertionError(
                    f"the server exited ({process.wait()}) before reporting its port:\n{text}"
                )
            seen += chunk
            text = seen.decode(errors="replace")
            found = expected.search(text)
            if found:
                return int(found.group(1)), text
    raise AssertionError(
        f"no port reported within {timeout:g} s:\n" + seen.decode(errors="replace")
    )
