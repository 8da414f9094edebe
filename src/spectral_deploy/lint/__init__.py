"""The migration-compat lint: migrations checked against what the running (N-1) release needs.

``engine.lint_change_sets`` lints files, ``registry.select_rules`` picks the rules,
``render.render`` prints a report. Modules: ``source`` (offsets to lines and columns),
``parse`` (libpg_query), ``context`` (new vs existing objects, the change set),
``markers`` (override comments), ``doblock`` (SQL inside DO blocks), ``violation``,
``rule`` and ``rules/`` (one rule per module), ``render/`` (one renderer per format),
``docs`` (rule pages).
"""
