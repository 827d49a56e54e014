"""The audio pipeline: worker processes give what the straightforward path gives, in bounded
memory; batches shrink when they do not fit; bf16 autocast (exercised here on CPU)."""

import os

import numpy as np
import pytest
import torch
from tiny_audio import tiny, write_clips

from bench.api import DataError
from bench.audio import decoding
from bench.features.embed import FittingEncoder, audio_features, preprocessing, waveform
from bench.training.contrastive import FinetuneSettings, finetune


@pytest.fixture
def clips(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    return write_clips(tmp_path / "audio", 7)


def test_worker_processes_give_the_straightforward_features(clips):
    backbone = tiny()
    clips[5].path.write_bytes(b"")  # unusable, reported with its reason
    piped = audio_features(backbone, clips, batch_size=2, workers=2, use_cache=False)
    usable = [u for u in clips if u.uid != "u005"]
    with torch.no_grad():
        plain = torch.cat([backbone.audio_features(torch.from_numpy(waveform(u, backbone))[None]) for u in usable])
    assert piped.uids == [u.uid for u in usable]
    assert piped.skipped == [("u005", "clip005.wav: empty file (0 bytes)")]
    torch.testing.assert_close(piped.features, plain, rtol=0, atol=1e-6)


def test_workers_decode_exactly_what_one_process_decodes(clips):
    prep = preprocessing(tiny())
    batches = [[decoding.Clip(str(u.path)) for u in clips[i : i + 3]] for i in range(0, len(clips), 3)]
    streamed = np.concatenate([waves for waves, _ in decoding.stream(batches, prep, workers=2)])
    assert np.array_equal(streamed, np.stack([waveform(u, tiny()) for u in clips]))


def test_at_most_workers_plus_one_batches_are_in_flight(clips):
    prep = preprocessing(tiny())
    pulled = []

    def batches():
        for i in range(len(clips)):
            pulled.append(i)
            yield [decoding.Clip(str(clips[i].path))]

    for consumed, _ in enumerate(decoding.stream(batches(), prep, workers=2), start=1):
        assert len(pulled) <= consumed + 3  # the ones handed out, plus workers + 1 in flight
    assert consumed == len(clips)


def test_a_batch_that_does_not_fit_is_halved_until_it_does(clips):
    backbone = tiny()
    waves = np.stack([waveform(u, backbone) for u in clips])
    real = backbone.audio_features

    def small_memory(batch):
        if len(batch) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(batch)

    backbone.audio_features = small_memory
    encoder = FittingEncoder(backbone, limit=8)
    with torch.no_grad():
        fitted = encoder(waves)
        expected = real(torch.from_numpy(waves)).numpy()
    assert encoder.limit == 2
    np.testing.assert_allclose(fitted, expected, atol=1e-6)


def test_bf16_autocast_is_close_to_fp32_and_cached_apart(clips, monkeypatch):
    backbone = tiny()
    full = audio_features(backbone, clips, workers=0)
    monkeypatch.setenv("BENCH_PRECISION", "bf16")
    encoded = backbone.clips_encoded
    half = audio_features(backbone, clips, workers=0)
    assert backbone.clips_encoded == encoded + len(clips)  # another precision is another cache space
    assert half.features.dtype == torch.float32 and not torch.equal(half.features, full.features)
    torch.testing.assert_close(half.features, full.features, rtol=0, atol=3e-2)


def test_fine_tuning_under_bf16_autocast_keeps_the_loss_in_fp32(clips, monkeypatch):
    def train():
        backbone = tiny(train_encoder=True)
        waves = torch.from_numpy(np.stack([waveform(u, backbone) for u in clips]))
        captions = backbone.text_features(["This is a happy sound", "This is a sad sound"])
        seen = []

        def audio_batch(idx):
            embedded = backbone.encode_audio(waves[idx])
            seen.append(embedded.dtype)
            return embedded

        history = finetune(
            backbone,
            audio_batch,
            captions,
            torch.tensor([0, 1, 0, 1, 0, 1, 0]),
            FinetuneSettings(epochs=3, batch_size=4),
            seed=0,
        )
        return history, seen

    full, full_dtypes = train()
    monkeypatch.setenv("BENCH_PRECISION", "bf16")
    half, half_dtypes = train()
    assert set(full_dtypes) == {torch.float32} and set(half_dtypes) == {torch.bfloat16}
    assert all(np.isfinite(half)) and np.allclose(half, full, atol=5e-2)


def test_decoding_moves_to_workers_only_where_the_measured_first_batch_says_it_pays(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert decoding.choose_workers(0.02, 0.5, 100, cpu_encoder=True) == 0  # cheap WAVs, the encoder needs both cores
    assert decoding.choose_workers(2.0, 0.5, 100, cpu_encoder=True) == 1  # video decoding dominates
    assert decoding.choose_workers(2.0, 0.5, 1, cpu_encoder=True) == 0  # one batch left: not worth a start
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert decoding.choose_workers(0.4, 0.05, 1000, cpu_encoder=False) == 8  # a GPU waits on decoding: all it may


def test_bench_decode_workers_fixes_the_number(monkeypatch):
    monkeypatch.setenv("BENCH_DECODE_WORKERS", "3")
    assert decoding.configured_workers() == 3
    monkeypatch.setenv("BENCH_DECODE_WORKERS", "many")
    with pytest.raises(DataError, match="BENCH_DECODE_WORKERS='many': input should be a valid integer"):
        decoding.configured_workers()
