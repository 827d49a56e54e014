"""The heads-only fine-tune (frozen encoder, cached features) against the general loop."""

import torch
import torch.nn.functional as F

from bench.plugins import registry
from bench.training.contrastive import FinetuneSettings, finetune

WORDS = ["angry", "happy", "sad", "neutral"]


def heads_run(backbone, features, captions, index, settings, *, through_encoder_path):
    backbone.load_trainable_state(initial_state(backbone))
    audio = (lambda idx: backbone.project_audio(features[idx])) if through_encoder_path else features
    history = finetune(backbone, audio, captions, index, settings, seed=3)
    return history, {k: v.clone() for k, v in backbone.trainable_state().items()}


_INITIAL = {}


def initial_state(backbone):
    return _INITIAL.setdefault(id(backbone), {k: v.clone() for k, v in backbone.trainable_state().items()})


def test_heads_only_fine_tune_matches_the_general_loop_and_repeats_exactly():
    torch.manual_seed(0)
    backbone = registry.backbone("mini-clap").eval()
    features = F.normalize(torch.randn(150, 256), dim=-1)  # 150 clips: the last batch of 22 is partial
    index = torch.randint(0, len(WORDS), (150,))
    with torch.no_grad():
        captions = backbone.text_features([f"This is a {w} sound" for w in WORDS])
    for loss in ("label-aware", "plain"):
        settings = FinetuneSettings(epochs=6, loss=loss)
        fast, fast_state = heads_run(backbone, features, captions, index, settings, through_encoder_path=False)
        general, general_state = heads_run(backbone, features, captions, index, settings, through_encoder_path=True)
        again, again_state = heads_run(backbone, features, captions, index, settings, through_encoder_path=False)
        assert len(fast) == 6 and fast[-1] < fast[0]
        assert max(abs(a - b) for a, b in zip(fast, general)) < 1e-5
        for key, weights in fast_state.items():  # Adam divides by sqrt(v): round-off in a near-zero
            apart = (weights - general_state[key]).abs()  # gradient can move a rare weight visibly
            moved = (weights - initial_state(backbone)[key]).abs().max()
            assert (apart > 1e-5).float().mean() < 1e-3 and apart.max() < 0.02 * moved, key
        assert fast == again and all(torch.equal(fast_state[k], again_state[k]) for k in fast_state)
