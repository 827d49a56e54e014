"""`bench settings`: every setting outside a run's config, its variable, value and source."""

from __future__ import annotations

import os

from rich.markup import escape
from rich.table import Table

from bench.cli.common import out, user_errors
from bench.plugins import registry
from bench.runtime.environment import CONFIG_FILES, PREFIX, Environment, environment, sources


def show_settings() -> None:
    """Show the core's BENCH_* settings (value and where it comes from) and the variables plugins declare."""
    with user_errors():
        current, origin = environment(), sources()
    table = Table(
        title=f"Settings: defaults < config file ({CONFIG_FILES[0]}, else {CONFIG_FILES[1]}) < environment < flags"
    )
    for column in ("variable", "value", "from", "what"):
        table.add_column(column)
    for name, field in Environment.model_fields.items():
        value = getattr(current, name)
        table.add_row(
            f"{PREFIX}{name.upper()}",
            "" if value in (None, {}) else escape(str(value)),
            origin[name],
            escape(field.description),
        )
    out.print(table)
    declared = Table(title="Variables plugins declare (weights, corpus roots)")
    for column in ("variable", "plugin", "what", "set"):
        declared.add_column(column)
    for name, plugin in registry.plugins("backbone").items():
        for needed in _required_files(plugin):
            if needed.env_var:
                declared.add_row(needed.env_var, name, escape(needed.what), _set(needed.env_var))
    for name, plugin in registry.plugins("dataset").items():
        if plugin.ok:
            declared.add_row(plugin.obj.env_var, name, "corpus root", _set(plugin.obj.env_var))
    out.print(declared)


def _required_files(plugin) -> list:
    if not plugin.ok:
        return []
    try:
        return plugin.obj.required_files()
    except Exception:  # a third-party plugin's own bug must not break the listing (bench list reports it)
        return []


def _set(variable: str) -> str:
    return os.environ.get(variable, "")
