"""bench.audio.io on the files real corpora contain: decoded by content, or refused with a reason."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest
import soundfile as sf

from bench.audio import io as audio
from bench.audio.io import AudioError


def test_content_not_extension(tmp_path, files):
    aiff = files.wav(tmp_path / "aiff_named.wav", rate=24_414, format="AIFF")
    flac = files.wav(tmp_path / "flac_named.mp3", rate=22_050, format="FLAC")
    m4a = files.container(tmp_path / "aac_named.wav", "ipod", "aac", rate=48_000, channels=2)
    assert audio.decode(aiff)[1] == 24_414
    assert audio.decode(flac)[1] == 22_050
    data, rate = audio.decode(m4a)
    assert rate == 48_000 and data.shape[0] == 2


@pytest.mark.parametrize("fmt,codec", [("mp4", "aac"), ("ipod", "aac"), ("flv", "libmp3lame"), ("mp3", "libmp3lame")])
def test_containers(tmp_path, files, fmt, codec):
    path = files.container(tmp_path / f"clip.{fmt}", fmt, codec, rate=44_100, seconds=0.5)
    wave = audio.load(path, 16_000)
    assert abs(len(wave) / 16_000 - 0.5) < 0.06
    assert 0.2 < np.abs(wave).max() < 0.4  # the 0.3 sine, not garbage


@pytest.mark.parametrize(
    "rate,channels,subtype", [(24_414, 1, "PCM_16"), (96_000, 2, "PCM_24"), (8_000, 1, "PCM_U8"), (44_100, 2, "FLOAT")]
)
def test_rates_channels_and_sample_formats(tmp_path, files, rate, channels, subtype):
    path = files.wav(tmp_path / "x.wav", seconds=0.5, rate=rate, channels=channels, subtype=subtype)
    wave = audio.load(path, 16_000)
    assert wave.ndim == 1 and abs(len(wave) - 8000) <= 2
    assert 0.25 < np.abs(wave).max() < 0.35


def pcm_wav(data_size: int, samples: np.ndarray) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, 16_000, 32_000, 2, 16)
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data_size)
    return b"RIFF" + struct.pack("<I", 0) + body + samples.tobytes()


def test_header_that_claims_no_data_is_read_to_the_end(tmp_path):
    samples = (np.sin(np.arange(16_000) / 5) * 10_000).astype("<i2")
    path = tmp_path / "streamed.wav"
    path.write_bytes(pcm_wav(0, samples))
    assert len(audio.load(path, 16_000)) == 16_000


def test_truncated_wav_keeps_what_is_there(tmp_path, files):
    whole = files.wav(tmp_path / "whole.wav", seconds=1.0).read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole[: len(whole) // 2])
    assert 0.4 < len(audio.load(cut, 16_000)) / 16_000 < 0.6


def test_unusable_files_give_a_reason(tmp_path, files):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "header.wav").write_bytes(pcm_wav(0, np.zeros(0, "<i2")))
    sf.write(tmp_path / "silent.wav", np.zeros(800, np.float32), 16_000)
    (tmp_path / "text.wav").write_text("not audio at all " * 20)
    mp4 = files.container(tmp_path / "clip.mp4", "mp4", "aac").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(mp4[: len(mp4) // 3])
    expected = {
        "empty.wav": "empty file (0 bytes)",
        "header.wav": "no samples (zero-length audio)",
        "silent.wav": "silent (all samples are zero)",
        "text.wav": "not decodable audio",
        "cut.mp4": "not decodable audio",
    }
    for name, reason in expected.items():
        with pytest.raises(AudioError, match="^" + re.escape(reason)):
            audio.load(tmp_path / name, 16_000)
