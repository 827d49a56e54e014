"""CLEP-DG's diagnostics on embeddings whose answer is known: collapsed text, perfectly
specific prompts, a known modality offset, a known context drift."""

import math

import pytest
import torch
import torch.nn.functional as F

from bench.methods.clep_dg import diagnostics

N_CLASSES, N_SCAPES, DIM = 4, 3, 16


def basis(i: int) -> torch.Tensor:
    return F.one_hot(torch.tensor(int(i)), DIM).float()


def descriptions_grid():
    """One description per (soundscape, class), labels and soundscapes beside them."""
    cells = [(s, c) for s in range(N_SCAPES) for c in range(N_CLASSES)]
    labels = torch.tensor([c for _, c in cells])
    scapes = torch.tensor([s for s, _ in cells])
    return cells, labels, scapes


def test_diagnostic_text_collapse_of_descriptions_that_are_their_captions():
    captions = torch.stack([basis(c) for c in range(N_CLASSES)])
    _, labels, _ = descriptions_grid()
    collapsed = captions[labels]
    figures = diagnostics.text_collapse(collapsed, labels, captions)
    assert figures == {"same_class": 1.0, "different_class": 0.0, "to_caption": 1.0}
    # soundscape wording kept: each description halfway between its caption and its soundscape's axis
    _, _, scapes = descriptions_grid()
    kept = F.normalize(captions[labels] + torch.stack([basis(8 + s) for s in scapes]), dim=-1)
    figures = diagnostics.text_collapse(kept, labels, captions)
    assert figures == {"same_class": 0.5, "different_class": pytest.approx(1 / 6, abs=1e-4), "to_caption": 0.7071}


def test_diagnostic_specificity_of_perfectly_specific_and_of_shared_prompts():
    cells, labels, scapes = descriptions_grid()
    directions = {cell: basis(i) for i, cell in enumerate(cells)}
    prompts = torch.stack([torch.stack([directions[(s, c)] for c in range(N_CLASSES)]) for s in range(N_SCAPES)])
    descriptions = torch.stack([directions[cell] for cell in cells])
    specific = diagnostics.specificity(prompts, descriptions, labels, scapes)
    assert specific["share"] == 1.0 and specific["chance"] == round(1 / N_SCAPES, 4)
    assert specific["matrix"] == [[N_CLASSES if i == j else 0 for j in range(N_SCAPES)] for i in range(N_SCAPES)]
    shared = prompts[:1].expand(N_SCAPES, -1, -1)  # every soundscape gives the same prompts
    assert diagnostics.prompt_similarity(shared) == 1.0
    assert diagnostics.prompt_similarity(prompts) == 0.0
    # ties go to the first soundscape: everything lands in column 0
    assert diagnostics.specificity(shared, descriptions, labels, scapes)["share"] == round(1 / N_SCAPES, 4)


def test_diagnostic_modality_gap_of_audio_at_a_known_offset_from_its_captions():
    captions = torch.stack([basis(c) for c in range(N_CLASSES)])
    audio_labels = torch.arange(8) % N_CLASSES
    audio = F.normalize(captions[audio_labels] + basis(DIM - 1), dim=-1)  # each clip: its caption plus one offset axis
    _, labels, _ = descriptions_grid()
    gap = diagnostics.modality_gap(audio, audio_labels, captions, captions[labels], labels)
    expected = math.sqrt(N_CLASSES * (1 / N_CLASSES * (1 / math.sqrt(2) - 1)) ** 2 + 0.5)
    assert gap["audio_to_caption_offset"] == pytest.approx(expected, abs=1e-4)
    assert gap["own_caption_cosine"] == pytest.approx(1 / math.sqrt(2), abs=1e-4)
    assert gap["other_caption_cosine"] == 0.0 and gap["own_description_cosine"] == pytest.approx(0.7071, abs=1e-4)
    weights = diagnostics.class_weights(captions * 3, captions, audio, audio_labels)
    assert weights["to_caption"] == [1.0] * N_CLASSES
    assert weights["to_audio_centroid"] == [pytest.approx(0.7071, abs=1e-4)] * N_CLASSES


def test_diagnostic_context_drift_against_its_start_and_a_token():
    initial = torch.zeros(N_SCAPES, 2, 8)
    initial[..., 0] = 0.02  # every token starts at norm 0.02
    learned = initial.clone()
    learned[1, :, 1] = 0.5  # soundscape 1 moves each token by 0.5
    drift = diagnostics.context_drift(learned, initial, token_norm=2.0)
    assert drift["per_token"] == [0.0, 0.5, 0.0]
    assert drift["relative_to_init"] == [0.0, 25.0, 0.0]
    assert drift["relative_to_token"] == [0.0, 0.25, 0.0]
    assert diagnostics.context_drift(learned, initial, None)["relative_to_token"] is None


def test_diagnostic_transfer_accuracy_and_pca():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert diagnostics.accuracy(logits, torch.tensor([0, 1, 1])) == 0.6667
    line = {"a": torch.tensor([[0.0, 0.0, 1.0], [2.0, 0.0, 1.0]]), "b": torch.tensor([[4.0, 0.0, 1.0]])}
    points = diagnostics.pca(line)
    xs = [p[0] for p in points["a"] + points["b"]]
    assert [round(x2 - x1, 4) for x1, x2 in zip(xs, xs[1:])] in ([2.0, 2.0], [-2.0, -2.0])  # distances kept
    assert all(abs(p[1]) < 1e-4 for p in points["a"] + points["b"])  # all on the first component
    rows, labels = diagnostics.evenly(torch.arange(10.0)[:, None], torch.arange(10), limit=4)
    assert labels.tolist() == [0, 3, 6, 9] and rows[:, 0].tolist() == [0.0, 3.0, 6.0, 9.0]
