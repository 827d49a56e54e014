"""`bench run`: the whole protocol for one backbone on one dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from bench import distributed
from bench.cli.common import out, user_errors


def parse_pairs(pairs: list[str] | None, flag: str) -> dict[str, str]:
    parsed = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} expects KEY=VALUE, got {pair!r}")
        parsed[key.strip()] = value.strip()
    return parsed


def run(
    backbone: Annotated[str, typer.Option(help="Backbone plugin name (see `bench list`).")] = "mini-clap",
    dataset: Annotated[str, typer.Option(help="Dataset plugin name to evaluate on.")] = "synth",
    data_root: Annotated[Optional[Path], typer.Option(help="Root folder of the evaluated corpus.")] = None,
    protocol: Annotated[Optional[str], typer.Option(help="Fold protocol; default: the dataset's first.")] = None,
    finetune_on: Annotated[
        Optional[str], typer.Option(help="Comma-separated fine-tuning corpora (default: the evaluated one, fold-aware).")
    ] = None,
    seeds: Annotated[Optional[int], typer.Option(min=1, help="Number of seeds 0..N-1 (default 3).")] = None,
    finetune: Annotated[bool, typer.Option(help="Stage 1: contrastive fine-tuning.")] = True,
    acpt: Annotated[bool, typer.Option(help="Stage 2: acoustic context prompt tuning.")] = True,
    classifier: Annotated[bool, typer.Option(help="Stage 3: cross-modal classifier (else nearest prompt).")] = True,
    ablation: Annotated[bool, typer.Option(help="Also report the rows with stages switched off.")] = True,
    baselines: Annotated[bool, typer.Option(help="Also report zero-shot and linear-probe baselines.")] = True,
    prompt_length: Annotated[Optional[int], typer.Option(min=1, help="ACPT tokens per soundscape (paper: 8).")] = None,
    classifier_loss: Annotated[Optional[str], typer.Option(help="arcface (paper) or softmax.")] = None,
    checkpoint: Annotated[
        Optional[Path], typer.Option(help="Fine-tuned weights: a file from `bench finetune`, or a run's checkpoints/ folder.")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    output: Annotated[Path, typer.Option(help="Folder for run directories.")] = Path("runs"),
    profile: Annotated[str, typer.Option(help="paper (defaults of the paper) or quick (fewer seeds, shorter ACPT).")] = "paper",
    backbone_opt: Annotated[Optional[list[str]], typer.Option(help="Backbone setting KEY=VALUE (repeatable).")] = None,
    test_conditions: Annotated[
        Optional[str], typer.Option(help="Acoustic conditions to test under beside clean, e.g. street@5dB,telephone,reverb.")
    ] = None,
    finetune_conditions: Annotated[
        Optional[str], typer.Option(help="Acoustic conditions fine-tuning sees beside clean (paper: none).")
    ] = None,
    set_: Annotated[
        Optional[list[str]], typer.Option("--set", help="Any setting by name, e.g. finetune.epochs=10 (repeatable).")
    ] = None,
) -> None:
    """Run fine-tune -> ACPT -> cross-modal classifier -> evaluate over folds and seeds."""
    from bench import conditions, plots
    from bench import protocol as proto
    from bench import settings
    from bench.catalog import Found
    from bench.tables import run_table

    with user_errors():
        if profile not in settings.PROFILES:
            raise ValueError(f"--profile must be one of {', '.join(settings.PROFILES)}")
        config = settings.RunConfig(
            backbone=backbone, dataset=dataset, data_root=data_root, protocol=protocol,
            finetune_on=[n.strip() for n in finetune_on.split(",") if n.strip()] if finetune_on else None,
            finetune=finetune, acpt=acpt, classifier=classifier, ablation=ablation,
            baselines=baselines, checkpoint=checkpoint, device=device, output=output, profile=profile,
            backbone_options=parse_pairs(backbone_opt, "--backbone-opt"),
            test_conditions=[c.name for c in conditions.parse_list(test_conditions or "") if c.steps],
            finetune_conditions=[c.name for c in conditions.parse_list(finetune_conditions or "") if c.steps],
        )
        overrides = dict(settings.PROFILES[profile])
        if seeds is not None:
            overrides["seeds"] = seeds
        if prompt_length is not None:
            overrides["acpt.n_tokens"] = prompt_length
        if classifier_loss is not None:
            overrides["classifier.loss"] = classifier_loss
        overrides.update(parse_pairs(set_, "--set"))
        config.apply(overrides)
        record = proto.run(config)
    distributed.finish()
    if not distributed.is_main():
        return
    out.print(run_table(record))
    if record.get("conditions"):
        from bench import soundscape
        from bench.render import rich_table

        out.print(rich_table(soundscape.table([Found(Path(record["path"]), record)])))
    path = Path(record["path"])
    plot = plots.confusion(Found(path, record), path.parent / "confusion.png")
    out.print(f"record: {path}", highlight=False, soft_wrap=True)
    out.print(f"confusion matrix of the main row: {plot}", highlight=False, soft_wrap=True)
