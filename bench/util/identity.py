"""Which code computes the numbers: a hash of the source of every module that can change them.

Run folders and feature-cache spaces are keyed by it, so an edit to a forward pass, a loss
or a stage gives a new folder and a new cache space instead of silently reusing old units
and features. Source files are read and parsed, never imported: a finished run still
rebuilds its record in seconds without loading weights.

Covered: the backbone class's module and every module of its own package that it imports
(transitively: for laion-clap, laion_clap.py, _laion.py, _laion_audio.py, _weights.py ...;
for a third-party plugin, the modules of its package), plus every module of the core packages
that sit between a file and a number (:data:`FEATURE_PACKAGES`, :data:`STAGE_PACKAGES`). The
rule follows folders, so a new module of those packages is covered without being listed.
Not covered: the command line, results and tables, sweeps, plugin discovery, settings (their
values are in the run's identity) and the helpers of :mod:`bench.util`.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

CORE = Path(__file__).parent.parent
IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+([.\w]+)[ \t]+import[ \t]+(\([^)]*\)|[\w \t,*]+)|import[ \t]+([\w., \t]+))", re.M
)
# Core packages between a file and its features: the contract, decoding and front-ends, the
# embedding path and how it runs (its BENCH_* settings, precision, processes, threads) ...
FEATURE_PACKAGES = ("api", "audio", "features", "runtime")
# ... and what turns features into rows: corpora and folds, training, the protocol, the methods.
STAGE_PACKAGES = ("data", "training", "protocol", "methods")


def package_files(packages: Sequence[str]) -> list[Path]:
    """Every module of the named core packages, found by walking their folders."""
    return sorted(f for name in packages for f in (CORE / name).rglob("*.py"))


def code_hash(files: list[Path]) -> str:
    """A short hash of the files' names and contents (a missing file counts as missing)."""
    digest = hashlib.sha256()
    for path in sorted(files, key=str):
        digest.update(path.name.encode())
        digest.update(_read(path))
    return digest.hexdigest()[:16]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b"<missing>"


def backbone_files(cls: type) -> list[Path]:
    """The backbone class's module and the modules of its own package it imports, transitively."""
    module = sys.modules.get(cls.__module__)
    if not getattr(module, "__file__", None):  # defined where no source file is (an interactive session)
        return []
    source = Path(module.__file__)  # not inspect.getsourcefile: it scans every loaded module
    package = cls.__module__ if hasattr(module, "__path__") else cls.__module__.rpartition(".")[0]
    return sorted(_package_closure(source, package, source.parent))


@cache
def _package_closure(source: Path, package: str, folder: Path) -> frozenset[Path]:
    seen, todo = set(), [source]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        todo += [p for name in _imports(path, package) if package and (p := _file_of(name, package, folder))]
    return frozenset(seen)


def _imports(path: Path, package: str) -> list[str]:
    """Absolute names of the modules ``path`` imports, anywhere in it (relative imports resolved
    against ``package``). A regular expression, not ast: parsing every helper costs a second."""
    names = []
    for found in IMPORT.finditer(_read(path).decode(errors="replace")):
        relative, imported, plain = found.groups()
        if plain is not None:
            names += [part.split()[0] for part in plain.split(",") if part.strip()]
            continue
        level = len(relative) - len(relative.lstrip("."))
        base = relative.lstrip(".")
        if level:
            base = ".".join(filter(None, [package.rsplit(".", level - 1)[0], base]))
        names += [base, *(f"{base}.{part.split()[0]}" for part in imported.strip("()").split(",") if part.strip())]
    return names


def _file_of(name: str, package: str, folder: Path) -> Path | None:
    if not name.startswith(package + "."):
        return None
    parts = name[len(package) + 1 :].split(".")
    for candidate in (folder.joinpath(*parts).with_suffix(".py"), folder.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def feature_code(cls: type) -> str:
    """What computes a clip's features: the backbone's code and the core audio path."""
    return code_hash([*backbone_files(cls), *package_files(FEATURE_PACKAGES)])


def run_code(cls: type, methods: Sequence[type] = ()) -> str:
    """What computes a run's numbers: the feature code, every core stage and the methods'
    own modules (a third party's method package too)."""
    third_party = [m for m in methods if m.__module__.partition(".")[0] != "bench"]  # the core's are below
    files = {*backbone_files(cls), *(f for m in third_party for f in backbone_files(m))}
    return code_hash([*files, *package_files(FEATURE_PACKAGES + STAGE_PACKAGES)])
