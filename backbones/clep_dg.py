"""clep-dg: the CLEP-DG method's backbone, LAION-CLAP's PANN-14 + RoBERTa at 16 kHz / 5 s.

The paper fine-tunes a LAION-CLAP PANN-14 model on emotional speech at 16 kHz with 5 s clips
(zero-padded). CNN14's front-end is therefore PANNs' Cnn14_16k set-up (window 512, hop 160,
64 mel bands, 50-8000 Hz), computed here, never taken from the 48 kHz checkpoint. The
fine-tuned weights come from our own fine-tune stage (``bench finetune``), which saves
:meth:`trainable_state`; the model it starts from is built from, whichever the user has:

* ``checkpoint`` (``BENCH_CLEP_DG_INIT``): a LAION-CLAP checkpoint with a PANN-14 audio encoder;
* ``pann_checkpoint`` (``BENCH_PANNS_CNN14``): PANNs' AudioSet CNN14 weights
  (``Cnn14_16k_mAP=0.438.pth`` or ``Cnn14_mAP=0.431.pth``, ``{"model": ...}``), plus RoBERTa-base
  *weights* in ``text_dir``. The projections start random; RoBERTa-base ships no trained pooler,
  so its pooler is a fixed random layer too (the text encoder stays frozen, as in the paper).
"""

from __future__ import annotations

from bench.api import CheckpointError, MissingFileError, RequiredFile
from bench.backbones._laion import FRONT_END_KEYS, HEAD_KEYS, ROBERTA, LaionFamily
from bench.backbones._laion_audio import AudioConfig
from bench.backbones._weights import load_state, require, setting_path

PANNS_ENV = "BENCH_PANNS_CNN14"


class ClepDG(LaionFamily):
    name = "clep-dg"
    sample_rate = 16_000
    clip_seconds = 5.0
    pad_mode = "zero"
    mel_config = AudioConfig("PANN", sample_rate=16_000, window=512, hop=160, fmax=8_000.0, width=64)
    checkpoint_env = "BENCH_CLEP_DG_INIT"
    checkpoint_what = "a LAION-CLAP PANN-14 checkpoint (or instead pann_checkpoint= with RoBERTa weights in text_dir)"

    @classmethod
    def required_files(
        cls, checkpoint: str | None = None, text_dir: str | None = None, pann_checkpoint: str | None = None
    ) -> list[RequiredFile]:
        pann = RequiredFile(
            "PANNs AudioSet CNN14 weights (the alternative start)", setting_path(pann_checkpoint, PANNS_ENV), PANNS_ENV
        )
        return [*super().required_files(checkpoint, text_dir), pann]

    def unusable(self, config: AudioConfig) -> str | None:
        return None if config.model == "PANN" else "clep-dg starts from PANN-14 (CNN14)"

    def initial_state(self, checkpoint=None, pann_checkpoint=None, audio_model=None, text_dir=None):
        pann = setting_path(pann_checkpoint, PANNS_ENV)
        if setting_path(checkpoint, self.checkpoint_env) or pann is None:
            state, audio, text, _, source = super().initial_state(checkpoint, audio_model, text_dir)
            state = {k: v for k, v in state.items() if not k.startswith(FRONT_END_KEYS)}
            return state, audio, text, FRONT_END_KEYS, source
        return self._from_panns(pann, audio_model, text_dir)

    def _from_panns(self, pann, audio_model, text_dir):
        """PANNs' CNN14 for the audio branch, RoBERTa-base for the text branch, fresh heads."""
        from transformers import RobertaModel

        text = setting_path(text_dir, ROBERTA.env_var, ROBERTA.cached_dir())
        require(
            self.name,
            [
                (RequiredFile("PANNs AudioSet CNN14 weights", pann, PANNS_ENV), "pann_checkpoint"),
                (
                    RequiredFile(
                        "roberta-base folder with config, tokenizer and weights",
                        text / "config.json" if text else None,
                        ROBERTA.env_var,
                    ),
                    "text_dir",
                ),
            ],
        )
        weights = load_state(pann, "model")
        state = {
            f"audio_branch.{k}": v
            for k, v in weights.items()
            if not k.startswith(("spectrogram_extractor.", "logmel_extractor."))
        }
        try:
            roberta, info = RobertaModel.from_pretrained(text, local_files_only=True, output_loading_info=True)
        except OSError as err:
            raise MissingFileError(f"clep-dg: no RoBERTa-base weights in {text}: {str(err).splitlines()[0]}") from None
        absent = set(info["missing_keys"])
        if absent - {"pooler.dense.weight", "pooler.dense.bias"}:
            raise CheckpointError(f"{text}: RoBERTa weights lack {sorted(absent)[:4]}")
        state.update({f"text_branch.{k}": v for k, v in roberta.state_dict().items() if k not in absent})
        fresh = FRONT_END_KEYS + HEAD_KEYS + (("text_branch.pooler.",) if absent else ())
        return state, self.audio_architecture(state, audio_model, pann), text, fresh, pann
