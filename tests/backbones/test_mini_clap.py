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


# --- text_head: the text projection an option chooses (issue 25) -------------------------------


@pytest.fixture(scope="module")
def frozen_head(no_network_module):
    torch.manual_seed(0)
    return registry.backbone("mini-clap", text_head="orthogonal-frozen")


def test_text_head_orthogonal_frozen_has_orthonormal_rows_and_is_the_same_on_every_construction(frozen_head):
    from bench.backbones.mini_clap import FrozenProjection

    weight = frozen_head.text_head.weight
    assert weight.shape == (frozen_head.embed_dim, frozen_head.text_encoder.config.hidden_size)
    torch.testing.assert_close(weight @ weight.T, torch.eye(weight.shape[0]), atol=1e-5, rtol=0)
    torch.manual_seed(123)  # the global generator has no say in it
    assert torch.equal(FrozenProjection(*weight.shape[::-1]).weight, weight)


def test_text_head_orthogonal_frozen_trains_nothing_and_checkpoints_only_the_audio_head(frozen_head):
    assert list(frozen_head.text_head.parameters()) == []
    groups = frozen_head.parameter_groups()
    assert {id(p) for p in groups["heads"]} == {id(p) for p in frozen_head.audio_head.parameters()}
    assert groups["audio_encoder"] == []
    state = frozen_head.trainable_state()
    assert state and all(key.startswith("audio_head.") for key in state)
    frozen_head.load_trainable_state(state)  # round trip: the frozen matrix is neither saved nor expected
    assert not any(key.startswith("text_head.") for key in frozen_head.state_dict())


def test_text_head_orthogonal_frozen_keeps_minilm_cosines(frozen_head):
    """The projection's rows span a 256-dim subspace of MiniLM's 384: within it (features
    projected onto the row space) cosines are kept exactly; the whole features keep their
    inner products up to what the truncation drops."""
    texts = ["a happy voice recorded in a phone call", "sad speech heard in a noisy cafe", "This is a fear sound"]
    with torch.no_grad():
        features = frozen_head.text_features(texts)
        projected = frozen_head.project_text(features)
    weight = frozen_head.text_head.weight
    in_span = features @ weight.T @ weight  # the part of each feature the rows see
    torch.testing.assert_close(projected @ projected.T, in_span @ in_span.T, atol=1e-5, rtol=0)
    torch.testing.assert_close(projected.norm(dim=1), in_span.norm(dim=1), atol=1e-5, rtol=0)
    assert (projected.norm(dim=1) <= features.norm(dim=1) + 1e-5).all()


def test_text_head_linear_starts_orthogonal_and_trains(no_network_module):
    torch.manual_seed(0)
    model = registry.backbone("mini-clap", text_head="linear")
    weight = model.text_head.weight
    torch.testing.assert_close(weight @ weight.T, torch.eye(weight.shape[0]), atol=1e-5, rtol=0)
    assert model.text_head.bias is None and weight.requires_grad
    assert {k for k in model.trainable_state() if k.startswith("text_head.")} == {"text_head.weight"}


def test_text_head_is_part_of_the_backbone_identity():
    from bench.backbones.mini_clap import MiniClap
    from bench.results.records import backbone_fingerprint

    assert "text_head" in MiniClap.options()
    prints = {backbone_fingerprint(MiniClap, {"text_head": h}) for h in ("mlp", "linear", "orthogonal-frozen")}
    assert len(prints) == 3


def test_text_head_bad_value_is_a_one_line_error_naming_the_choices():
    from bench.api import DataError

    with pytest.raises(DataError) as err:
        registry.backbone("mini-clap", text_head="frozen")
    assert str(err.value) == "--backbone-opt text_head=frozen: choose mlp, linear or orthogonal-frozen"


def test_text_head_bad_value_on_the_command_line_is_one_red_line(emodb_root, tmp_path):
    from typer.testing import CliRunner

    from bench.cli import app

    result = CliRunner().invoke(
        app,
        [
            "run",
            "--dataset",
            "emodb",
            "--data-root",
            str(emodb_root),
            "--output",
            str(tmp_path),
            "--backbone-opt",
            "text_head=mpl",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 2, result.output
    assert result.output.strip() == "error: --backbone-opt text_head=mpl: choose mlp, linear or orthogonal-frozen"
