"""Stage 1, fine-tune (CLEP): contrastive audio-text training on emotion-labelled audio.

Each clip is paired with ``This is a [EMOTION] sound``. The text encoder is frozen, so the
caption features are computed once and only the text projection trains; the audio encoder
trains at a low learning rate (1e-5) and every other trainable at 1e-3, with Adam and a
learnable temperature, as in the paper.

On CUDA the encoders run under bf16 autocast (:mod:`bench.precision`); the loss is computed
in fp32. Under ``torchrun`` each process embeds its part of every global batch and the loss
sees the whole batch (:mod:`bench.distributed`), so the result is that of one process.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from bench import distributed, precision
from bench.contracts import Backbone
from bench.losses import info_nce
from bench.settings import FinetuneSettings
from bench.stages import Progress, silent

MAX_LOGIT_SCALE = math.log(100.0)


def encoder_trains(backbone: Backbone, settings: FinetuneSettings) -> bool:
    return bool(backbone.parameter_groups()["audio_encoder"]) and settings.audio_lr > 0


def _no_rows(like: Tensor, width: int) -> Tensor:
    """An empty part that still takes part in the backward pass (its gather is collective)."""
    return like.new_zeros(0, width, requires_grad=True)


def finetune(
    backbone: Backbone,
    audio_batch: Callable[[Tensor], Tensor],
    caption_features: Tensor,
    caption_index: Tensor,
    settings: FinetuneSettings,
    seed: int,
    progress: Progress = silent,
) -> list[float]:
    """Train in place; returns the mean loss of each epoch.

    ``audio_batch(indices)`` gives the joint-space audio embeddings of those training clips
    (the caller decides whether that runs the encoder or projects cached features);
    ``caption_index[i]`` is the row of ``caption_features`` that describes clip i.
    """
    groups = backbone.parameter_groups()
    logit_scale = torch.nn.Parameter(
        torch.tensor(math.log(1 / backbone.init_temperature), device=caption_features.device)
    )
    param_groups = [{"params": [*groups["heads"], logit_scale], "lr": settings.head_lr}]
    if encoder_trains(backbone, settings):
        param_groups.append({"params": groups["audio_encoder"], "lr": settings.audio_lr})
    optimizer = torch.optim.Adam(param_groups)
    trained = [p for group in param_groups for p in group["params"]]
    device = caption_features.device
    dtype = precision.autocast_dtype(device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    generator = torch.Generator().manual_seed(seed)
    n = len(caption_index)
    history = []
    backbone.train()
    with progress("fine-tuning", settings.epochs) as advance:
        for _ in range(settings.epochs):
            order = torch.randperm(n, generator=generator)
            losses = []
            for start in range(0, n, settings.batch_size):
                idx = order[start : start + settings.batch_size]
                if len(idx) < 2:
                    continue
                rows = caption_index[idx].to(device)
                with precision.autocast(device, dtype):
                    mine = distributed.part(idx)
                    local = audio_batch(mine) if len(mine) else _no_rows(caption_features, backbone.embed_dim)
                    text = backbone.project_text(caption_features[rows])
                audio = F.normalize(distributed.gather_rows(local.float(), len(idx)), dim=-1)
                text = F.normalize(text.float(), dim=-1)
                labels = rows if settings.loss == "label-aware" else None
                loss = info_nce(audio, text, logit_scale, labels)
                optimizer.zero_grad()
                scaler.scale(loss).backward()
                distributed.average_gradients(trained)
                scaler.step(optimizer)
                scaler.update()
                with torch.no_grad():
                    logit_scale.clamp_(0, MAX_LOGIT_SCALE)
                losses.append(loss.item())
            history.append(sum(losses) / max(1, len(losses)))
            advance()
    backbone.eval()
    return history
