"""Every rule by name and code, and which of them a run uses.

Selection, lowest precedence first: each rule's default; the config's ``enable`` and
``disable``; then ``--select`` (exactly these rules) and ``--ignore`` (not these).
Rules are named by kebab-case name or by code, case-insensitively.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from spectral_deploy.errors import ConfigError, UsageError
from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.rules import ALL

__all__ = ["all_rules", "find_rule", "select_rules"]


class RuleSettings(Protocol):
    """The ``[lint]`` keys that choose rules (``LintConfig`` or ``LintSettings``)."""

    @property
    def enable(self) -> Sequence[str]: ...

    @property
    def disable(self) -> Sequence[str]: ...


_BY_KEY: dict[str, Rule] = {key: rule for rule in ALL for key in (rule.name, rule.code.lower())}


def all_rules() -> tuple[Rule, ...]:
    """Every rule, in code order."""
    return ALL


def find_rule(key: str) -> Rule | None:
    """The rule named ``key`` (name or code), if any."""
    return _BY_KEY.get(key.strip().lower())


def select_rules(
    config: RuleSettings,
    *,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    source: str = "defaults",
) -> tuple[Rule, ...]:
    """The rules a run uses, from the config and the command line."""
    enabled = {rule.name for rule in ALL if rule.default}
    enabled |= _names(config.enable, lambda key: _config_error("lint.enable", key, source))
    enabled -= _names(config.disable, lambda key: _config_error("lint.disable", key, source))
    if select:
        enabled = _names(select, lambda key: _usage_error("--select", key))
    enabled -= _names(ignore, lambda key: _usage_error("--ignore", key))
    return tuple(rule for rule in ALL if rule.name in enabled)


def _names(keys: Iterable[str], fail: Callable[[str], Exception]) -> set[str]:
    names: set[str] = set()
    for key in keys:
        rule = find_rule(key)
        if rule is None:
            raise fail(key)
        names.add(rule.name)
    return names


def _known() -> str:
    return ", ".join(rule.name for rule in ALL)


def _config_error(key: str, value: str, source: str) -> ConfigError:
    return ConfigError(
        f"unknown rule {value!r} (known: {_known()})",
        key=key,
        source=source,
        hint="spectral-deploy lint --explain RULE prints a rule's documentation",
    )


def _usage_error(flag: str, value: str) -> UsageError:
    return UsageError(
        f"{flag}: unknown rule {value!r} (known: {_known()})",
        hint="spectral-deploy lint --explain RULE prints a rule's documentation",
    )
