"""migrate fix-forward writes a skeleton that undoes what broke the prior code."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectral_deploy.config import MigrationsConfig, load_config
from spectral_deploy.db import Database
from spectral_deploy.errors import PreconditionFailed
from spectral_deploy.migrate.fixforward import write_fix_forward
from spectral_deploy.migrate.runner import apply, discover


def test_required_column_gets_drop_not_null(database: Database, tmp_path: Path) -> None:
    """ADD COLUMN ... NOT NULL with a default, and SET NOT NULL, are undone with DROP NOT NULL."""
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_orders.sql").write_text("CREATE TABLE orders (id int, note text);\n")
    (migrations / "0002_strict.sql").write_text(
        "ALTER TABLE orders ADD COLUMN tier text NOT NULL DEFAULT 'basic';\n"
        "ALTER TABLE orders ALTER COLUMN note SET NOT NULL;\n"
        "ALTER TABLE orders ADD CONSTRAINT orders_id_key UNIQUE (id);\n"
    )
    with database.connect() as conn:
        apply(conn, "spectral", discover(migrations)[:1], MigrationsConfig(), generation=7)
        conn.execute("INSERT INTO orders VALUES (1, 'x')")
        conn.commit()
        apply(conn, "spectral", discover(migrations), MigrationsConfig(), generation=8)
    config = load_config(cwd=tmp_path, environ={"DATABASE_URL": database.url})
    path = write_fix_forward(config, database, 8)
    text = path.read_text()
    assert path.name == "0003_fix_forward_generation_8.sql"
    assert "Applied by generation 8: 0002_strict.sql" in text
    assert "ALTER TABLE orders ALTER COLUMN note DROP NOT NULL;" in text
    assert "ALTER TABLE orders DROP CONSTRAINT orders_id_key;" in text
    with database.connect() as conn:
        apply(conn, "spectral", discover(migrations), MigrationsConfig(), generation=9)
        conn.execute("INSERT INTO orders (id) VALUES (2)")  # what the prior code does: works again
        conn.commit()


def test_a_generation_that_applied_nothing(database: Database, tmp_path: Path) -> None:
    """Nothing applied by that generation: a precondition error pointing at migrate status."""
    (tmp_path / "migrations").mkdir()
    config = load_config(cwd=tmp_path, environ={"DATABASE_URL": database.url})
    with pytest.raises(PreconditionFailed, match="generation 5"):
        write_fix_forward(config, database, 5)
