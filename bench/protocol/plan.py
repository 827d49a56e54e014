"""Which methods a run computes, and on which weight states."""

from __future__ import annotations

from pydantic import ValidationError

from bench.config.settings import SettingError, names
from bench.plugins import registry

# `bench run` without --method: the CLEP-DG rows, plus the baselines unless --no-baselines.
DEFAULT = ("clep-dg",)
BASELINES = ("zero-shot", "description-centroid", "linear-probe", "encoder-probe")


def by_state(config) -> dict[bool, list[str]]:
    """The methods computed on each weight state (False: initial weights, True: fine-tuned),
    initial weights first; an unknown method or a missing requirement is a one-line error
    here, before any work."""
    states = [True] if config.finetune and not config.ablation else [False, True] if config.finetune else [False]
    check_method_settings(config)
    check_shots(config)
    plan: dict[bool, list[str]] = {}
    for name in chosen(config):
        method = registry.get("method", name)
        method().prepare(config)
        for state in [False] if method.initial_only else states:
            plan.setdefault(state, []).append(name)
    return dict(sorted(plan.items()))


def chosen(config) -> list[str]:
    """The methods a run computes: ``--method`` when given, else the default rows."""
    if config.methods is not None:
        return list(config.methods)
    return [*DEFAULT, *(BASELINES if config.baselines else ())]


def check_method_settings(config) -> None:
    """Every method setting (``--set <method>.<field>``) checked by its method's own model, before
    any work, and kept as the model reads it; a method that is not installed or has no such
    setting is one line."""
    for method_name, values in config.method_settings.items():
        first = f"{method_name}.{next(iter(values), '')}"
        installed = registry.plugins("method")
        if method_name not in installed or not installed[method_name].ok:
            raise SettingError(
                f"unknown setting {first!r} (settings: {', '.join(names())}; or METHOD.FIELD for a method's own, "
                f"and no method {method_name!r} is installed)"
            )
        method = installed[method_name].obj
        if method.settings_model is None:
            raise SettingError(f"unknown setting {first!r}: method {method_name} has no settings of its own")
        try:
            own = method().own_settings(config)
        except ValidationError as err:
            problem = err.errors()[0]
            field = ".".join(str(p) for p in problem["loc"])
            message = "not a setting" if problem["type"] == "extra_forbidden" else problem["msg"]
            raise SettingError(
                f"setting {method_name}.{field}={problem['input']}: {message[:1].lower()}{message[1:]}"
            ) from None
        # as the model reads them: `--set selm.epochs=3` and `epochs = 3` in a file name one run folder
        config.method_settings[method_name] = own.model_dump(mode="json", exclude_unset=True)


def check_shots(config) -> None:
    """``--shots K`` only where a chosen method adapts to K clips per class (``Method.uses_shots``):
    otherwise it would change nothing but the run folder's name, so it is refused before any work."""
    if not config.shots:
        return
    names = chosen(config)
    if any(registry.get("method", name).uses_shots for name in names):
        return
    users = sorted(n for n, p in registry.plugins("method").items() if p.ok and getattr(p.obj, "uses_shots", False))
    which = f"methods that do: {', '.join(users)}" if users else "no installed method does"
    raise SettingError(
        f"--shots {config.shots}: no method of this run ({', '.join(names)}) uses few-shot clips ({which}); "
        "add one with --method or leave --shots out"
    )
