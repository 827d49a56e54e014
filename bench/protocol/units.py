"""One unit of a run (seed x fold x weight state) and the built model the units share.

The backbone is built once per process and reset to its initial trainable state for each
unit, so sweep trials in one process load the weights once; what its frozen encoders give
(audio features, description and caption text features) is kept with it for later runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.markup import escape

from bench.api import Backbone, CheckpointError, Fold
from bench.config.settings import RunConfig
from bench.features.embedder import Embedder
from bench.plugins import registry
from bench.protocol.corpus import Corpus
from bench.protocol.finetune import checkpoint_for, train_on_pool
from bench.protocol.rows import evaluate_state
from bench.protocol.texts import TextFeatures
from bench.results import records
from bench.results.schema import Row, Unit
from bench.runtime import distributed
from bench.training.contrastive import encoder_trains
from bench.util import fileio
from bench.util.progress import console

_BUILT: dict[tuple, tuple[Backbone, dict, str]] = {}
_SHARED: dict[tuple, Embedder | TextFeatures] = {}  # frozen-encoder outputs of the built backbone, kept for later runs


@dataclass
class Model:
    """The built backbone, its initial trainable state and what the stages share."""

    backbone: Backbone
    initial: dict
    initial_id: str
    embedder: Embedder
    text: TextFeatures
    kept: dict = field(default_factory=dict)  # what methods reuse across units (bench.api.FoldInput.kept)
    seconds: dict[str, float] = field(default_factory=dict)  # per stage, of the unit being computed

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started

    @classmethod
    def build(
        cls, config: RunConfig, device: torch.device, fingerprint: str, corpus: Corpus, pool: list[Corpus]
    ) -> Model:
        """The backbone as built with torch seed 0; built once per process and reused in its
        initial state (sweep trials in one process load the weights once)."""
        key = (config.backbone, fingerprint, str(device))
        if key not in _BUILT:
            _BUILT.clear()
            _SHARED.clear()
            torch.manual_seed(0)
            backbone = registry.backbone(config.backbone, **config.backbone_options).to(device).eval()
            _BUILT[key] = (backbone, backbone.trainable_state(), backbone.weights_id())
        backbone, initial, initial_id = _BUILT[key]
        backbone.load_trainable_state(initial)
        backbone.eval()
        frozen = not encoder_trains(backbone, config.finetune_settings)
        everything = list({u.uid: u for c in [corpus, *pool] for u in c.utterances}.values())
        audio = ("audio", frozen, records.corpus_fingerprint(everything))
        text = ("text", tuple(corpus.words))
        return cls(
            backbone,
            initial,
            initial_id,
            _SHARED.setdefault(audio, Embedder(backbone, everything, frozen)),
            _SHARED.setdefault(text, TextFeatures(backbone, corpus.words)),
        )


def set_aside(path: Path, run_dir: Path, why: str) -> None:
    """A damaged file of the run's own (unit, checkpoint, record) reported in one line and moved
    into ``<run>/damaged/``, so that the command computes it again; called by the main process."""
    moved = fileio.set_aside(path, run_dir / "damaged")
    why = " ".join(why.split())
    console.print(
        f"[yellow]damaged:[/] {escape(why)}; moved to {escape(str(moved))}, computed again",
        highlight=False,
        soft_wrap=True,
        emoji=False,
    )


def own_checkpoint(path: Path, backbone: Backbone, run_dir: Path) -> dict | None:
    """The run's own checkpoint at ``path`` (a unit killed after saving it), or None: absent, or
    unreadable (set aside, so it is fine-tuned again). The main process decides for all."""
    payload = None

    def readable() -> bool:
        nonlocal payload
        if not path.is_file():
            return False
        try:
            payload = records.load_checkpoint(path, backbone)
        except CheckpointError as err:
            set_aside(path, run_dir, str(err))
            return False
        return True

    if not distributed.from_main(readable):
        return None
    return payload if payload is not None else records.load_checkpoint(path, backbone)


def run_unit(
    model: Model,
    config: RunConfig,
    corpus: Corpus,
    pool: list[Corpus],
    fold: Fold,
    seed: int,
    tuned: bool,
    run_dir: Path,
    methods: Sequence[str],
) -> Unit:
    """One weight state of one fold and seed: fine-tune (or load) if tuned, then every row.

    Under torchrun every process computes the unit (fine-tuning and embedding are split
    between them); only the main one writes checkpoints and knows their hashes.
    """
    backbone, embedder = model.backbone, model.embedder
    backbone.load_trainable_state(model.initial)
    model.seconds = {}
    with model.timed("embedding"):
        embedder.prepare()
    trained, checkpoints = None, {}
    if tuned:
        key = f"{fold.name}-seed{seed}"
        source = checkpoint_for(config, fold, seed)  # the user's: a broken one is an error
        own = run_dir / "checkpoints" / f"{key}.pt"
        payload = records.load_checkpoint(source, backbone) if source is not None else None
        if source is None:  # killed after saving its own: the weights are done, unless damaged since
            payload = own_checkpoint(own, backbone, run_dir)
            source = own if payload is not None else None
        if source is not None:
            backbone.load_trainable_state(payload["state"])
            if source == own:
                trained = {"seed": seed, "fold": fold.name, **payload["trained_on"]}
        else:
            with model.timed("finetune"):
                info = train_on_pool(backbone, config, pool, corpus, fold, embedder, seed)
            if distributed.is_main():
                records.save_checkpoint(own, backbone, config, info, fold)
            source = own
            trained = {"seed": seed, "fold": fold.name, **info}
        checkpoints[key] = fileio.sha256(source) if distributed.is_main() else None
    rows, figures = evaluate_state(model, config, corpus, pool, fold, seed, tuned, methods)
    rows = [Row.model_validate(row) for row in rows]
    return Unit(
        seed=seed,
        fold=fold.name,
        finetuned=tuned,
        rows=[row for row in rows if row.condition is None],
        condition_rows=[row for row in rows if row.condition],
        trained=trained,
        diagnostics=figures,
        checkpoints=checkpoints,
        skipped=embedder.skipped,
        initial_weights=model.initial_id,
        seconds={k: round(v, 2) for k, v in model.seconds.items()},
    )
