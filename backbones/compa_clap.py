"""compa-clap: CompA-CLAP, HTSAT-tiny with feature fusion and a Flan-T5-large text encoder.

Weights are not public; a LAION-format checkpoint is expected (``text_branch.*`` holding a
T5 encoder, ``text_projection`` a 1024->512->512 MLP), with the text embedding the mean of the
T5 encoder's output over all 77 positions. Settings: ``checkpoint``
(``BENCH_COMPA_CLAP_CKPT``), ``audio_model`` (optional check), ``text_dir`` (Flan-T5-large
config + tokenizer; ``BENCH_FLAN_T5_DIR`` or the Hugging Face cache).
"""

from __future__ import annotations

from bench.backbones._laion import FLAN_T5, LaionFamily
from bench.backbones._laion_audio import AudioConfig


class CompaClap(LaionFamily):
    name = "compa-clap"
    sample_rate = 48_000
    clip_seconds = 10.0
    pad_mode = "repeatpad"
    official_recipe = {"resampler": "librosa", "quantise": True}  # LAION's loader
    text = FLAN_T5
    mel_config = AudioConfig("HTSAT", fusion=True)
    checkpoint_env = "BENCH_COMPA_CLAP_CKPT"
    checkpoint_what = "a CompA-CLAP checkpoint in LAION format"

    def unusable(self, config: AudioConfig) -> str | None:
        if config.model != "HTSAT" or not config.fusion:
            return "compa-clap is HTSAT with feature fusion"
        return None
