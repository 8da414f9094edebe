"""--help as written: paragraphs reflowed, brackets kept, no type metavars on flags."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
import typer

from spectral_deploy.cli import helptext
from spectral_deploy.cli.main import app, main


def test_reflow_joins_soft_breaks_and_keeps_structure() -> None:
    """A wrapped sentence becomes one line; indented lines and list items stay as they are."""
    text = """Show each migration: applied (with the generation that applied it), pending,
    changed since applied.

    Placeholders:
      {python}  the interpreter
      {port}    the port
    - one item
    - two items
    """
    assert helptext.reflow(text) == (
        "Show each migration: applied (with the generation that applied it), pending, "
        "changed since applied.\n\n"
        "Placeholders:\n  {python}  the interpreter\n  {port}    the port\n- one item\n- two items"
    )


def test_reflow_escapes_brackets_once() -> None:
    """[migrations] survives rich markup; an already escaped bracket is not escaped twice."""
    assert helptext.reflow("set [migrations] tool") == "set \\[migrations] tool"
    assert helptext.reflow("see \\[tool.x]") == "see \\[tool.x]"


def _commands() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = [[]]
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        paths.append([name])
        for sub in getattr(command, "commands", {}):
            paths.append([name, sub])
    return paths


def _help(path: list[str]) -> str:
    """``spectral-deploy PATH --help`` through the real entry point (which tidies the help)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main([*path, "--help"])
    return out.getvalue()


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "root")
def test_help_has_no_type_metavars_and_no_lost_brackets(path: list[str]) -> None:
    """Every command's --help: flags show no <bool>/<int>, no <type> at all, [x] survives."""
    if path == ["lint"]:
        return  # argparse's own help, tested with the lint command line
    text = _help(path)
    assert "Usage:" in text
    assert not re.search(r"<(bool|int|str|float|int range|float range|text|file|path)>", text)
    flat = " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())
    assert "files in directory" not in flat  # "[migrations] directory" lost its brackets


def test_a_wrapped_docstring_reads_as_one_sentence_on_a_wide_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """migrate status's docstring is wrapped at 92 columns; at 200 the sentence is one line."""
    monkeypatch.setenv("COLUMNS", "200")
    text = _help(["migrate", "status"])
    assert (
        "Show each migration: applied (with the generation that applied it), pending, changed "
        "since applied (an error), or applied but missing from the directory." in text
    )
