"""Named SQL blocks: parsing, descriptions, schema binding."""

from __future__ import annotations

import pytest

from spectral_deploy.db.queries import load_queries, parse_blocks

TEXT = """-- header comment, ignored

-- first_query --
-- Does the first thing.
-- Over two lines.
SELECT 1;

-- second_query --
SELECT * FROM {schema}.ledger WHERE details = '{{}}'::jsonb;
"""


def test_blocks_have_names_descriptions_and_bodies() -> None:
    """Each block yields its name, its joined description, and its statement."""
    blocks = parse_blocks(TEXT)
    assert blocks == [
        ("first_query", "Does the first thing. Over two lines.", "SELECT 1;"),
        ("second_query", "", "SELECT * FROM {schema}.ledger WHERE details = '{{}}'::jsonb;"),
    ]


def test_duplicate_names_are_refused() -> None:
    """Two blocks with one name is a mistake, not a silent override."""
    with pytest.raises(ValueError, match="duplicate query names: a"):
        parse_blocks("-- a --\nSELECT 1;\n-- a --\nSELECT 2;\n")


def test_schema_is_bound_as_a_quoted_identifier() -> None:
    """{schema} becomes a quoted identifier, so odd schema names are safe."""
    queries = load_queries("spectral_deploy.ledger", "ledger.sql", 'Ops "team"')
    text = queries["tail_entries"].as_string(None)
    assert 'FROM "Ops ""team""".ledger' in text


def test_every_shipped_query_file_binds() -> None:
    """All named blocks shipped in the package parse and bind to a schema."""
    for package, filename in [
        ("spectral_deploy.db", "schema.sql"),
        ("spectral_deploy.ledger", "ledger.sql"),
        ("spectral_deploy.ledger", "generations.sql"),
    ]:
        queries = load_queries(package, filename, "spectral")
        assert queries.names(), f"{filename} has no queries"
        for name in queries.names():
            text = queries[name].as_string(None)
            assert text.strip(), f"{filename}: {name} is empty"
            assert "{schema}" not in text, f"{filename}: {name} left {{schema}} unbound"


def test_unknown_query_name_says_which_file() -> None:
    """Asking for a missing block names the file."""
    queries = load_queries("spectral_deploy.ledger", "ledger.sql", "spectral")
    with pytest.raises(KeyError, match=r"ledger\.sql"):
        queries["nope"]
