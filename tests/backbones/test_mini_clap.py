"""mini-clap against its oracle, resemblyzer's own VoiceEncoder, and the soft-prompt contract."""

import numpy as np
import pytest
import torch

from bench import registry


@pytest.fixture(scope="module")
def mini(no_network_module):
    torch.manual_seed(0)
    return registry.backbone("mini-clap")


@pytest.fixture(scope="module")
def no_network_module():
    """Construction reads only the wheels' files: any socket use fails."""
    import socket

    original = socket.socket.connect

    def refuse(*args, **kwargs):
        raise AssertionError("mini-clap tried to open a network connection")

    socket.socket.connect = refuse
    yield
    socket.socket.connect = original


def test_audio_encoder_matches_resemblyzer_embed_utterance(mini):
    resemblyzer = pytest.importorskip("resemblyzer", reason="resemblyzer is the GE2E oracle")
    encoder = resemblyzer.VoiceEncoder("cpu", verbose=False)
    rng = np.random.default_rng(0)
    waves = (rng.standard_normal((2, 80000)) * 0.05).astype(np.float32)
    ours = mini.audio_features(torch.from_numpy(waves)).numpy()
    for wave, mine in zip(waves, ours):
        # resemblyzer's preprocessing minus its VAD trimming (documented in backbones/mini_clap.py)
        official = encoder.embed_utterance(resemblyzer.normalize_volume(wave, -30, increase_only=True))
        np.testing.assert_allclose(mine, official, atol=1e-5)


def test_zero_context_prompt_equals_plain_text_and_gradients_reach_only_the_context(mini):
    texts = ["This is a happy sound", "sad"]
    with torch.no_grad():
        plain = mini.text_features(texts)
        empty = mini.prompt_features(torch.zeros(1, 0, mini.context_width), texts)[0]
    torch.testing.assert_close(plain, empty, atol=1e-6, rtol=0)
    context = torch.nn.Parameter(torch.randn(2, 3, mini.context_width) * 0.02)
    mini.zero_grad(set_to_none=True)
    mini.project_text(mini.prompt_features(context, texts)).sum().backward()
    assert context.grad.abs().sum() > 0
    assert all(p.grad is None for p in mini.text_encoder.parameters())
