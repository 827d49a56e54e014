"""Every loss of the protocol, as plain functions of tensors (unit-tested by hand values)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

GENDERS = ("male", "female")  # gender tensors hold the index here, -1 where it is unknown
OBJECTIVES = ("clap", "ml-gemo", "sl-gemo")


def soft_info_nce(audio: Tensor, text: Tensor, logit_scale: Tensor, agreement: Tensor) -> Tensor:
    """Symmetric InfoNCE against soft targets: ``agreement[i, j] >= 0`` says how much pair (i, j) matches.

    Audio i's target over the texts is row i of ``agreement`` normalised to sum to one; text
    j's target over the clips is column j, normalised the same way.
    """
    logits = logit_scale.exp() * audio @ text.T
    to_text = agreement / agreement.sum(dim=1, keepdim=True)
    to_audio = agreement.T / agreement.T.sum(dim=1, keepdim=True)
    loss_audio = -(to_text * F.log_softmax(logits, dim=1)).sum(1).mean()
    loss_text = -(to_audio * F.log_softmax(logits.T, dim=1)).sum(1).mean()
    return (loss_audio + loss_text) / 2


def _same(labels: Tensor) -> Tensor:
    return (labels[:, None] == labels[None, :]).float()


def info_nce(audio: Tensor, text: Tensor, logit_scale: Tensor, labels: Tensor | None = None) -> Tensor:
    """Symmetric InfoNCE over a batch of L2-normalised audio/text embedding pairs.

    ``labels=None`` is the paper's plain form: pair i is the only positive of row i. With
    labels (label-aware form, our default) every pair sharing the label is a positive and the
    target spreads uniformly over them: in emotion data most texts in a batch are the same
    ``This is a [EMOTION] sound``, and the plain form would push identical texts apart.
    """
    agreement = torch.eye(len(audio), device=audio.device) if labels is None else _same(labels)
    return soft_info_nce(audio, text, logit_scale, agreement)


def sl_gemo_agreement(emotions: Tensor, genders: Tensor, alpha: float) -> Tensor:
    """SL-GEmo-CLAP's soft targets (our reading): ``[e_i = e_j] + alpha * [e_i = e_j and g_i = g_j]``.

    Same-emotion pairs are positives as in the label-aware loss; a same-emotion pair of the
    same gender weighs ``1 + alpha`` times as much. The gender term needs both genders known,
    so a row of a clip without gender is the plain label-aware target.
    """
    known = genders >= 0
    same_gender = _same(genders) * (known[:, None] & known[None, :]).float()
    return _same(emotions) * (1 + alpha * same_gender)


def ml_gemo_gender_loss(audio: Tensor, gender_text: Tensor, logit_scale: Tensor, genders: Tensor) -> Tensor | None:
    """ML-GEmo-CLAP's gender task (our reading): label-aware InfoNCE of each clip against the
    embedding of its gender prompt (``gender_text[g]``), over the clips whose gender is known.

    None when fewer than two clips of the batch have a gender (nothing to contrast).
    """
    known = genders >= 0
    if int(known.sum()) < 2:
        return None
    return info_nce(audio[known], gender_text[genders[known]], logit_scale, genders[known])


def objective(
    name: str,
    audio: Tensor,
    text: Tensor,
    logit_scale: Tensor,
    emotions: Tensor,
    genders: Tensor,
    *,
    plain: bool = False,
    gender_text: Tensor | None = None,
    gender_weight: float = 0.2,
    gender_alpha: float = 1.0,
) -> Tensor:
    """The fine-tuning loss named by ``finetune.objective``, for clips of these emotion and gender indices.

    ``clap``: :func:`info_nce` (``plain``: the paper's form, else label-aware). ``ml-gemo``:
    ``(1 - w) * L_emotion + w * L_gender`` with ``w = gender_weight`` (:func:`ml_gemo_gender_loss`). ``sl-gemo``: :func:`soft_info_nce`
    with :func:`sl_gemo_agreement` (always label-aware: soft targets need the labels).
    Clips without gender (-1) fall back to the plain objective's terms.
    """
    if name == "sl-gemo":
        return soft_info_nce(audio, text, logit_scale, sl_gemo_agreement(emotions, genders, gender_alpha))
    emotion = info_nce(audio, text, logit_scale, None if plain else emotions)
    if name == "clap":
        return emotion
    if gender_text is None:
        raise ValueError("the ml-gemo objective needs the gender prompts' text embeddings")
    gender = ml_gemo_gender_loss(audio, gender_text, logit_scale, genders)
    return emotion if gender is None else (1 - gender_weight) * emotion + gender_weight * gender


def acpt_losses(
    similarity: Tensor, labels: Tensor, temperature: float, reduction: str = "sum"
) -> tuple[Tensor, Tensor]:
    """L_CLS and L_RANK of ACPT from cosine similarities ``[M, K]`` of descriptions to their
    candidate prompts (K: the classes, or every soundscape x class).

    L_CLS: cross-entropy of ``sim / temperature`` (the paper's eq. 1 read as a softmax).
    L_RANK: sum over negatives of ``max(0, 1 - sim_pos + sim_neg)`` (eq. 2, single positive).
    ``reduction`` over the M descriptions: ``sum`` as the paper's equations write it, or
    ``mean`` (the same direction, a step M times smaller at the same learning rate).
    """
    l_cls = F.cross_entropy(similarity / temperature, labels, reduction=reduction)
    positive = similarity.gather(1, labels[:, None])
    hinge = (1 - positive + similarity).clamp_min(0)
    negatives = torch.ones_like(similarity).scatter(1, labels[:, None], 0.0)
    per_description = (hinge * negatives).sum(1)
    l_rank = per_description.sum() if reduction == "sum" else per_description.mean()
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
    with_margin = torch.where(
        cosine > math.cos(math.pi - margin), with_margin, cosine - math.sin(math.pi - margin) * margin
    )
    # a comparison, not F.one_hot, which reads the label range back to the host at every step
    true_class = labels[:, None] == torch.arange(cosine.shape[1], device=labels.device)
    return scale * torch.where(true_class, with_margin, cosine)
