"""ssl-clap: Emo-CLAP from local Hugging Face folders, a self-supervised speech encoder + a text encoder.

GEmo-CLAP (Pan et al., 2023) builds its Emo-CLAP from a pre-trained speech encoder (WavLM,
HuBERT, ...) and a pre-trained text encoder, joined by projection heads trained
contrastively. Here the audio side is any encoder of :mod:`bench.backbones._speech_encoder`
(hidden layer or SUPERB's weighted layer sum, mean or attentive pooling), the text side a
BERT-family encoder (RoBERTa, BERT, MiniLM), frozen, mean-pooled. Both come from local
folders named by a preset of ``ssl_clap_presets.json`` (``--backbone-opt preset=NAME``),
each overridable (``audio=DIR``, ``text=DIR``, or the preset's environment variables); the
standard Hugging Face cache is looked in last. Nothing is downloaded.

The audio encoder stays frozen by default (its features are computed once and cached; the
heads and the layer weights train); ``train_encoder=true`` fine-tunes its transformer at the
audio learning rate, its convolutional front-end kept frozen as in the usual SER recipes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from bench.api import Backbone, RequiredFile
from bench.api.soft_prompts import HFEncoder, PromptedText, TextTower, hf_tokens
from bench.backbones._speech_encoder import SAMPLE_RATE, SpeechEncoder
from bench.backbones._weights import hf_cached, local_tokenizer, require, setting_path

PRESETS: dict[str, dict] = json.loads(Path(__file__).with_name("ssl_clap_presets.json").read_text())
DEFAULT_PRESET = "emo-clap-wavlm"


def preset_spec(name: str) -> dict:
    if name not in PRESETS:
        raise ValueError(f"ssl-clap has no preset {name!r} (presets: {', '.join(PRESETS)})")
    return PRESETS[name]


def _folder(side: dict, value: str | None) -> Path | None:
    return setting_path(value, side["env_var"], hf_cached(side["hub_id"]))


def _truthy(value: bool | str) -> bool:
    return str(value).lower() in ("1", "true", "yes")


def _mlp(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_out), nn.ReLU(), nn.Linear(n_out, n_out))


class SslClap(PromptedText, Backbone):
    name = "ssl-clap"
    sample_rate = SAMPLE_RATE
    clip_seconds = 10.0
    embed_dim = 512
    pad_mode = "zero"  # the encoder finds each clip's end at its last non-zero sample

    def __init__(
        self,
        preset: str = DEFAULT_PRESET,
        audio: str | None = None,
        text: str | None = None,
        layer: str | None = None,
        pooling: str | None = None,
        train_encoder: bool | str = False,
        clip_seconds: float | str | None = None,
        chunk_seconds: float | str = 20.0,
    ) -> None:
        super().__init__()
        from transformers import AutoModel

        spec = preset_spec(preset)
        require(f"{self.name} (preset {preset})", self._files(preset, audio, text))
        self.train_encoder = _truthy(train_encoder)
        if clip_seconds is not None:
            self.clip_seconds = float(clip_seconds)
        self.speech = SpeechEncoder(
            _folder(spec["audio"], audio), layer or spec["layer"], pooling or spec["pooling"], float(chunk_seconds)
        )
        self.speech.model.requires_grad_(self.train_encoder)
        if self.train_encoder and not self.speech.whisper:
            self.speech.model.freeze_feature_encoder()
        text_dir = _folder(spec["text"], text)
        self.text_encoder = AutoModel.from_pretrained(text_dir, local_files_only=True).requires_grad_(False)
        self.tokenizer = local_tokenizer(text_dir)
        self.text_tower = TextTower(
            self._tokens, self.text_encoder.get_input_embeddings(), HFEncoder(self.text_encoder), "masked-mean"
        )
        self.audio_head = _mlp(self.speech.width, self.embed_dim)
        self.text_head = _mlp(self.text_encoder.config.hidden_size, self.embed_dim)

    @classmethod
    def _files(cls, preset: str = DEFAULT_PRESET, audio: str | None = None, text: str | None = None):
        spec = preset_spec(preset)
        others = ", ".join(p for p in PRESETS if p != preset)
        return [
            (
                RequiredFile(
                    f"the {spec['audio']['hub_id']} folder for preset {preset} ({spec['about']}; "
                    f"other presets: {others}; --backbone-opt preset=NAME)",
                    _config(_folder(spec["audio"], audio)),
                    spec["audio"]["env_var"],
                ),
                "audio",
            ),
            (
                RequiredFile(
                    f"the {spec['text']['hub_id']} folder (config, tokenizer, weights)",
                    _config(_folder(spec["text"], text)),
                    spec["text"]["env_var"],
                ),
                "text",
            ),
        ]

    @classmethod
    def required_files(
        cls, preset: str = DEFAULT_PRESET, audio: str | None = None, text: str | None = None
    ) -> list[RequiredFile]:
        return [required for required, _ in cls._files(preset, audio, text)]

    def train(self, mode: bool = True) -> SslClap:
        """Frozen encoders stay in eval mode (no dropout, no SpecAugment masking) while the heads train."""
        super().train(mode)
        self.text_encoder.eval()
        if not self.train_encoder:
            self.speech.model.eval()
        return self

    @property
    def device(self) -> torch.device:
        return self.audio_head[0].weight.device

    # --- audio -----------------------------------------------------------------------------
    def audio_features(self, waveforms: Tensor) -> Tensor:
        return self.speech(waveforms)

    def project_audio(self, features: Tensor) -> Tensor:
        return self.audio_head(self.speech.combine(features))

    # --- text: the text-tower factory, mean over the attended positions --------------------
    def _tokens(self, texts: Sequence[str], prompt_length: int = 0) -> tuple[Tensor, Tensor]:
        return hf_tokens(self.tokenizer, texts, padding=True, truncation=True)

    def project_text(self, features: Tensor) -> Tensor:
        return self.text_head(features)

    # --- training --------------------------------------------------------------------------
    def parameter_groups(self) -> Mapping[str, list[nn.Parameter]]:
        with_encoder, on_features = self.speech.trainable()
        encoder = [p for p in self.speech.model.parameters() if p.requires_grad]
        return {
            "audio_encoder": encoder + with_encoder,
            "heads": [*self.audio_head.parameters(), *self.text_head.parameters(), *on_features],
        }


def _config(folder: Path | None) -> Path | None:
    return folder / "config.json" if folder else None
