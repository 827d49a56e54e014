"""`bench finetune`: make fine-tuned (CLEP) weights from whole corpora."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli.common import out, user_errors
from bench.cli.switches import run_config
from bench.runtime import distributed


def finetune(
    on: Annotated[str, typer.Option(help="Comma-separated corpora, e.g. iemocap,meld,mead,cmu-mosei.")],
    output: Annotated[Path, typer.Option(help="Checkpoint file to write.")],
    backbone: Annotated[str, typer.Option(help="Backbone plugin name.")] = "mini-clap",
    seed: Annotated[int, typer.Option(help="Seed of the fine-tuning run.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    backbone_opt: Annotated[list[str] | None, typer.Option(help="Backbone setting KEY=VALUE (repeatable).")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="finetune.* settings, e.g. finetune.epochs=10.")
    ] = None,
) -> None:
    """Contrastive fine-tuning on whole corpora; load the result with `bench run --checkpoint`."""
    from bench.protocol.run import finetune_corpora

    with user_errors():
        config = run_config({"backbone": backbone, "device": device, "backbone_opt": backbone_opt, "set_": set_})
        result = finetune_corpora(config, [n.strip() for n in on.split(",") if n.strip()], output, seed)
    distributed.finish()
    if not distributed.is_main():
        return
    out.print(
        f"fine-tuned {backbone} on {', '.join(result['corpora'])} ({result['clips']} clips, "
        f"final loss {result['loss'][-1]:.4f}); skipped {len(result['skipped'])} files",
        highlight=False,
    )
    out.print(f"checkpoint: {result['checkpoint']} (sha256 {result['sha256'][:16]})", highlight=False, soft_wrap=True)
