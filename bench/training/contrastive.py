"""Stage 1, fine-tune (CLEP): contrastive audio-text training on emotion-labelled audio.

Each clip is paired with ``This is a [EMOTION] sound``. The text encoder is frozen, so the
caption features are computed once and only the text projection trains; the audio encoder
trains at a low learning rate (1e-5) and every other trainable at 1e-3, with Adam and a
learnable temperature, as in the paper.

With a frozen audio encoder only the heads train, on cached features: thousands of steps of
a few small matrix products each, so the loop keeps per-step work to those products. The
features stay on the device, each head runs once per step on what differs (the captions'
projection on the few distinct captions, not on every clip's copy), losses are read back
once per epoch, nothing is wrapped for autocast or several processes (every process
computes the same steps, which is what gathering would give it), Adam updates each parameter
in one fused kernel, and on CPU it runs on one thread (:mod:`bench.runtime.threads`).

When the encoder trains, it runs under bf16 autocast on CUDA (:mod:`bench.runtime.precision`) with
the loss in fp32; under ``torchrun`` each process embeds its part of every global batch and
the loss sees the whole batch (:mod:`bench.runtime.distributed`), so the result is that of one process.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.api import Backbone
from bench.config.settings import FinetuneSettings
from bench.runtime import distributed, precision
from bench.runtime.threads import one_thread
from bench.training.losses import objective
from bench.util.progress import Progress, silent

MAX_LOGIT_SCALE = math.log(100.0)
# The loss of one batch: (audio, text, its clips' indices) -> loss, both sides L2-normalised.
BatchLoss = Callable[[Tensor, Tensor, Tensor], Tensor]


def encoder_trains(backbone: Backbone, settings: FinetuneSettings) -> bool:
    return bool(backbone.parameter_groups()["audio_encoder"]) and settings.audio_lr > 0


def _no_rows(like: Tensor, width: int) -> Tensor:
    """An empty part that still takes part in the backward pass (its gather is collective)."""
    return like.new_zeros(0, width, requires_grad=True)


def finetune(
    backbone: Backbone,
    audio: Tensor | Callable[[Tensor], Tensor],
    caption_features: Tensor,
    caption_index: Tensor,
    settings: FinetuneSettings,
    seed: int,
    progress: Progress = silent,
    genders: Tensor | None = None,
    gender_features: Tensor | None = None,
) -> list[float]:
    """Train in place; returns the mean loss of each epoch.

    ``audio`` is either the training clips' cached audio features (frozen encoder: only the
    heads train) or ``audio_batch(indices)``, the joint-space embeddings of those clips from
    the encoder; ``caption_index[i]`` is the row of ``caption_features`` that describes clip i.
    ``genders[i]`` is clip i's index in ``bench.training.losses.GENDERS`` (-1: unknown; None: all
    unknown) and ``gender_features`` the text features of the gender prompts (``ml-gemo``).
    """
    groups = backbone.parameter_groups()
    device = caption_features.device
    logit_scale = torch.nn.Parameter(torch.tensor(math.log(1 / backbone.init_temperature), device=device))
    param_groups = [{"params": [*groups["heads"], logit_scale], "lr": settings.head_lr}]
    if callable(audio) and encoder_trains(backbone, settings):
        param_groups.append({"params": groups["audio_encoder"], "lr": settings.audio_lr})
    optimizer = torch.optim.Adam(param_groups, fused=device.type in ("cpu", "cuda"))
    caption_index = caption_index.to(device)
    n = len(caption_index)
    genders = (torch.full((n,), -1) if genders is None else genders).to(device)
    loss = _batch_loss(backbone, settings, caption_index, genders, gender_features, logit_scale)
    if callable(audio):
        step = _encoder_step(backbone, audio, caption_features, caption_index, loss, logit_scale, optimizer)
    else:
        step = _heads_step(backbone, audio.to(device), caption_features, caption_index, loss, logit_scale, optimizer)
    generator = torch.Generator().manual_seed(seed)
    history = []
    backbone.train()
    heads_only = contextlib.nullcontext() if callable(audio) else one_thread(device)
    with progress("fine-tuning", settings.epochs, "epochs") as advance, heads_only:
        for _ in range(settings.epochs):
            order = torch.randperm(n, generator=generator).to(device)
            batches = [order[start : start + settings.batch_size] for start in range(0, n, settings.batch_size)]
            losses = [step(idx) for idx in batches if len(idx) >= 2]
            history.append(sum(torch.stack(losses).tolist()) / len(losses) if losses else 0.0)
            advance()
    backbone.eval()
    return history


def _batch_loss(
    backbone: Backbone,
    settings: FinetuneSettings,
    caption_index: Tensor,
    genders: Tensor,
    gender_features: Tensor | None,
    logit_scale: Tensor,
) -> BatchLoss:
    """``finetune.objective`` on one batch (:func:`bench.training.losses.objective`)."""

    def loss(audio: Tensor, text: Tensor, idx: Tensor) -> Tensor:
        gender_text = None
        if gender_features is not None:
            gender_text = F.normalize(backbone.project_text(gender_features).float(), dim=-1)
        return objective(
            settings.objective,
            audio,
            text,
            logit_scale,
            caption_index[idx],
            genders[idx],
            plain=settings.loss == "plain",
            gender_weight=settings.gender_weight,
            gender_alpha=settings.gender_alpha,
            gender_text=gender_text,
        )

    return loss


def _update(loss: Tensor, optimizer: torch.optim.Optimizer, logit_scale: Tensor) -> Tensor:
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        logit_scale.clamp_(0, MAX_LOGIT_SCALE)
    return loss.detach()


def _heads_step(
    backbone: Backbone,
    features: Tensor,
    caption_features: Tensor,
    caption_index: Tensor,
    loss: BatchLoss,
    logit_scale: Tensor,
    optimizer: torch.optim.Optimizer,
) -> Callable[[Tensor], Tensor]:
    def step(idx: Tensor) -> Tensor:
        audio = F.normalize(backbone.project_audio(features[idx]), dim=-1)
        text = F.normalize(backbone.project_text(caption_features), dim=-1)[caption_index[idx]]
        return _update(loss(audio, text, idx), optimizer, logit_scale)

    return step


def _encoder_step(
    backbone: Backbone,
    audio_batch: Callable[[Tensor], Tensor],
    caption_features: Tensor,
    caption_index: Tensor,
    loss: BatchLoss,
    logit_scale: Tensor,
    optimizer: torch.optim.Optimizer,
) -> Callable[[Tensor], Tensor]:
    device = caption_features.device
    dtype = precision.autocast_dtype(device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    trained = [p for group in optimizer.param_groups for p in group["params"]]

    def step(idx: Tensor) -> Tensor:
        with precision.autocast(device, dtype):
            mine = distributed.part(idx)
            local = audio_batch(mine) if len(mine) else _no_rows(caption_features, backbone.embed_dim)
            text = backbone.project_text(caption_features[caption_index[idx]])
        audio = F.normalize(distributed.gather_rows(local.float(), len(idx)), dim=-1)
        value = loss(audio, F.normalize(text.float(), dim=-1), idx)
        optimizer.zero_grad()
        scaler.scale(value).backward()
        distributed.average_gradients(trained)
        scaler.step(optimizer)
        scaler.update()
        with torch.no_grad():
            logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        return value.detach()

    return step
