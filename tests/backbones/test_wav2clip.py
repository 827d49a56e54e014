"""wav2clip against the wav2clip package (random weights in the Wav2CLIP.pt format) and HF CLIP."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_text import clip_text_dir

from bench.api import CheckpointError
from bench.backbones.wav2clip import Wav2Clip

TEXTS = ["This is a happy sound", "sad"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    pytest.importorskip("wav2clip.model.encoder", reason="the oracle is pip wav2clip (test extra)")
    return random_checkpoint(tmp_path_factory.mktemp("wav2clip"))


def random_checkpoint(tmp):
    """A Wav2CLIP.pt with random weights as the package's pre-training saves it, and a CLIP text folder."""
    from wav2clip.model.encoder import MLPLayers, ResNetExtractor

    torch.manual_seed(3)
    encoder = ResNetExtractor(scenario="supervise").encoder
    with torch.no_grad():
        for name, buf in encoder.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.1)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
    state = {f"audio_encoder.{k}": v for k, v in encoder.state_dict().items()}
    state.update({f"audio_transform.{k}": v for k, v in MLPLayers().state_dict().items()})
    state.update({f"image_transform.{k}": v for k, v in MLPLayers().state_dict().items()})
    state["loss_fn_a.logit_scale"] = torch.tensor(2.0)
    ckpt = tmp / "Wav2CLIP.pt"
    torch.save(state, ckpt)
    return ckpt, clip_text_dir(tmp / "clip")


@pytest.fixture(scope="module")
def model(files):
    ckpt, text_dir = files
    return Wav2Clip(checkpoint=str(ckpt), text_dir=str(text_dir))


def test_audio_equals_wav2clip_package(files, model, no_network):
    from wav2clip.model.encoder import ResNetExtractor

    ckpt, _ = files
    official = ResNetExtractor(checkpoint=torch.load(ckpt, weights_only=True), scenario="frozen", transform=True)
    audio = torch.from_numpy(np.random.default_rng(0).uniform(-0.5, 0.5, (2, 16000 * 2)).astype(np.float32))
    audio[1] *= 0.1  # a quiet clip: batch-wide z-scoring would let it shift its batch-mate
    with torch.no_grad():
        ours = model.encode_audio(audio)
        for i in range(2):  # the package embeds one file at a time
            torch.testing.assert_close(ours[i : i + 1], official(audio[i : i + 1]), rtol=1e-4, atol=1e-5)
        assert not torch.allclose(official(audio)[0], official(audio[:1])[0], atol=1e-3)  # the trap we avoid


def test_text_equals_transformers_clip(files, model):
    from transformers import AutoTokenizer, CLIPTextModelWithProjection

    _, text_dir = files
    official = CLIPTextModelWithProjection.from_pretrained(text_dir).eval()
    batch = AutoTokenizer.from_pretrained(text_dir)(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(model.encode_text(TEXTS), official(**batch).text_embeds, rtol=1e-5, atol=1e-5)


def test_soft_prompts(model):
    word = model.tokenizer("very")["input_ids"][1:-1]  # without start and end tokens
    context = model.text_tower.embeddings(torch.tensor([word])).detach()
    with torch.no_grad():
        torch.testing.assert_close(model.prompt_features(context, ["happy"])[0], model.text_features(["very happy"]))
        zero = model.prompt_features(torch.zeros(1, 0, model.context_width), TEXTS)[0]
        torch.testing.assert_close(zero, model.text_features(TEXTS))
    ctx = (0.02 * torch.randn(3, 4, model.context_width)).requires_grad_()
    out = model.project_text(model.prompt_features(ctx, TEXTS))
    assert out.shape == (3, 2, 512)
    out.sum().backward()
    assert ctx.grad.abs().sum() > 0
    assert all(p.grad is None for n, p in model.text_model.named_parameters() if "text_projection" not in n)
    with pytest.raises(ValueError, match="too long"):
        model.prompt_features(torch.zeros(1, 70, model.context_width), ["a much longer text than fits"])


def test_parameter_groups_leave_text_tower_out(model):
    groups = model.parameter_groups()
    tower = {id(p) for p in model.text_model.text_model.parameters()}
    assert len(groups["audio_encoder"]) > 0 and len(groups["heads"]) == 5
    assert not tower & {id(p) for ps in groups.values() for p in ps}


def test_bad_files(tmp_path, files):
    ckpt, text_dir = files
    with pytest.raises(FileNotFoundError, match="Wav2CLIP.pt.*BENCH_WAV2CLIP_CKPT"):
        Wav2Clip(checkpoint=str(tmp_path / "none.pt"), text_dir=str(text_dir))
    state = torch.load(ckpt, weights_only=True)
    del state["audio_encoder.layer4.1.bn2.running_var"]
    torch.save(state, tmp_path / "w.pt")
    with pytest.raises(CheckpointError, match="1 missing.*layer4.1.bn2.running_var"):
        Wav2Clip(checkpoint=str(tmp_path / "w.pt"), text_dir=str(text_dir))
    state = {"audio.conv1.weight": torch.zeros(1)}
    torch.save(state, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="unexpected keys for Wav2CLIP"):
        Wav2Clip(checkpoint=str(tmp_path / "other.pt"), text_dir=str(text_dir))


def tiny_checkpoint(path):
    """A small network in the Wav2CLIP.pt format: the sizes are read back from the shapes."""
    from bench.backbones.wav2clip import MLP, ResNetAudio

    torch.manual_seed(4)
    state = {f"audio_encoder.{k}": v for k, v in ResNetAudio(width=8, blocks=(1, 1, 1, 1)).state_dict().items()}
    state.update({f"audio_transform.{k}": v for k, v in MLP(64, 64, 512).state_dict().items()})
    torch.save(state, path)
    return path


@pytest.mark.slow
def test_bench_run_completes_on_synth(files, tmp_path):
    from synth_run import run_on_synth

    _, text_dir = files
    ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    assert Wav2Clip(checkpoint=str(ckpt), text_dir=str(text_dir)).audio_encoder.out_features == 64
    run_on_synth("wav2clip", {"checkpoint": str(ckpt), "text_dir": str(text_dir)}, tmp_path, encoder_trains=True)


def test_file_path_parity_with_embed_audio(files, model, emodb_root, tmp_path, no_network):
    """The official front-end equals ``wav2clip.embed_audio(librosa.load(f, sr=16000)[0])``: the
    whole clip, librosa's resampler and down-mix; ``paper`` (5 s) is another waveform."""
    import librosa
    import torch.nn.functional as F
    import wav2clip
    from real_files import make_files

    from bench.audio.frontend import prepare

    official = wav2clip.model.encoder.ResNetExtractor(
        checkpoint=torch.load(files[0], weights_only=True), scenario="frozen", transform=True
    )
    worst, paper = 0.0, 0.0
    for path in make_files(emodb_root, tmp_path):
        expected = F.normalize(
            torch.from_numpy(wav2clip.embed_audio(librosa.load(path, sr=16000)[0], official)), dim=-1
        )
        with torch.no_grad():
            for name in ("official", "paper"):
                model.use_front_end(name)
                mine = F.normalize(model.encode_audio(torch.from_numpy(prepare(path, model.front_end))[None]), dim=-1)
                if name == "official":
                    worst = max(worst, float((mine - expected).abs().max()))
                else:
                    paper = max(paper, float((mine - expected).abs().max()))
    model.use_front_end("official")
    print(f"wav2clip official: max |diff| {worst:.2e}; paper: {paper:.2e}")
    assert worst <= 1e-5 and paper > 1e-3
