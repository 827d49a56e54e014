"""The protocol: the same four stages for every backbone, over folds x seeds.

Data flows one way: corpus -> utterances -> waveforms -> audio features -> stages -> result
record. For each seed and fold the backbone starts from the same weights; the fine-tune
stage (when on) trains on the fine-tuning corpora, where the evaluated corpus contributes
only the fold's training part (leakage guard: fold-aware fine-tuning, one fine-tune per
fold and seed, so its cost is folds x seeds fine-tunes). Every stage-ablation row
(none / ACPT / fine-tune / both) is then evaluated from the same two weight states,
because ACPT and the classifier use text only.

Use from Python::

    from bench.protocol.run import run
    from bench.config.settings import RunConfig
    record = run(RunConfig(backbone="mini-clap", dataset="synth", seeds=1))
    print(record.main_row())
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import torch

from bench.api import DataError, Fold
from bench.config.settings import RunConfig, check_backbone_settings, resolve_device
from bench.data import emobox
from bench.features.embedder import Embedder
from bench.plugins import registry
from bench.protocol.corpus import Corpus, finetune_pool
from bench.protocol.finetune import checkpoint_for, train_on_pool
from bench.protocol.plan import by_state, chosen
from bench.protocol.units import Model, run_unit, set_aside
from bench.results import records, soundscape
from bench.results.schema import Record, Unit
from bench.runtime import distributed
from bench.training.contrastive import encoder_trains
from bench.util import fileio
from bench.util.progress import console, log_lines


def run(config: RunConfig) -> Record:
    """Run the protocol and write the result record; returns the record.

    A run is a set of units (seed x fold x weight state), each recorded atomically in the
    run directory, whose name derives from the config, the data and the backbone's
    fingerprint: running the same command again after a crash or a kill finishes only the
    missing units and gives the same record. When no unit is missing the backbone is never
    built, so re-running a finished run (to print its table) takes seconds.
    """
    started = time.time()
    device = resolve_device(config.device)
    backbone_cls = registry.get("backbone", config.backbone)
    check_backbone_settings(config, backbone_cls)
    if config.protocol in emobox.PROTOCOLS:
        corpus = Corpus.on_emobox(config)
    else:
        corpus = Corpus.load(config.dataset, config.data_root)
    protocol, folds = corpus.folds(config.protocol)
    pool = (
        finetune_pool(config, corpus) if config.checkpoint is None and (config.finetune or config.finetune_on) else []
    )
    if config.checkpoint is not None and config.checkpoint.is_file():
        records.guard_checkpoint(config.checkpoint, corpus.name)
    for seed in range(config.seeds) if config.finetune else ():  # a missing one fails now, before any folder exists
        for fold in folds:
            checkpoint_for(config, fold, seed)
    states = by_state(config)
    method_classes = [registry.get("method", name) for name in chosen(config)]
    fingerprint = records.backbone_fingerprint(backbone_cls, config.backbone_options)
    code = records.code_identity(backbone_cls, method_classes)
    run_dir = records.run_dir(
        config, fingerprint, records.corpus_fingerprint(corpus.utterances), str(device), code["hash"]
    )

    plan = [(seed, fold, tuned) for seed in range(config.seeds) for fold in folds for tuned in states]
    paths = [
        run_dir / "units" / f"seed{seed}-{fold.name}-{'finetuned' if tuned else 'initial'}.json"
        for seed, fold, tuned in plan
    ]
    units = distributed.from_main(lambda: finished_units(config, plan, paths, run_dir))
    recorded = {unit.initial_weights for unit in units if unit is not None}
    model = None
    todo = [i for i, unit in enumerate(units) if unit is None]
    with log_lines("run", len(todo), "units") as unit_done:  # the stages show their own bars
        for i in todo:
            (seed, fold, tuned), path = plan[i], paths[i]
            if model is None:
                model = Model.build(config, device, fingerprint, corpus, pool)
                foreign = recorded - {model.initial_id}
                if foreign:
                    raise DataError(
                        f"{run_dir}: finished units there came from other initial weights ({', '.join(sorted(foreign))}) than "
                        f"this backbone's ({model.initial_id}), changed in a way its fingerprint does not show; "
                        "move the folder away or give another --output"
                    )
            unit = run_unit(model, config, corpus, pool, fold, seed, tuned, run_dir, states[tuned])
            units[i] = distributed.broadcast(unit)  # the main process knows the checkpoint hashes
            if distributed.is_main():
                units[i].write(path)
            unit_done()

    finished = run_dir / "record.json"
    if model is None:  # nothing was computed: the record on disk is this run's, with its own date and timings
        record = distributed.from_main(lambda: finished_record(finished, run_dir))
        if record is not None:
            return record
    skipped = corpus.skipped + sorted({(f, r) for unit in units for f, r in unit.skipped})
    if skipped:
        console.print(f"[yellow]skipped {len(skipped)} unusable files[/] (listed in the record)")
    record = records.build(
        config=config,
        code=code,
        backbone=backbone_cls,
        fingerprint=fingerprint,
        initial_weights=model.initial_id if model else units[0].initial_weights,
        corpus=corpus,
        protocol=protocol,
        folds=folds,
        units=[row for unit in units for row in unit.rows],
        finetunes=[unit.trained for unit in units if unit.trained],
        checkpoints={k: v for unit in units for k, v in unit.checkpoints.items()},
        skipped=skipped,
        seconds=time.time() - started,
        device=str(device),
        stage_seconds=[unit.seconds for unit in units],
        diagnostics=[unit.diagnostics for unit in units],
        conditions=soundscape.record_part(
            config.test_conditions, config.finetune_conditions, [row for unit in units for row in unit.condition_rows]
        )
        if config.test_conditions
        else None,
    )
    if distributed.is_main():
        record.write(finished)
    record.path = finished
    return record


def finished_units(config: RunConfig, plan: list, paths: list[Path], run_dir: Path) -> list[Unit | None]:
    """The units on disk, None where one is still to compute: missing, or damaged (unreadable,
    its digest not matching, or its own checkpoint cut short), which is then set aside."""
    units = []
    for (seed, fold, tuned), path in zip(plan, paths):
        unit = None
        if path.is_file():
            try:
                unit = Unit.read(path)
            except DataError as err:
                set_aside(path, run_dir, str(err))
        own = run_dir / "checkpoints" / f"{fold.name}-seed{seed}.pt"
        if unit is not None and tuned and checkpoint_for(config, fold, seed) is None and own.is_file():
            problem = records.checkpoint_problem(own)
            if problem is not None:  # the unit is whole, but its weights are what `--checkpoint <run>` loads
                set_aside(own, run_dir, problem)
                unit = None
        units.append(unit)
    return units


def finished_record(path: Path, run_dir: Path) -> Record | None:
    """The finished run's record, or None: absent, or damaged (set aside, and written again from the units)."""
    if not path.is_file():
        return None
    try:
        return Record.read(path)
    except DataError as err:
        set_aside(path, run_dir, str(err))
        return None


def finetune_corpora(config: RunConfig, corpora: Sequence[str], output: Path, seed: int = 0) -> dict:
    """Fine-tune on whole corpora (no fold held out) and save one checkpoint.

    This is how the paper's CLEP weights are made (IEMOCAP, MELD, MEAD, CMU-MOSEI), to be
    evaluated with ``bench run --checkpoint`` on corpora it never saw; the checkpoint records
    its corpora so the leakage guard can refuse evaluating it on one of them.
    """
    device = resolve_device(config.device)
    check_backbone_settings(config, registry.get("backbone", config.backbone))
    pool = [Corpus.load(name) for name in corpora]
    torch.manual_seed(0)
    backbone = registry.backbone(config.backbone, **config.backbone_options).to(device).eval()
    frozen = not encoder_trains(backbone, config.finetune_settings)
    embedder = Embedder(backbone, [u for c in pool for u in c.utterances], frozen)
    everything = Fold("all", (), ())
    info = train_on_pool(backbone, config, pool, None, everything, embedder, seed)
    if distributed.is_main():
        records.save_checkpoint(output, backbone, config, info, None)
    sha256 = distributed.from_main(lambda: fileio.sha256(output))
    return {**info, "checkpoint": str(output), "sha256": sha256, "skipped": embedder.skipped}
