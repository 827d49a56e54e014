"""Where corpora live on disk.

A corpus root comes from, in order: the ``--data-root`` flag, the loader's environment
variable (e.g. ``BENCH_EMODB_ROOT``), the ``[roots]`` table of a config file
(``./bench.toml`` or ``~/.config/bench/config.toml``), or the loader's own default.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.api import DataError, DatasetLoader
from bench.runtime.environment import CONFIG_FILES, environment


def config_roots() -> dict[str, str]:
    """The ``[roots]`` table of the config file (:mod:`bench.runtime.environment`)."""
    return environment().roots


def resolve_root(loader: DatasetLoader, flag: Path | None = None) -> Path | None:
    """The corpus root, or a one-line :class:`DataError` naming every way to give it."""
    candidates = [
        flag,
        os.environ.get(loader.env_var),
        config_roots().get(loader.name),
        loader.default_root(),
    ]
    for value in candidates:
        if value:
            root = Path(value).expanduser()
            if loader.needs_root and not root.is_dir():
                raise DataError(f"{loader.name}: data root {root} is not a directory")
            return root
    if not loader.needs_root:
        return None
    raise DataError(
        f"{loader.name}: no data root; pass --data-root, set {loader.env_var}, "
        f'or add `{loader.name} = "/path"` under [roots] in {CONFIG_FILES[0]} or {CONFIG_FILES[1]}'
    )
