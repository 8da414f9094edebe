"""The rules, one module each; ``ALL`` is their order in docs and ``--explain`` listings."""

from __future__ import annotations

from spectral_deploy.lint.rule import Rule
from spectral_deploy.lint.rules import (
    adding_column_rewrites_table,
    adding_required_column,
    alter_column_type,
    check_without_not_valid,
    create_index_non_concurrently,
    drop_column,
    drop_function,
    drop_index_non_concurrently,
    drop_not_null,
    drop_schema,
    drop_table,
    drop_type,
    drop_view,
    foreign_key_without_not_valid,
    invalid_override,
    opaque_do_block,
    rename_column,
    rename_object,
    rename_table,
    set_not_null,
    set_schema,
    unique_on_existing_table,
)

__all__ = ["ALL"]

ALL: tuple[Rule, ...] = tuple(
    sorted(
        (
            module.RULE
            for module in (
                adding_column_rewrites_table,
                adding_required_column,
                alter_column_type,
                check_without_not_valid,
                create_index_non_concurrently,
                drop_column,
                drop_function,
                drop_index_non_concurrently,
                drop_not_null,
                drop_schema,
                drop_table,
                drop_type,
                drop_view,
                foreign_key_without_not_valid,
                invalid_override,
                opaque_do_block,
                rename_column,
                rename_object,
                rename_table,
                set_not_null,
                set_schema,
                unique_on_existing_table,
            )
        ),
        key=lambda rule: rule.code,
    )
)
