"""Stage 2, ACPT: acoustic context prompt tuning (text only, no audio).

Each of the 12 soundscapes owns N_p learnable context vectors v^s, initialised N(0, 0.02^2)
and spliced in after the text encoder's start token, followed by the class-name tokens:
u_{s,c} = T([v^s_1..v^s_Np, CLASS_c]). A description t_m that mentions soundscape s_m is
classified against the prompts of its own soundscape, u_{s_m,:} (the paper's losses over the
C classes), or, with ``acpt.target = soundscape-class``, against all S x C prompts with
(s_m, y_m) as its target, so a soundscape's contexts must carry that soundscape; the loss is
L_CLS + L_RANK (see :func:`bench.training.losses.acpt_losses`), summed over descriptions as
the paper writes it. SGD, lr 2e-3, momentum 0.9, 120 iterations over all descriptions at once.
On CPU the iterations run on ``acpt.threads`` threads (default 1: bitwise repeatable; see
:mod:`bench.runtime.threads`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.api import Backbone
from bench.config.settings import ACPTSettings
from bench.runtime.threads import threads
from bench.training.losses import acpt_losses
from bench.util.progress import Progress, silent


def prompt_embeddings(backbone: Backbone, contexts: Tensor, class_words: Sequence[str]) -> Tensor:
    """L2-normalised u_{s,c}, shape ``[S, C, embed_dim]``."""
    return F.normalize(backbone.project_text(backbone.prompt_features(contexts, class_words)), dim=-1)


@dataclass
class Contexts:
    """ACPT's result: the learned context vectors ``[S, N_p, width]``, their initial values, and
    L_CLS and L_RANK at every iteration."""

    learned: Tensor
    initial: Tensor
    l_cls: list[float]
    l_rank: list[float]

    @property
    def loss(self) -> list[float]:
        return [c + r for c, r in zip(self.l_cls, self.l_rank, strict=True)]


def description_scores(prompts: Tensor, descriptions: Tensor, soundscapes: Tensor, target: str) -> Tensor:
    """Cosines of each description to its candidate prompts: ``[M, C]`` against its own
    soundscape's prompts (``class``), or ``[M, S*C]`` against every prompt (``soundscape-class``)."""
    if target == "class":
        return torch.einsum("md,mcd->mc", descriptions, prompts[soundscapes])
    return descriptions @ prompts.reshape(-1, prompts.shape[-1]).T


def description_targets(labels: Tensor, soundscapes: Tensor, n_classes: int, target: str) -> Tensor:
    """The candidate index each description should score highest (see :func:`description_scores`)."""
    return labels if target == "class" else soundscapes * n_classes + labels


def train_contexts(
    backbone: Backbone,
    class_words: Sequence[str],
    description_embeddings: Tensor,
    labels: Tensor,
    soundscapes: Tensor,
    n_soundscapes: int,
    settings: ACPTSettings,
    seed: int,
    progress: Progress = silent,
) -> Contexts:
    """Learn the context vectors.

    ``description_embeddings`` are the L2-normalised joint-space t_m (fixed: the text encoder
    and, during this stage, the projection are frozen; only the contexts move).
    """
    device = description_embeddings.device
    generator = torch.Generator().manual_seed(seed)
    init = torch.randn(n_soundscapes, settings.prompt_length, backbone.context_width, generator=generator)
    initial = (init * settings.init_std).to(device)
    contexts = torch.nn.Parameter(initial.clone())
    optimizer = torch.optim.SGD([contexts], lr=settings.lr, momentum=settings.momentum)
    targets = description_targets(labels, soundscapes, len(class_words), settings.target)
    frozen = [p for p in backbone.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    l_cls_history, l_rank_history = [], []
    try:
        with progress("ACPT", settings.iterations, "iterations") as advance, threads(settings.threads, device):
            for _ in range(settings.iterations):
                prompts = prompt_embeddings(backbone, contexts, class_words)  # [S, C, D]
                similarity = description_scores(prompts, description_embeddings, soundscapes, settings.target)
                l_cls, l_rank = acpt_losses(similarity, targets, settings.temperature, settings.reduction)
                optimizer.zero_grad()
                (l_cls + l_rank).backward()
                optimizer.step()
                l_cls_history.append(l_cls.item())
                l_rank_history.append(l_rank.item())
                advance()
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return Contexts(contexts.detach(), initial, l_cls_history, l_rank_history)
