"""``--help`` as it was written: paragraphs reflowed to the terminal, no type noise on flags.

Docstrings are wrapped at the source's line length; printed verbatim they break
mid-sentence on any other terminal width. Here every command's help and every option's
help is reflowed: lines of a paragraph are joined, except lines that are indented or
start a list item (``-``, ``*``, ``1.``), which stay on their own line, and paragraphs
starting with ``\\b`` (Click's "keep as is"). Square brackets are escaped, since the help
is rendered as rich markup and ``[migrations]`` would otherwise vanish.

Flags (``--yes``, ``-v``) take no value, so they show no metavar; options whose value
type Typer would print as ``<int>``, ``<float>``, ``<str>`` show ``N``, ``NUMBER``,
``TEXT`` (or their choices) instead, and arguments only their name.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["reflow", "tidy"]

_LIST_ITEM = re.compile(r"^(?:[-*\u2022]\s|\d+[.)]\s|\$\s)")
_UNESCAPED_BRACKET = re.compile(r"(?<!\\)\[")
_TYPE_METAVARS = {"int": "N", "float": "NUMBER", "str": "TEXT", "path": "PATH"}


def reflow(text: str | None) -> str | None:
    """Help text with each paragraph's soft line breaks joined and brackets escaped."""
    if not text:
        return text
    paragraphs = re.split(r"\n[ \t]*\n", _dedent(text).strip("\n"))
    return "\n\n".join(_paragraph(p) for p in paragraphs)


def tidy(command: Any) -> None:
    """Reflow the help of ``command``, its options and every subcommand (a Click tree)."""
    seen: set[int] = set()
    _tidy(command, seen)


def _tidy(command: Any, seen: set[int]) -> None:
    if id(command) in seen:
        return
    seen.add(id(command))
    command.help = reflow(command.help)
    if getattr(command, "short_help", None):
        command.short_help = reflow(command.short_help)
    for param in command.params:
        _tidy_param(param)
    original = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = original(ctx)
        if option is not None:
            _tidy_param(option)
        return option

    command.get_help_option = get_help_option
    for sub in getattr(command, "commands", {}).values():
        _tidy(sub, seen)


def _tidy_param(param: Any) -> None:
    if getattr(param, "help", None):
        param.help = reflow(param.help)
    if getattr(param, "param_type_name", "") == "argument":
        param.display_type_rich = lambda ctx: None  # its name (COLOR, TAG) says it all
        return
    if getattr(param, "param_type_name", "") != "option" or param.metavar is not None:
        return
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        param.metavar = ""
        return
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None:
        return
    if descriptor.is_choice and descriptor.choices:
        param.metavar = "|".join(str(getattr(c, "value", c)) for c in descriptor.choices)
        return
    name = descriptor.ranged_type_name if descriptor.is_ranged else None
    if name is None:
        annotation = descriptor.annotation
        name = "path" if descriptor.is_path else getattr(annotation, "__name__", "")
    param.metavar = _TYPE_METAVARS.get(str(name).lower(), "VALUE")


def _paragraph(text: str) -> str:
    if text.startswith("\b"):
        return text
    lines = text.split("\n")
    out: list[str] = []
    for line in lines:
        stripped = line.strip()
        structured = line[:1] in (" ", "\t") or _LIST_ITEM.match(stripped) is not None
        if out and not structured and not out[-1].rstrip().endswith("::"):
            out[-1] = out[-1].rstrip() + " " + stripped
        else:
            out.append(line.rstrip() if structured else stripped)
    return _UNESCAPED_BRACKET.sub(r"\\[", "\n".join(out))


def _dedent(text: str) -> str:
    """Docstring indentation removed (the first line is never indented)."""
    import inspect

    return inspect.cleandoc(text)
