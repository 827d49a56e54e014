"""Every loss against values computed by hand."""

import math

import pytest
import torch

from bench.training.losses import acpt_losses, arcface_logits, info_nce, objective, sl_gemo_agreement


def test_info_nce_plain_matches_hand_computation():
    audio = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    scale = torch.tensor(0.0)  # exp(0) = 1: logits are the cosines
    # logits rows: [1, 0.6], [0, 0.8]; columns: [1, 0], [0.6, 0.8]
    row = -(math.log(math.e**1 / (math.e**1 + math.e**0.6)) + math.log(math.e**0.8 / (1 + math.e**0.8))) / 2
    col = -(math.log(math.e**1 / (math.e**1 + 1)) + math.log(math.e**0.8 / (math.e**0.6 + math.e**0.8))) / 2
    assert info_nce(audio, text, scale).item() == pytest.approx((row + col) / 2, rel=1e-6)


def test_info_nce_label_aware_spreads_targets_over_same_label_pairs():
    audio = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    scale = torch.tensor(math.log(2.0))  # logits = 2 * cosine
    # rows 0 and 1: logits [2, 2, 0], targets [.5, .5, 0]; row 2: logits [0, 0, 2], target [0, 0, 1]
    log_z01 = math.log(2 * math.e**2 + 1)
    loss01 = -(0.5 * (2 - log_z01) * 2)
    loss2 = -(2 - math.log(2 + math.e**2))
    expected = (2 * loss01 + loss2) / 3  # symmetric matrix: both directions equal
    assert info_nce(audio, text, scale, labels).item() == pytest.approx(expected, rel=1e-6)


def test_acpt_losses_match_hand_computation():
    sim = torch.tensor([[0.9, 0.2, -0.1], [0.3, 0.5, 0.4]])
    labels = torch.tensor([0, 2])
    omega = 0.5
    ce0 = -(0.9 / omega - math.log(sum(math.exp(s / omega) for s in (0.9, 0.2, -0.1))))
    ce1 = -(0.4 / omega - math.log(sum(math.exp(s / omega) for s in (0.3, 0.5, 0.4))))
    rank0 = max(0, 1 - 0.9 + 0.2) + max(0, 1 - 0.9 - 0.1)
    rank1 = max(0, 1 - 0.4 + 0.3) + max(0, 1 - 0.4 + 0.5)
    l_cls, l_rank = acpt_losses(sim, labels, omega)  # summed over descriptions, as the paper writes it
    assert l_cls.item() == pytest.approx(ce0 + ce1, rel=1e-6)
    assert l_rank.item() == pytest.approx(rank0 + rank1, rel=1e-6)
    l_cls, l_rank = acpt_losses(sim, labels, omega, "mean")
    assert l_cls.item() == pytest.approx((ce0 + ce1) / 2, rel=1e-6)
    assert l_rank.item() == pytest.approx((rank0 + rank1) / 2, rel=1e-6)


def test_arcface_adds_angular_margin_to_the_true_class_only():
    features = torch.tensor([[1.0, 0.0]])
    weight = torch.tensor([[2.0, 2.0], [0.0, -3.0]])  # normalised inside: 45 degrees and 90 degrees
    scale, margin = 10.0, 0.3
    logits = arcface_logits(features, weight, torch.tensor([0]), scale, margin)
    assert logits[0, 0].item() == pytest.approx(scale * math.cos(math.pi / 4 + margin), rel=1e-5)
    assert logits[0, 1].item() == pytest.approx(0.0, abs=1e-5)
    inference = arcface_logits(features, weight, None, scale, margin)
    assert inference[0, 0].item() == pytest.approx(scale * math.cos(math.pi / 4), rel=1e-5)


def test_arcface_falls_back_past_pi():
    features = torch.tensor([[1.0, 0.0]])
    weight = torch.tensor([[-1.0, 0.01]])  # theta close to pi: theta + m would wrap around
    margin = 0.5
    logit = arcface_logits(features, weight, torch.tensor([0]), 1.0, margin)[0, 0].item()
    cosine = -1.0 / math.sqrt(1 + 0.01**2)
    assert logit == pytest.approx(cosine - math.sin(math.pi - margin) * margin, rel=1e-5)


# --- GEmo-CLAP objectives on a 4-clip batch ----------------------------------------------
# Clips 0-3: emotions [0, 0, 1, 0], genders [male, female, male, male]; one caption per clip.
AUDIO4 = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [0.8, -0.6]])
TEXT4 = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
EMOTIONS4 = torch.tensor([0, 0, 1, 0])
GENDERS4 = torch.tensor([0, 1, 0, 0])
SCALE4 = torch.tensor(math.log(2.0))  # logits = 2 * cosine


def _hand_soft_nce(audio, text, agreement):
    """Both directions of soft-target InfoNCE written out with math only."""
    n = len(audio)
    logit = [[2 * sum(a * t for a, t in zip(audio[i], text[j])) for j in range(n)] for i in range(n)]

    def direction(rows, weights):
        total = 0.0
        for i in range(n):
            log_z = math.log(sum(math.exp(v) for v in rows[i]))
            norm = sum(weights[i])
            total -= sum(weights[i][j] / norm * (rows[i][j] - log_z) for j in range(n))
        return total / n

    transposed = [[logit[j][i] for j in range(n)] for i in range(n)]
    agreement_t = [[agreement[j][i] for j in range(n)] for i in range(n)]
    return (direction(logit, agreement) + direction(transposed, agreement_t)) / 2


def test_clap_objective_is_the_label_aware_loss():
    same = [[float(a == b) for b in EMOTIONS4.tolist()] for a in EMOTIONS4.tolist()]
    expected = _hand_soft_nce(AUDIO4.tolist(), TEXT4.tolist(), same)
    got = objective("clap", AUDIO4, TEXT4, SCALE4, EMOTIONS4, GENDERS4)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_sl_gemo_soft_targets_weigh_same_gender_pairs_by_one_plus_alpha():
    alpha = 0.5
    agreement = [  # [e_i = e_j] * (1 + alpha * [g_i = g_j]) written out
        [1.5, 1.0, 0.0, 1.5],
        [1.0, 1.5, 0.0, 1.0],
        [0.0, 0.0, 1.5, 0.0],
        [1.5, 1.0, 0.0, 1.5],
    ]
    assert sl_gemo_agreement(EMOTIONS4, GENDERS4, alpha).tolist() == agreement
    expected = _hand_soft_nce(AUDIO4.tolist(), TEXT4.tolist(), agreement)
    got = objective("sl-gemo", AUDIO4, TEXT4, SCALE4, EMOTIONS4, GENDERS4, gender_alpha=alpha)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    plain = objective("clap", AUDIO4, TEXT4, SCALE4, EMOTIONS4, GENDERS4)
    assert got.item() != pytest.approx(plain.item(), rel=1e-4)


def test_ml_gemo_mixes_emotion_and_gender_losses_by_the_weight():
    gender_text = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # male, female prompt embeddings
    weight = 0.3
    emotion = _hand_soft_nce(
        AUDIO4.tolist(), TEXT4.tolist(), [[float(a == b) for b in EMOTIONS4.tolist()] for a in EMOTIONS4.tolist()]
    )
    texts = [gender_text[g].tolist() for g in GENDERS4.tolist()]
    gender = _hand_soft_nce(
        AUDIO4.tolist(), texts, [[float(a == b) for b in GENDERS4.tolist()] for a in GENDERS4.tolist()]
    )
    got = objective(
        "ml-gemo", AUDIO4, TEXT4, SCALE4, EMOTIONS4, GENDERS4, gender_text=gender_text, gender_weight=weight
    )
    assert got.item() == pytest.approx((1 - weight) * emotion + weight * gender, rel=1e-6)


def test_clips_without_gender_fall_back_to_the_plain_objective():
    unknown = torch.full((4,), -1)
    gender_text = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    plain = objective("clap", AUDIO4, TEXT4, SCALE4, EMOTIONS4, unknown).item()
    for name in ("ml-gemo", "sl-gemo"):
        got = objective(name, AUDIO4, TEXT4, SCALE4, EMOTIONS4, unknown, gender_text=gender_text)
        assert got.item() == pytest.approx(plain, rel=1e-6)
    # one clip without gender: its row of the soft targets is the label-aware one
    partly = torch.tensor([0, 1, 0, -1])
    rows = sl_gemo_agreement(EMOTIONS4, partly, 1.0)
    assert rows[3].tolist() == [1.0, 1.0, 0.0, 1.0] and rows[0].tolist() == [2.0, 1.0, 0.0, 1.0]
