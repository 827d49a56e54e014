"""Contrastive fine-tuning on a pool of corpora, with the fold's leakage guard, and its checkpoints."""

from __future__ import annotations

from pathlib import Path

import torch

from bench.api import Backbone, CheckpointError, DataError, Fold
from bench.config.settings import RunConfig
from bench.data import conditions
from bench.features.embedder import Embedder, encode_clips
from bench.protocol import texts
from bench.protocol.corpus import Corpus
from bench.training.contrastive import finetune
from bench.training.losses import GENDERS
from bench.util.progress import bar


def checkpoint_for(config: RunConfig, fold: Fold, seed: int) -> Path | None:
    if config.checkpoint is None:
        return None
    if config.checkpoint.is_dir():
        path = config.checkpoint / f"{fold.name}-seed{seed}.pt"
        if not path.exists():
            raise CheckpointError(
                f"{config.checkpoint} has no checkpoint for fold {fold.name}, seed {seed} ({path.name})"
            )
        return path
    if not config.checkpoint.is_file():
        raise CheckpointError(f"checkpoint {config.checkpoint} does not exist")
    return config.checkpoint


def train_on_pool(
    backbone: Backbone,
    config: RunConfig,
    pool: list[Corpus],
    evaluated: Corpus,
    fold: Fold,
    embedder: Embedder,
    seed: int,
) -> dict:
    """Fine-tune on the pool (the evaluated corpus limited to the fold's training part)."""
    train_ids = set(fold.train)
    utts, captions = [], []
    words = sorted({w for corpus in pool for w in corpus.words})
    for corpus in pool:
        chosen = [u for u in corpus.utterances if corpus is not evaluated or u.uid in train_ids]
        if set(fold.test) & {u.uid for u in chosen} and corpus is evaluated:
            raise DataError(f"leakage guard: fold {fold.name} test utterances reached fine-tuning")
        for rendered in conditions.for_fold(config.finetune_conditions, chosen, corpus.utterances, fold.test).values():
            chosen += [embedder.by_uid[uid] for uid in embedder.add(rendered)]
        utts += chosen
        captions += [words.index(corpus.words[corpus.classes.index(u.label)]) for u in chosen]
    if not utts:
        raise DataError(f"fold {fold.name}: nothing to fine-tune on (the evaluated corpus has no training part here)")
    kept, features = embedder.features([u.uid for u in utts])
    caption_of = dict(zip([u.uid for u in utts], captions))
    caption_index = torch.tensor([caption_of[u] for u in kept])
    gender_of = {u.uid: u.gender for u in utts}
    genders = torch.tensor([GENDERS.index(gender_of[u]) if gender_of[u] in GENDERS else -1 for u in kept])
    device = next(backbone.parameters()).device
    with torch.no_grad():
        caption_features = backbone.text_features(texts.captions(words))
        ml_gemo = config.finetune_settings.objective == "ml-gemo"
        gender_features = backbone.text_features(texts.gender_captions(GENDERS)) if ml_gemo else None
    if embedder.frozen:
        audio = features.to(device)  # only the heads train, on these cached features
    else:
        clips = [embedder.by_uid[u] for u in kept]
        audio = lambda idx: encode_clips(backbone, [clips[i] for i in idx.tolist()])  # noqa: E731
    torch.manual_seed(seed)
    history = finetune(
        backbone, audio, caption_features, caption_index, config.finetune_settings, seed, bar, genders, gender_features
    )
    without = int((genders < 0).sum())  # these clips trained with the plain objective's terms
    return {"clips": len(kept), "corpora": [c.name for c in pool], "loss": history, "without_gender": without}
