"""ssl-clap with tiny random-weight speech encoders of every supported family, saved as hub folders."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tiny_text import bert_dir

from bench.backbones.ssl_clap import PRESETS, SslClap
from bench.cli.checks import check_backbone

SR = 16_000
CONV = dict(
    conv_dim=(16, 16, 16),
    conv_stride=(10, 8, 4),
    conv_kernel=(10, 8, 4),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
)


def _config(family: str):
    from transformers import Data2VecAudioConfig, HubertConfig, Wav2Vec2Config, WavLMConfig, WhisperConfig

    if family == "whisper":
        return WhisperConfig(
            d_model=32,
            encoder_layers=2,
            encoder_attention_heads=2,
            encoder_ffn_dim=64,
            decoder_layers=1,
            decoder_attention_heads=2,
            decoder_ffn_dim=64,
            vocab_size=64,
            num_mel_bins=80,
            max_source_positions=1500,
            max_target_positions=16,
            pad_token_id=1,
            bos_token_id=2,
            eos_token_id=2,
            decoder_start_token_id=3,
        )
    if family == "data2vec-audio":
        return Data2VecAudioConfig(**CONV, conv_pos_kernel_size=5)
    norm = "group" if family in ("wav2vec2", "hubert") else "layer"  # as wav2vec2-base / hubert-base
    cls = {"wav2vec2": Wav2Vec2Config, "hubert": HubertConfig, "wavlm": WavLMConfig}[family]
    return cls(**CONV, feat_extract_norm=norm)


def _extractor(family: str):
    from transformers import Wav2Vec2FeatureExtractor, WhisperFeatureExtractor

    if family == "whisper":
        return WhisperFeatureExtractor()
    masked = family not in ("wav2vec2", "hubert")  # what each official preprocessor_config.json says
    return Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=masked)


FAMILIES = ("wav2vec2", "hubert", "wavlm", "data2vec-audio", "whisper")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    from transformers import AutoModel, BertConfig, BertModel

    root = tmp_path_factory.mktemp("ssl")
    made = {}
    for family in FAMILIES:
        torch.manual_seed(0)
        AutoModel.from_config(_config(family)).save_pretrained(root / family)
        _extractor(family).save_pretrained(root / family)
        made[family] = root / family
    text = bert_dir(root / "text")
    BertModel(BertConfig.from_pretrained(text)).save_pretrained(text)  # bert_dir writes no weights
    made["text"] = text
    return made


def build(folders, family, **options) -> SslClap:
    torch.manual_seed(0)
    return SslClap(audio=str(folders[family]), text=str(folders["text"]), **options).eval()


def speech(seconds: float, seed: int = 0) -> torch.Tensor:
    """A voiced-like signal: a harmonic tone with noise (never an exact zero inside)."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    wave = 0.3 * np.sin(2 * np.pi * 140 * t) + 0.1 * np.sin(2 * np.pi * 420 * t) + 0.02 * rng.standard_normal(len(t))
    return torch.from_numpy(wave.astype(np.float32)) + 1e-4


def batch(*clips: torch.Tensor, length: int | None = None) -> torch.Tensor:
    length = length or max(len(c) for c in clips)
    out = torch.zeros(len(clips), length)
    for row, clip in zip(out, clips):
        row[: len(clip)] = clip
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_shapes_and_joint_space(folders, family, no_network):
    model = build(folders, family)
    with torch.no_grad():
        features = model.audio_features(batch(speech(1.0), speech(0.7, 1)))
        joint = model.project_audio(features)
        text = model.encode_text(["This is a happy sound", "sad"])
    states = model.speech.n_states
    assert features.shape == (2, states * 32) and joint.shape == (2, 512) and text.shape == (2, 512)
    assert torch.isfinite(features).all() and torch.isfinite(text).all()


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("pooling", ["mean", "attentive"])
def test_padding_does_not_change_an_embedding(folders, family, pooling):
    model = build(folders, family, pooling=pooling)
    short, long = speech(0.9), speech(2.3, 1)
    with torch.no_grad():
        alone = model.audio_features(short[None])
        padded = model.audio_features(batch(short, long, length=3 * SR))
    torch.testing.assert_close(padded[0], alone[0], atol=2e-5, rtol=1e-4)


def test_layer_choice_reads_that_hidden_state(folders):
    from transformers import AutoModel, Wav2Vec2FeatureExtractor

    clip = speech(1.2)
    reference = AutoModel.from_pretrained(folders["wavlm"]).eval()
    values = Wav2Vec2FeatureExtractor.from_pretrained(folders["wavlm"])(
        [clip.numpy()], sampling_rate=SR, return_tensors="pt"
    )["input_values"]
    with torch.no_grad():
        hidden = reference(values, output_hidden_states=True).hidden_states
        for layer, index in (("0", 0), ("1", 1), ("last", 2)):
            ours = build(folders, "wavlm", layer=layer).audio_features(clip[None])
            torch.testing.assert_close(ours[0], hidden[index][0].mean(0), atol=1e-5, rtol=1e-4)
        weighted = build(folders, "wavlm")
        every = weighted.audio_features(clip[None])
        mean_of_layers = torch.stack([h[0].mean(0) for h in hidden]).mean(0)  # zero weights: uniform softmax
        torch.testing.assert_close(weighted.speech.combine(every)[0], mean_of_layers, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="layer must be 0..2"):
        build(folders, "wavlm", layer="7")


def test_a_60_second_clip_is_encoded_in_chunks(folders):
    from transformers import AutoModel, Wav2Vec2FeatureExtractor

    model = build(folders, "wavlm", layer="last", chunk_seconds="20")
    seen = []
    model.speech.model.register_forward_pre_hook(lambda _, args: seen.append(args[0].shape[-1]))
    clip = speech(60.0)
    with torch.no_grad():
        ours = model.audio_features(clip[None])
        assert seen == [20 * SR] * 3
        values = Wav2Vec2FeatureExtractor.from_pretrained(folders["wavlm"])([clip.numpy()], sampling_rate=SR)
        values = torch.from_numpy(np.asarray(values["input_values"][0]))  # normalised over the whole minute
        reference = AutoModel.from_pretrained(folders["wavlm"]).eval()
        frames = [reference(part[None]).last_hidden_state[0] for part in values.split(20 * SR)]
    torch.testing.assert_close(ours[0], torch.cat(frames).mean(0), atol=1e-5, rtol=1e-4)

    whisper = build(folders, "whisper", layer="last")
    seen.clear()
    whisper.speech.model.register_forward_pre_hook(lambda _, args: seen.append(tuple(args[0].shape)))
    with torch.no_grad():
        assert torch.isfinite(whisper.audio_features(clip[None])).all()
    assert seen == [(1, 80, 3000)] * 2  # two 30 s windows, one at a time (as many as clips per call)


def test_parameter_groups_follow_pooling_and_training(folders):
    frozen = build(folders, "hubert")
    groups = frozen.parameter_groups()
    assert groups["audio_encoder"] == [] and any(p is frozen.speech.layer_weights for p in groups["heads"])
    attentive = build(folders, "wavlm", pooling="attentive")
    encoder_group = attentive.parameter_groups()["audio_encoder"]
    assert {id(p) for p in attentive.speech.pool.parameters()} | {id(attentive.speech.layer_weights)} == {
        id(p) for p in encoder_group
    }
    attentive.project_audio(attentive.audio_features(batch(speech(0.5), speech(0.8, 1)))).sum().backward()
    assert attentive.speech.layer_weights.grad is not None
    trained = build(folders, "wavlm", train_encoder="true")
    trained_ids = {id(p) for p in trained.parameter_groups()["audio_encoder"]}
    assert trained_ids and not {id(p) for p in trained.speech.model.feature_extractor.parameters()} & trained_ids
    trained.train()
    assert trained.speech.model.training and not trained.text_encoder.training


def test_contract_check_passes(folders):
    results = check_backbone(
        "ssl-clap", {"audio": str(folders["whisper"]), "text": str(folders["text"]), "clip_seconds": "2"}
    )
    failed = [r for r in results if not r[1]]
    assert not failed, failed


def test_missing_folder_is_one_line_naming_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_HUBERT_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError) as err:
        SslClap(preset="emo-clap-hubert")
    message = str(err.value)
    assert "\n" not in message and "BENCH_HUBERT_DIR" in message and "--backbone-opt audio=PATH" in message
    with pytest.raises(ValueError, match="no preset 'nope'.*emo-clap-wavlm"):
        SslClap(preset="nope")


def test_presets_name_their_folders_and_list_explains_them():
    assert {"emo-clap-wavlm", "emo-clap-hubert", "emo-clap-whisper"} <= set(PRESETS)
    for name, spec in PRESETS.items():
        assert spec["audio"]["env_var"].startswith("BENCH_") and spec["text"]["env_var"].startswith("BENCH_"), name
    what = SslClap.required_files()[0].what
    assert "emo-clap-wavlm" in what and "preset=NAME" in what and "emo-clap-hubert" in what


def test_whisper_valid_frames_cover_the_clip(folders):
    model = build(folders, "whisper", layer="last")
    frames = model.speech._encode([speech(1.0).numpy()])[0]
    assert frames.shape[1] == math.ceil(SR / 320)


def test_the_whole_protocol_runs_with_a_gemo_objective(folders, tmp_path):
    from synth_run import run_on_synth

    options = {
        "preset": "emo-clap-wavlm",
        "audio": str(folders["wavlm"]),
        "text": str(folders["text"]),
        "clip_seconds": "2",
    }
    rows = run_on_synth("ssl-clap", options, tmp_path, encoder_trains=False, **{"finetune.objective": "sl-gemo"})
    assert rows["fine-tune + ACPT"].finetune
