"""Plugin discovery through entry points; the core never imports a plugin by name.

Built-in plugins are registered by this distribution's own entry points, exactly like a
third party's. A plugin that fails to load is reported in one line (its name, entry point
and distribution) and left out; the others keep working.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from bench.api import Backbone, DatasetLoader, Method
from bench.api.version import incompatible, moved

GROUPS = {"backbone": "bench.backbones", "dataset": "bench.datasets", "method": "bench.methods"}
BASES = {"backbone": Backbone, "dataset": DatasetLoader, "method": Method}
IDENTITY = {
    "backbone": ("name", "sample_rate", "clip_seconds", "embed_dim"),
    "dataset": ("name", "classes", "env_var", "protocols"),
    "method": ("name", "summary"),
}


class PluginError(Exception):
    """An unknown or broken plugin; the message is one line that names it and its source."""


@dataclass(frozen=True)
class Plugin:
    kind: str
    name: str
    target: str
    distribution: str
    obj: type | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _distribution(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"


def _load(kind: str, ep: EntryPoint) -> Plugin:
    source = dict(kind=kind, name=ep.name, target=ep.value, distribution=_distribution(ep))
    try:
        obj = ep.load()
    except ImportError as err:
        return Plugin(**source, error=moved(err) or f"cannot load {ep.value}: {type(err).__name__}: {err}")
    except Exception as err:  # any import-time failure of third-party code is reported, not raised
        return Plugin(**source, error=f"cannot load {ep.value}: {type(err).__name__}: {err}")
    if why := incompatible(getattr(obj, "api_version", None)):
        return Plugin(**source, error=why)
    base = BASES[kind]
    if not (isinstance(obj, type) and issubclass(obj, base)):
        return Plugin(**source, error=f"{ep.value} is not a subclass of bench.api.{base.__name__}")
    missing = [attr for attr in IDENTITY[kind] if not hasattr(obj, attr)]
    if missing:
        return Plugin(**source, error=f"{ep.value} lacks required attributes {missing}")
    if getattr(obj, "__abstractmethods__", None):
        return Plugin(**source, error=f"{ep.value} does not implement {sorted(obj.__abstractmethods__)}")
    return Plugin(**source, obj=obj)


@cache
def plugins(kind: str) -> dict[str, Plugin]:
    """All plugins of a kind by name, broken ones included (with ``error`` set)."""
    found: dict[str, Plugin] = {}
    for ep in sorted(entry_points(group=GROUPS[kind]), key=lambda e: e.name):
        plugin = _load(kind, ep)
        if ep.name in found:
            plugin = Plugin(
                kind,
                ep.name,
                ep.value,
                plugin.distribution,
                error=f"name already registered by {found[ep.name].distribution}",
            )
            found[f"{ep.name} ({plugin.distribution})"] = plugin
            continue
        found[ep.name] = plugin
    return found


def problems() -> list[str]:
    """One line per broken plugin, for the CLI to print once."""
    return [
        f"{p.kind} plugin '{p.name}' from {p.distribution}: {p.error}"
        for kind in GROUPS
        for p in plugins(kind).values()
        if not p.ok
    ]


def get(kind: str, name: str) -> type:
    """The class registered as ``name``; a clear one-line error if it is unknown or broken.

    Only that plugin is imported (not every installed one): a run pays for the code it uses.
    """
    named = [ep for ep in entry_points(group=GROUPS[kind]) if ep.name == name]
    if not named:
        names = ", ".join(n for n, p in plugins(kind).items() if p.ok) or "none"
        raise PluginError(f"unknown {kind} '{name}' (installed: {names})")
    plugin = _load(kind, named[0])
    if not plugin.ok:
        raise PluginError(f"{kind} plugin '{name}' from {plugin.distribution} is broken: {plugin.error}")
    return plugin.obj


def backbone(name: str, **settings) -> Backbone:
    """Build a backbone; the ``front_end`` option is the core's, every other goes to the plugin."""
    front_end = settings.pop("front_end", None)
    model = get("backbone", name)(**settings)
    if front_end is not None:
        model.use_front_end(front_end)
    return model


def dataset(name: str) -> DatasetLoader:
    return get("dataset", name)()
