"""Which methods a run computes, and on which weight states."""

from __future__ import annotations

from bench.plugins import registry

# `bench run` without --method: the CLEP-DG rows, plus the baselines unless --no-baselines.
DEFAULT = ("clep-dg",)
BASELINES = ("zero-shot", "linear-probe", "encoder-probe")


def by_state(config) -> dict[bool, list[str]]:
    """The methods computed on each weight state (False: initial weights, True: fine-tuned),
    initial weights first; an unknown method or a missing requirement is a one-line error
    here, before any work."""
    states = [True] if config.finetune and not config.ablation else [False, True] if config.finetune else [False]
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
