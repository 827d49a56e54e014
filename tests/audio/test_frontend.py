"""Front-ends: the loader rules they reproduce, the switch, the cache key, whole-clip embedding."""

import numpy as np
import pytest
import soundfile as sf
import torch
from tiny_audio import tiny, write_clips

from bench.api import FrontEnd, Utterance
from bench.audio import decoding, frontend
from bench.features.embed import audio_features, preprocessing, waveform


def test_librosa_resampler_keeps_librosa_loads_length(tmp_path):
    """``librosa.load(sr=48000)`` of 2 s at 22.05 kHz has 96001 samples (the ceiling of the
    rate ratio), soxr 96000: with repeat-padding to 10 s that is 4 copies instead of 5."""
    path = tmp_path / "two.wav"
    sf.write(path, 0.5 * np.sin(np.arange(44_100) / 10.0), 22_050)
    librosa_like = FrontEnd("official", 48_000, 480_000, "repeatpad", resampler="librosa")
    soxr_like = FrontEnd("paper", 48_000, 480_000, "repeatpad")
    assert len(frontend.prepare(path, FrontEnd("x", 48_000, None, resampler="librosa"))) == 96_001
    assert len(frontend.prepare(path, FrontEnd("x", 48_000, None))) == 96_000
    assert not np.any(frontend.prepare(path, librosa_like)[4 * 96_001 :])  # silence after 4 copies
    assert np.any(frontend.prepare(path, soxr_like)[4 * 96_000 :])  # a fifth copy


def test_quantise_clips_and_flatten_lays_channels_end_to_end(tmp_path):
    path = tmp_path / "stereo.wav"
    n = 1600  # 0.1 s, the shortest clip (bench.audio.io.MIN_CLIP_SECONDS)
    left, right = np.full(n, 0.25), np.full(n, -0.5)
    sf.write(path, np.stack([left, right], axis=1), 16_000, subtype="FLOAT")
    flat = frontend.prepare(path, FrontEnd("x", 16_000, None, flatten=True))
    assert flat.shape == (2 * n,) and np.allclose(flat[:n], 0.25) and np.allclose(flat[n:], -0.5)
    sf.write(path, np.full(n, 1.2), 16_000, subtype="FLOAT")
    quantised = frontend.prepare(path, FrontEnd("x", 16_000, None, quantise=True))
    assert quantised.max() == np.float32(1.0) and quantised.dtype == np.float32


def test_the_switch_names_its_choices_and_changes_the_cache_key(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    backbone = tiny()
    with pytest.raises(ValueError, match="unknown front_end 'studio'; use one of \\['official', 'paper'\\]"):
        backbone.use_front_end("studio")
    clips = write_clips(tmp_path / "audio", 3)
    official = audio_features(backbone, clips).features
    backbone.use_front_end("paper")
    assert preprocessing(backbone).name == "paper"
    paper = audio_features(backbone, clips).features
    assert not torch.allclose(official, paper)  # not read back from the official front-end's cache space
    spaces = list((tmp_path / "cache").rglob("space.json"))
    assert len(spaces) == 2


def test_whole_clip_front_ends_embed_each_clip_at_its_own_length(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    backbone = tiny()
    monkeypatch.setattr(type(backbone), "official_recipe", {"n_samples": None})
    rng = np.random.default_rng(0)
    clips = []
    for i, frames in enumerate((40, 50, 40, 60)):  # the tiny encoder wants whole 64-sample frames
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, (rng.standard_normal(64 * frames) * 0.1).astype(np.float32), 8000, subtype="FLOAT")
        clips.append(Utterance(f"u{i}", path, "neutral"))
    got = audio_features(backbone, clips, batch_size=3, use_cache=False).features
    with torch.no_grad():
        one_by_one = torch.cat(
            [
                backbone.audio_features(torch.from_numpy(frontend.prepare(u.path, backbone.front_end))[None])
                for u in clips
            ]
        )
    torch.testing.assert_close(got, one_by_one, rtol=0, atol=1e-6)


def test_keep_longer_pads_short_clips_keeps_long_ones_and_batches_by_length(tmp_path, monkeypatch):
    """LAION's fusion front-end: short clips padded as always, longer ones whole (each length its
    own encoder batch), a training waveform still cut to ``clip_seconds``."""
    backbone = tiny()
    monkeypatch.setattr(type(backbone), "official_recipe", {"keep_longer": True})
    rng = np.random.default_rng(1)
    clips = []
    for i, frames in enumerate((40, 64, 80, 96, 80)):
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, (rng.standard_normal(64 * frames) * 0.1).astype(np.float32), 8000, subtype="FLOAT")
        clips.append(Utterance(f"u{i}", path, "neutral"))
    keep = backbone.front_end
    cut = FrontEnd("official", 8000, 4096, keep_longer=False)
    np.testing.assert_array_equal(frontend.prepare(clips[0].path, keep), frontend.prepare(clips[0].path, cut))
    assert [len(frontend.prepare(u.path, keep)) for u in clips] == [4096, 4096, 5120, 6144, 5120]
    assert keep.fitted(4096) == cut and len(waveform(clips[3], backbone)) == 4096
    waves, _ = decoding.decode_batch([decoding.Clip(str(u.path)) for u in clips[:2]], keep)
    assert isinstance(waves, np.ndarray) and waves.shape == (2, 4096)  # no clip longer: one array, as before

    got = audio_features(backbone, clips, batch_size=5, use_cache=False, workers=0).features
    assert backbone.clips_encoded == 5
    with torch.no_grad():
        one_by_one = torch.cat(
            [backbone.audio_features(torch.from_numpy(frontend.prepare(u.path, keep))[None]) for u in clips]
        )
    torch.testing.assert_close(got, one_by_one, rtol=0, atol=1e-6)
