"""`bench list`: every plugin, where it comes from, and whether its files are found."""

from __future__ import annotations

from rich.table import Table

from bench.cli.common import out
from bench.plugins import registry
from bench.plugins.releases import identify


def _backbone_files(cls) -> str:
    try:
        files = cls.required_files()
    except Exception as err:  # a third-party plugin's own bug must not break the listing
        return f"[red]cannot tell: {err}[/]"
    if not files:
        return "[green]nothing to download[/]"
    return "\n".join(
        f"[green]found[/] {f.what}: {identify(f)}"
        if f.found
        else f"[red]missing[/] {f.what}" + (f" (set {f.env_var})" if f.env_var else "")
        for f in files
    )


def _dataset_root(cls) -> str:
    from bench.data.roots import resolve_root

    loader = cls()
    try:
        root = resolve_root(loader)
    except Exception:
        return f"[red]no root[/] (--data-root or {loader.env_var})"
    if root is None or not loader.needs_root:
        return f"[green]generated[/] {root}" if root else "[green]generated[/]"
    return f"[green]{root}[/]"


def _method_summary(cls) -> str:
    return cls.summary


def list_plugins() -> None:
    """Show every backbone, dataset and method plugin with its distribution and status."""
    kinds = (
        ("backbone", "Backbones", _backbone_files),
        ("dataset", "Datasets", _dataset_root),
        ("method", "Methods", _method_summary),
    )
    for kind, title, status in kinds:
        table = Table(title=title)
        for column in ("name", "distribution", "entry point", "status"):
            table.add_column(column)
        for name, plugin in registry.plugins(kind).items():
            state = status(plugin.obj) if plugin.ok else f"[red]broken:[/] {plugin.error}"
            table.add_row(name, plugin.distribution, plugin.target, state)
        out.print(table)
