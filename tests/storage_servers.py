"""Local servers that speak the storage vendors' APIs: a GCS emulator and an S3 server.

Both come from PyPI (gcp-storage-emulator, moto), listen on 127.0.0.1 only, and
start once per session on first use. A pytest plugin of the root conftest, so
provider and acceptance tests share them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.ports import reported_port

STARTUP_TIMEOUT_SECONDS = 20
# the emulator's own `start` command needs a port chosen beforehand (a race across xdist
# workers): this child binds port 0 and prints the port it got
GCS_CHILD = """
import threading
from gcp_storage_emulator.server import create_server
server = create_server("127.0.0.1", 0, in_memory=True)
server.start()
print("listening on", server._api._httpd.server_address[1], flush=True)
threading.Event().wait()
"""


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """gcp-storage-emulator in memory on the port it bound; yields its STORAGE_EMULATOR_HOST."""
    process = subprocess.Popen(
        [sys.executable, "-c", GCS_CHILD],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port, _ = reported_port(process, r"listening on (\d+)", timeout=STARTUP_TIMEOUT_SECONDS)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on the port it bound (0: the system's choice); yields its endpoint URL."""
    # imported here: moto takes ~0.4 s to import, and most sessions never need it
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def gcs_env(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment a gs:// storage needs to reach the emulator."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "spectral-test")
    return gcs_emulator


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment an s3:// storage needs to reach the local server."""
    for key, value in {
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "spectral-test",
        "AWS_SECRET_ACCESS_KEY": "spectral-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return s3_endpoint
