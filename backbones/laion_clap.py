"""laion-clap: LAION-CLAP (HTSAT-tiny/base or PANN-14 audio, RoBERTa-base text) from official checkpoints.

Front-end as officially: 48 kHz, 10 s clips, repeat-padded, log-mel 1024/480/64 bands
50-14000 Hz; the core pads and cuts (never a random crop). Fusion checkpoints
(``630k-fusion-best.pt`` ...) load too: clips of at most 10 s use the global mel only, longer
ones are kept whole and fused from three 10 s chunks (the first start of each third, where
LAION picks one at random) and the whole mel shrunk to 10 s, as LAION's file path does. Settings: ``checkpoint`` (``BENCH_LAION_CLAP_CKPT``;
default: where ``laion_clap`` itself downloads ``630k-audioset-best.pt``), ``audio_model``
(optional check), ``text_dir`` (RoBERTa-base config + tokenizer; ``BENCH_ROBERTA_DIR`` or the
Hugging Face cache).
"""

from __future__ import annotations

from pathlib import Path

from bench.backbones._laion import LaionFamily, official_download
from bench.backbones._laion_audio import AudioConfig


class LaionClap(LaionFamily):
    name = "laion-clap"
    sample_rate = 48_000
    clip_seconds = 10.0
    pad_mode = "repeatpad"
    official_recipe = {"resampler": "librosa", "quantise": True}  # librosa.load(sr=48000), int16 round trip
    mel_config = AudioConfig("HTSAT")
    checkpoint_env = "BENCH_LAION_CLAP_CKPT"
    checkpoint_what = "a LAION-CLAP checkpoint such as 630k-audioset-best.pt"

    @classmethod
    def default_checkpoint(cls) -> Path | None:
        return official_download("630k-audioset-best.pt")
