"""Every loss of the protocol, as plain functions of tensors (unit-tested by hand values)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def info_nce(audio: Tensor, text: Tensor, logit_scale: Tensor, labels: Tensor | None = None) -> Tensor:
    """Symmetric InfoNCE over a batch of L2-normalised audio/text embedding pairs.

    ``labels=None`` is the paper's plain form: pair i is the only positive of row i. With
    labels (label-aware form, our default) every pair sharing the label is a positive and the
    target spreads uniformly over them: in emotion data most texts in a batch are the same
    ``This is a [EMOTION] sound``, and the plain form would push identical texts apart.
    """
    logits = logit_scale.exp() * audio @ text.T
    if labels is None:
        targets = torch.eye(len(audio), device=audio.device)
    else:
        same = (labels[:, None] == labels[None, :]).float()
        targets = same / same.sum(dim=1, keepdim=True)
    loss_audio = -(targets * F.log_softmax(logits, dim=1)).sum(1).mean()
    loss_text = -(targets.T * F.log_softmax(logits.T, dim=1)).sum(1).mean()
    return (loss_audio + loss_text) / 2


def acpt_losses(similarity: Tensor, labels: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """L_CLS and L_RANK of ACPT from cosine similarities ``[M, C]`` of descriptions to prompts.

    L_CLS: cross-entropy of ``sim / temperature`` (the paper's eq. 1 read as a softmax).
    L_RANK: sum over negatives of ``max(0, 1 - sim_pos + sim_neg)`` (eq. 2, single positive).
    Both are averaged over the M descriptions so the scale does not grow with M.
    """
    l_cls = F.cross_entropy(similarity / temperature, labels)
    positive = similarity.gather(1, labels[:, None])
    hinge = (1 - positive + similarity).clamp_min(0)
    negatives = torch.ones_like(similarity).scatter(1, labels[:, None], 0.0)
    l_rank = (hinge * negatives).sum(1).mean()
    return l_cls, l_rank


def arcface_logits(features: Tensor, weight: Tensor, labels: Tensor | None, scale: float, margin: float) -> Tensor:
    """ArcFace (Deng et al., 2019): ``s * cos(theta + m)`` for the true class, ``s * cos`` else.

    Features and class weights are both L2-normalised, so logits are scaled cosines. Without
    labels (inference) no margin is added. Where ``theta + m`` would pass pi the usual
    ``cos(theta) - m sin(m)`` fallback keeps the logit monotonic.
    """
    cosine = F.normalize(features, dim=-1) @ F.normalize(weight, dim=-1).T
    if labels is None:
        return scale * cosine
    sine = (1 - cosine.pow(2)).clamp_min(1e-12).sqrt()
    with_margin = cosine * math.cos(margin) - sine * math.sin(margin)
    with_margin = torch.where(cosine > math.cos(math.pi - margin), with_margin, cosine - math.sin(math.pi - margin) * margin)
    one_hot = F.one_hot(labels, cosine.shape[1]).bool()
    return scale * torch.where(one_hot, with_margin, cosine)
