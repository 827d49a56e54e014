"""A self-supervised speech encoder from a local Hugging Face folder, as a CLAP audio tower.

Families: wav2vec2, HuBERT, WavLM, data2vec-audio (waveform models) and the Whisper encoder
(log-mel model). The front-end is the folder's own feature extractor, called as its
documentation says: 16 kHz; waveform models normalise each utterance (``do_normalize``) and
take an attention mask where ``return_attention_mask`` is set. Padded batches are used only
where the mask makes padding invisible: group-norm front-ends (wav2vec2-base, HuBERT-base)
normalise over time, and data2vec-audio's stacked positional convolutions carry padded frames
into valid ones, so their clips go through unpadded, batched by equal length.
Whisper pads every input to 30 s itself; valid encoder frames are those of real audio.

The core zero-pads clips to the clip length, so a clip's audio ends at its last non-zero
sample; nothing after it reaches the encoder or the pooling, and padding never changes an
embedding. Long clips are cut into chunks of at most ``chunk_seconds`` (Whisper: 30 s),
encoded separately (memory bounded by the chunk) and pooled over all their frames.

Representation: one hidden layer, or SUPERB's learned softmax-weighted sum of all of them;
pooling: mean over valid frames, or attentive pooling (a learned score per frame). Mean
pooling commutes with the layer sum, so :meth:`SpeechEncoder.forward` then returns the mean
of every layer and :meth:`SpeechEncoder.combine` weighs them: the weights train with the
projection heads while the frozen encoder's features are computed once and cached.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

SAMPLE_RATE = 16_000
FAMILIES = ("wav2vec2", "hubert", "wavlm", "data2vec-audio", "whisper")
POOLINGS = ("mean", "attentive")
WHISPER_FRAME = 320  # samples per Whisper encoder frame: mel hop 160, then a stride-2 convolution


def valid_lengths(waveforms: Tensor) -> list[int]:
    """Samples up to each row's last non-zero one (at least one)."""
    positions = torch.arange(1, waveforms.shape[1] + 1, device=waveforms.device)
    return ((waveforms != 0) * positions).amax(dim=1).clamp_min(1).tolist()


def chunks(wave: np.ndarray, size: int, minimum: int) -> list[np.ndarray]:
    """Equal chunks of at most ``size`` samples, each at least ``minimum`` long (zero-padded)."""
    count = max(1, math.ceil(len(wave) / size))
    step = math.ceil(len(wave) / count)
    pieces = [wave[start : start + step] for start in range(0, len(wave), step)]
    return [np.pad(p, (0, max(0, minimum - len(p)))) for p in pieces]


class AttentivePooling(nn.Module):
    """Self-attentive pooling: softmax over valid frames of ``v^T tanh(W h_t)``."""

    def __init__(self, width: int, hidden: int = 128) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(width, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, frames: Tensor, mask: Tensor) -> Tensor:
        scores = self.score(frames).squeeze(-1).masked_fill(~mask, float("-inf"))
        return (scores.softmax(dim=1).unsqueeze(-1) * frames).sum(dim=1)


class SpeechEncoder(nn.Module):
    def __init__(self, folder: Path, layer: str | int = "weighted", pooling: str = "mean", chunk_seconds: float = 20.0):
        super().__init__()
        from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        if config.model_type not in FAMILIES:
            raise ValueError(f"{folder}: a {config.model_type!r} model, not a speech encoder of {', '.join(FAMILIES)}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
        self.extractor = AutoFeatureExtractor.from_pretrained(folder, local_files_only=True)
        if self.extractor.sampling_rate != SAMPLE_RATE:
            raise ValueError(f"{folder}: its feature extractor expects {self.extractor.sampling_rate} Hz, not 16 kHz")
        self.whisper = config.model_type == "whisper"
        model = AutoModel.from_pretrained(folder, local_files_only=True)
        self.model = model.encoder if self.whisper else model
        self.n_states = (config.encoder_layers if self.whisper else config.num_hidden_layers) + 1
        self.width = config.d_model if self.whisper else config.hidden_size
        self.layer = self._layer(layer)
        self.layer_weights = nn.Parameter(torch.zeros(self.n_states)) if self.layer is None else None
        self.pool = AttentivePooling(self.width) if pooling == "attentive" else None
        self.mask = not self.whisper and bool(getattr(self.extractor, "return_attention_mask", False))
        self.padded = self.mask and config.model_type != "data2vec-audio" and config.feat_extract_norm == "layer"
        self.chunk = self.extractor.n_samples if self.whisper else max(1, int(float(chunk_seconds) * SAMPLE_RATE))
        self.minimum = (
            1
            if self.whisper
            else 1
            + sum(  # the convolutions' receptive field: one frame
                (k - 1) * math.prod(config.conv_stride[:i]) for i, k in enumerate(config.conv_kernel)
            )
        )

    def _layer(self, layer: str | int) -> int | None:
        if str(layer) == "weighted":
            return None
        index = self.n_states - 1 if str(layer) == "last" else int(layer)
        if not 0 <= index < self.n_states:
            raise ValueError(f"layer must be 0..{self.n_states - 1}, 'last' or 'weighted', not {layer!r}")
        return index

    def forward(self, waveforms: Tensor) -> Tensor:
        waves = [w[:n].detach().float().cpu().numpy() for w, n in zip(waveforms, valid_lengths(waveforms))]
        if not self.whisper:  # per-utterance normalisation before chunking: chunks share it
            waves = self.extractor(waves, sampling_rate=SAMPLE_RATE)["input_values"]
        pieces = [(i, piece) for i, wave in enumerate(waves) for piece in chunks(wave, self.chunk, self.minimum)]
        frames: list[list[Tensor]] = [[] for _ in waves]
        for group in self._groups(pieces, len(waves)):
            for (i, _), states in zip(group, self._encode([p for _, p in group])):
                frames[i].append(states)
        return self._pool([torch.cat(f, dim=1) for f in frames])

    def _groups(self, pieces: list[tuple[int, np.ndarray]], limit: int) -> list[list[tuple[int, np.ndarray]]]:
        """At most ``limit`` chunks per encoder call; where padding would show, only chunks of equal length."""
        by_length: dict[int, list] = {}
        for piece in sorted(pieces, key=lambda p: -len(p[1])):
            by_length.setdefault(0 if self.padded or self.whisper else len(piece[1]), []).append(piece)
        return [same[s : s + limit] for same in by_length.values() for s in range(0, len(same), limit)]

    def _encode(self, pieces: list[np.ndarray]) -> list[Tensor]:
        """Hidden states ``[states, valid frames, width]`` of each chunk (states: 1 or all layers)."""
        device = next(self.model.parameters()).device
        lengths = [len(p) for p in pieces]
        trains = torch.is_grad_enabled() and any(p.requires_grad for p in self.model.parameters())
        with torch.set_grad_enabled(trains):
            if self.whisper:
                features = self.extractor(pieces, sampling_rate=SAMPLE_RATE, return_tensors="pt")["input_features"]
                out = self.model(features.to(device), output_hidden_states=True)
                valid = [min(math.ceil(n / WHISPER_FRAME), out.last_hidden_state.shape[1]) for n in lengths]
            else:
                batch = torch.zeros(len(pieces), max(lengths))
                for row, piece in zip(batch, pieces):
                    row[: len(piece)] = torch.from_numpy(np.asarray(piece, dtype=np.float32))
                mask = (torch.arange(batch.shape[1]) < torch.tensor(lengths)[:, None]).long()
                out = self.model(
                    batch.to(device), attention_mask=mask.to(device) if self.mask else None, output_hidden_states=True
                )
                valid = self.model._get_feat_extract_output_lengths(torch.tensor(lengths)).tolist()
        states = out.hidden_states if self.layer is None else out.hidden_states[self.layer : self.layer + 1]
        stacked = torch.stack(states, dim=1)  # [chunks, states, frames, width]
        return [stacked[k, :, : int(valid[k])] for k in range(len(pieces))]

    def _pool(self, frames: list[Tensor]) -> Tensor:
        if self.pool is None:
            return torch.stack([f.mean(dim=1).flatten() for f in frames])
        combined = [self._weighted(f.transpose(0, 1)) for f in frames]  # [frames, width] each
        padded = nn.utils.rnn.pad_sequence(combined, batch_first=True)
        mask = (
            torch.arange(padded.shape[1], device=padded.device)
            < torch.tensor([len(c) for c in combined], device=padded.device)[:, None]
        )
        return self.pool(padded, mask)

    def _weighted(self, states: Tensor) -> Tensor:
        """``[..., states, width]`` -> ``[..., width]`` by the softmax layer weights (or the one layer)."""
        if self.layer_weights is None:
            return states.squeeze(-2)
        return (self.layer_weights.softmax(0)[:, None] * states).sum(dim=-2)

    def combine(self, features: Tensor) -> Tensor:
        """:meth:`forward`'s output as one ``width``-wide vector per clip (the layer sum of mean pooling)."""
        if self.layer is None and self.pool is None:
            return self._weighted(features.reshape(len(features), self.n_states, self.width))
        return features

    def trainable(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(parameters that need the encoder pass, parameters that act on cached features)."""
        before = list(self.pool.parameters()) if self.pool is not None else []
        weights = [self.layer_weights] if self.layer_weights is not None else []
        return (before + weights, []) if self.pool is not None else (before, weights)
