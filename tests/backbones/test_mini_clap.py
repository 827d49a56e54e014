"""mini-clap against its oracle, resemblyzer's own VoiceEncoder, and the soft-prompt contract."""

import numpy as np
import pytest
import torch

from bench.plugins import registry


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


def test_file_path_parity_with_embed_utterance(mini, emodb_root, tmp_path):
    """The official front-end equals ``VoiceEncoder.embed_utterance(preprocess_wav(f))``:
    librosa's loader, volume normalisation, webrtcvad trimming, partial windows over the whole
    utterance; ``paper`` (5 s, zero-padded, no VAD) is another waveform."""
    from real_files import make_files
    from resemblyzer import VoiceEncoder, preprocess_wav

    from bench.audio.frontend import prepare

    encoder = VoiceEncoder("cpu", verbose=False)
    worst, paper = 0.0, 0.0
    for path in make_files(emodb_root, tmp_path):
        official = encoder.embed_utterance(preprocess_wav(path))
        with torch.no_grad():
            for name in ("official", "paper"):
                mini.use_front_end(name)
                mine = mini.audio_features(torch.from_numpy(prepare(path, mini.front_end))[None])[0].numpy()
                if name == "official":
                    worst = max(worst, float(np.abs(mine - official).max()))
                else:
                    paper = max(paper, float(np.abs(mine - official).max()))
    mini.use_front_end("official")
    print(f"mini-clap official: max |diff| {worst:.2e}; paper: {paper:.2e}")
    assert worst <= 1e-5 and paper > 1e-3
