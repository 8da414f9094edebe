"""The outbox package reaches PostgreSQL only through the database seam (``db/access.py``)."""

from __future__ import annotations

import re
from pathlib import Path

import spectral_deploy.outbox

OUTBOX = Path(spectral_deploy.outbox.__file__).parent
# an error translated by hand, a query file loaded by hand, a column read by its position
BYPASS = re.compile(
    r"raise translate\(|except psycopg\.Error|load_queries|\brow\[\d|\brows\[\d+\]\["
)


def test_no_outbox_module_translates_errors_or_reads_columns_by_position() -> None:
    """Every statement of outbox/ runs through ``statements(...)``; rows come back by name."""
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(OUTBOX.glob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if BYPASS.search(line)
    ]
    assert found == []
