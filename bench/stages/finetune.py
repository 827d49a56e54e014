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
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from bench import distributed, precision
from bench.contracts import Backbone
from bench.losses import OBJECTIVES, objective
from bench.progress import bar

MAX_LOGIT_SCALE = math.log(100.0)


@dataclass
class FinetuneSettings:
    epochs: int = 80
    batch_size: int = 64
    audio_lr: float = 1e-5
    head_lr: float = 1e-3
    loss: str = "label-aware"  # or "plain" (the paper's literal form)
    objective: str = "clap"  # or GEmo-CLAP's "ml-gemo" / "sl-gemo" (bench.losses.objective)
    gender_weight: float = 0.2  # ml-gemo: share of the gender loss
    gender_alpha: float = 1.0  # sl-gemo: extra weight of same-emotion pairs of the same gender

    def __post_init__(self) -> None:
        if self.loss not in ("label-aware", "plain"):
            raise ValueError(f"finetune.loss must be 'label-aware' or 'plain', not {self.loss!r}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"finetune.objective must be one of {', '.join(OBJECTIVES)}, not {self.objective!r}")
        if not 0 <= self.gender_weight <= 1 or self.gender_alpha < 0:
            raise ValueError("finetune.gender_weight must lie in [0, 1] and finetune.gender_alpha be >= 0")


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
    genders: Tensor | None = None,
    gender_features: Tensor | None = None,
) -> list[float]:
    """Train in place; returns the mean loss of each epoch.

    ``audio_batch(indices)`` gives the joint-space audio embeddings of those training clips
    (the caller decides whether that runs the encoder or projects cached features);
    ``caption_index[i]`` is the row of ``caption_features`` that describes clip i.
    ``genders[i]`` is clip i's index in ``bench.losses.GENDERS`` (-1: unknown; None: all
    unknown) and ``gender_features`` the text features of the gender prompts (``ml-gemo``).
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
    genders = torch.full((n,), -1) if genders is None else genders
    history = []
    backbone.train()
    with bar("fine-tuning", settings.epochs) as advance:
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
                    gender_text = None if gender_features is None else backbone.project_text(gender_features)
                audio = F.normalize(distributed.gather_rows(local.float(), len(idx)), dim=-1)
                text = F.normalize(text.float(), dim=-1)
                loss = objective(
                    settings.objective, audio, text, logit_scale, rows, genders[idx].to(device),
                    plain=settings.loss == "plain", gender_weight=settings.gender_weight,
                    gender_alpha=settings.gender_alpha,
                    gender_text=None if gender_text is None else F.normalize(gender_text.float(), dim=-1),
                )
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
