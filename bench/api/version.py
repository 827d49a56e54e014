"""The plugin API's version, and what changed between major versions.

``API_VERSION`` is ``MAJOR.MINOR``. A minor step only adds (a new optional member, a new
keyword a hook may take, a new field of :class:`bench.api.FoldInput`), so a plugin written for
1.0 works with every 1.x. A major step changes or removes something; :data:`CHANGES` says
what, and a plugin that declares another major version (class attribute ``api_version``) is
refused with that line instead of failing somewhere inside a run.
"""

from __future__ import annotations

API_VERSION = "2.1"  # 2.1: Method.uses_shots, MissingFileError

CHANGES = {
    "1": "the contract moved from bench.contracts, bench.methods, bench.errors, bench.splits, bench.labels, "
    "bench.frontend and bench.prompting into one package, bench.api (import every name from bench.api)",
    "2": "Predictor lost its CLEP-DG-only acpt flag and takes its other fields by keyword: a method's variants "
    "are Predictor(name, predict, arm=..., label=..., main=..., extra=...)",
}

# The modules of the unversioned (0.x) contract, all of whose names live in bench.api now: a
# plugin written against it that imports one gets one line instead of an ImportError.
MOVED = (
    "bench.contracts", "bench.methods", "bench.errors", "bench.splits", "bench.labels", "bench.frontend",
    "bench.prompting",
)  # fmt: skip


def incompatible(declared: object) -> str | None:
    """Why a plugin that declares ``api_version = declared`` cannot load here (None: it can)."""
    if declared is None:
        return None
    major, current = str(declared).split(".")[0], API_VERSION.split(".")[0]
    if not major.isdigit():
        return f"api_version {declared!r} is not MAJOR.MINOR (this bench has API {API_VERSION})"
    if major == current:
        return None
    if int(major) < int(current):
        changed = "; ".join(CHANGES[str(v)] for v in range(int(major) + 1, int(current) + 1) if str(v) in CHANGES)
        return f"written for bench API {declared}, this bench has API {API_VERSION}: {changed}"
    return f"written for bench API {declared}, newer than this bench's API {API_VERSION}: upgrade bench"


def moved(err: ImportError) -> str | None:
    """The one line for an import from a module of the 0.x contract (None: another error).

    Both ``import bench.contracts`` (the module is gone) and ``from bench.methods import
    Method`` (the module is now something else) name the old module in ``err.name``.
    """
    old = getattr(err, "name", None)
    if old not in MOVED:
        return None
    return f"imports from {old}, gone since bench API 1.0: {CHANGES['1']}"
