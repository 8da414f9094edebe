"""Which migration files can run in one transaction (parsed, not pattern-matched)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectral_deploy.errors import InputError
from spectral_deploy.migrate.runner import MigrationFile, statements_of


def file(text: str) -> MigrationFile:
    return MigrationFile(Path("0001_x.sql"), text)


@pytest.mark.parametrize(
    ("text", "transactional"),
    [
        ("CREATE TABLE a (id int); ALTER TABLE a ADD COLUMN b text;", True),
        ("CREATE INDEX CONCURRENTLY a_b ON a (b);", False),
        ("DROP INDEX CONCURRENTLY a_b;", False),
        ("REINDEX INDEX CONCURRENTLY a_b;", False),
        ("VACUUM a;", False),
        ("-- CREATE INDEX CONCURRENTLY in a comment\nCREATE INDEX a_b ON a (b);", True),
        ("INSERT INTO notes VALUES ('CREATE INDEX CONCURRENTLY');", True),
    ],
)
def test_transactional_or_not(text: str, transactional: bool) -> None:
    """Only statements PostgreSQL refuses in a transaction make a file run one by one."""
    assert statements_of(file(text))[1] is transactional


def test_statements_are_split_on_the_parser_boundaries() -> None:
    """Semicolons inside strings and dollar quotes do not split statements."""
    statements, _ = statements_of(
        file("INSERT INTO t VALUES ('a;b');\nDO $$ BEGIN PERFORM 1; END $$;\nSELECT 1;")
    )
    assert statements == [
        "INSERT INTO t VALUES ('a;b')",
        "DO $$ BEGIN PERFORM 1; END $$",
        "SELECT 1",
    ]


def test_a_file_that_does_not_parse_is_named() -> None:
    """A syntax error is an input error naming the file."""
    with pytest.raises(InputError, match=r"0001_x\.sql"):
        statements_of(file("CREAT TABLE a (id int);"))
