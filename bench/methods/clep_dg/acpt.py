"""Stage 2, ACPT: acoustic context prompt tuning (text only, no audio).

Each of the 12 soundscapes owns N_p learnable context vectors v^s, initialised N(0, 0.02^2)
and spliced in after the text encoder's start token, followed by the class-name tokens:
u_{s,c} = T([v^s_1..v^s_Np, CLASS_c]). A description t_m that mentions soundscape s_m is
classified against the prompts of its own soundscape, u_{s_m,:}; the loss is
L_CLS + L_RANK (see :func:`bench.training.losses.acpt_losses`). SGD, lr 2e-3, momentum 0.9,
120 iterations over all descriptions at once. On CPU the iterations run on one thread or
several, whichever a timed iteration each way says is faster (:mod:`bench.runtime.threads`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.api import Backbone
from bench.config.settings import ACPTSettings
from bench.runtime.threads import MeasuredThreads
from bench.training.losses import acpt_losses
from bench.util.progress import Progress, silent


def prompt_embeddings(backbone: Backbone, contexts: Tensor, class_words: Sequence[str]) -> Tensor:
    """L2-normalised u_{s,c}, shape ``[S, C, embed_dim]``."""
    return F.normalize(backbone.project_text(backbone.prompt_features(contexts, class_words)), dim=-1)


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
) -> tuple[Tensor, list[float]]:
    """Learn the context vectors; returns them ``[S, N_p, width]`` and the loss per iteration.

    ``description_embeddings`` are the L2-normalised joint-space t_m (fixed: the text encoder
    and, during this stage, the projection are frozen; only the contexts move).
    """
    device = description_embeddings.device
    generator = torch.Generator().manual_seed(seed)
    init = torch.randn(n_soundscapes, settings.prompt_length, backbone.context_width, generator=generator)
    contexts = torch.nn.Parameter((init * settings.init_std).to(device))
    optimizer = torch.optim.SGD([contexts], lr=settings.lr, momentum=settings.momentum)
    frozen = [p for p in backbone.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    history = []
    try:
        with progress("ACPT", settings.iterations, "iterations") as advance, MeasuredThreads(device) as threads:
            for _ in range(settings.iterations):
                with threads.step():
                    prompts = prompt_embeddings(backbone, contexts, class_words)  # [S, C, D]
                    own = prompts[soundscapes]  # [M, C, D]: prompts of each description's soundscape
                    similarity = torch.einsum("md,mcd->mc", description_embeddings, own)
                    l_cls, l_rank = acpt_losses(similarity, labels, settings.temperature)
                    loss = l_cls + l_rank
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                history.append(loss.item())
                advance()
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return contexts.detach(), history
