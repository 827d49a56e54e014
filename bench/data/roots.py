"""Where corpora live on disk.

A corpus root comes from, in order: the ``--data-root`` flag, the loader's environment
variable (e.g. ``BENCH_EMODB_ROOT``), the ``[roots]`` table of a config file
(``./bench.toml`` or ``~/.config/bench/config.toml``), or the loader's own default.
"""

from __future__ import annotations

import os
from pathlib import Path

import tomllib

from bench.api import DataError, DatasetLoader

CONFIG_FILES = (Path("bench.toml"), Path.home() / ".config" / "bench" / "config.toml")


def config_roots() -> dict[str, str]:
    """The ``[roots]`` table of the first config file this user can read.

    A location that cannot be read (another user's home, a closed folder, a folder where a
    file should be) is skipped as if absent; a file that is read but is not TOML with a
    ``[roots]`` table is a one-line :class:`DataError` naming it.
    """
    for path in CONFIG_FILES:
        try:
            text = path.read_bytes()
        except OSError:
            continue
        try:
            found = tomllib.loads(text.decode()).get("roots", {})
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise DataError(f"{path}: not a readable TOML config file ({err}); fix it or remove it") from None
        if not isinstance(found, dict):
            raise DataError(f'{path}: [roots] must be a table of `name = "/path"` lines')
        return {str(name): str(root) for name, root in found.items()}
    return {}


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
