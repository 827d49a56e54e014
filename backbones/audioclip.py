"""audioclip: AudioCLIP (Guzhov et al., 2022): ESResNeXt-50 with a learnable Fourier front-end + CLIP text.

Written here from the public model definition (there is no pip package), with its parameter
names, so ``AudioCLIP-Full-Training.pt`` and ``AudioCLIP-Partial-Training.pt`` (flat state
dicts) load by name. The checkpoints also hold CLIP's RN50 image tower (``visual.*``), which
a speech benchmark does not use: those entries are skipped by name; every other key must
match exactly (the original loads with ``strict=False``).

Audio path, as the original computes it: waveforms in [-1, 1] are scaled to the int16 range
(the original is fed int16-range floats) and mapped back to [-1, 1] by its own affine map;
frames of 1654 samples (hop 561, Blackman-Harris window, zero-padded to 2048) go through the
learnable "frequency B-spline" transform (``fbsp``: per output bin a windowed complex
sinusoid with trainable centre, bandwidth and window shape); the 1025 bins are cut into three
bands of 341 that become the three input channels; 10 log10 power -> ResNeXt-50 (32x4d) with
the attention blocks ``att1..att5`` -> ``fc`` into the 1024-d joint space. The original
rescales the fbsp gradients by their max-norm during training; fine-tuning here uses plain
gradients at the audio-encoder learning rate.
Text: CLIP's transformer in OpenAI's layout, tokenised with CLIP's BPE from ``tokenizer_dir=``
(``BENCH_AUDIOCLIP_TOKENIZER``, else the cached ``openai/clip-vit-base-patch32``; the same
49408-token vocabulary), zero-padded to 77 tokens as CLIP's ``tokenize`` does.
Sizes are read from the checkpoint's shapes, so small files in the same format build small models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.api import Backbone, CheckpointError, RequiredFile
from bench.api.soft_prompts import PromptedText
from bench.backbones._weights import (
    hf_cached,
    load_state,
    load_strict,
    local_tokenizer,
    releases,
    require,
    setting_path,
    strip_prefix,
)
from bench.backbones.clip_text import MAX_PROMPT_TOKENS, OpenAIClipText, clip_tower

SAMPLE_RATE = 44_100
HOP = 561
INT16_SCALE = 32768.0
LOG10_EPS = 1e-18
SKIPPED = ("visual.",)  # CLIP's image tower
SCALES = ("logit_scale", "logit_scale_ai", "logit_scale_at")


class LinearFBSP(nn.Module):
    """Learnable Fourier transform: bin k is a complex sinusoid at ``fc[k]`` under a sinc window.

    The window ``sinc(fb t / m) ** m`` (t on a grid over [-pi, pi]) has bandwidth ``fb`` and
    shape ``m``; with the initial m = 0 it is rectangular, a Fourier transform at bins ``fc``.
    """

    def __init__(self, bins: int, normalized: bool = True, eps: float = 1e-8) -> None:
        super().__init__()
        self.m = nn.Parameter(torch.zeros(bins))
        self.fb = nn.Parameter(torch.ones(bins))
        self.fc = nn.Parameter(torch.arange(bins, dtype=torch.float32))
        self.normalized = normalized
        self.eps = eps

    def weights(self, n_in: int, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
        """Real and imaginary kernels ``[bins, n_in]``."""
        t = math.pi * torch.linspace(-1.0, 1.0, n_in, dtype=dtype, device=device) + self.eps
        m, fb, fc = (p.reshape(-1, 1) for p in (self.m, self.fb, self.fc))
        x = fb * t / (m + self.eps)
        sinc = torch.where(x == 0, torch.ones_like(x), torch.sin(x) / x)
        # sinc ** m as a complex power of a real number: magnitude |sinc|^m, phase m * arg(sinc)
        magnitude = (sinc**2) ** (0.5 * m)
        phase = m * torch.atan2(torch.zeros_like(sinc), sinc)
        win_re, win_im = magnitude * torch.cos(phase), magnitude * torch.sin(phase)
        k_re, k_im = torch.cos(fc * t), -torch.sin(fc * t)
        scale = fb.sqrt() / (n_in**0.5 if self.normalized else 1.0)
        return scale * (win_re * k_re - win_im * k_im), scale * (win_re * k_im + win_im * k_re)

    def forward(self, frames: Tensor) -> Tensor:
        """Real frames ``[..., n_in]`` -> complex spectrum ``[..., bins, 2]``."""
        w_re, w_im = self.weights(frames.shape[-1], frames.dtype, frames.device)
        return torch.stack((F.linear(frames, w_re), F.linear(frames, w_im)), dim=-1)


def blackman_harris(n: int) -> Tensor:
    """4-term Blackman-Harris window, periodic (scipy's ``get_window("blackmanharris", n)``)."""
    phase = 2 * math.pi * torch.arange(n, dtype=torch.float64) / n
    coeffs = (0.35875, -0.48829, 0.14128, -0.01168)
    return sum(c * torch.cos(k * phase) for k, c in enumerate(coeffs)).float()


class Attention2d(nn.Module):
    """A sigmoid gate computed from the previous stage's input (depthwise + pointwise conv)."""

    def __init__(self, n_in: int, n_out: int, kernel: tuple[int, int], padding: tuple[int, int]) -> None:
        super().__init__()
        self.conv_depth = nn.Conv2d(n_in, n_in, kernel, padding=padding, groups=n_in)
        self.conv_point = nn.Conv2d(n_in, n_out, 1)
        self.bn = nn.BatchNorm2d(n_out)

    def forward(self, x: Tensor, size: torch.Size) -> Tensor:
        return torch.sigmoid(self.bn(self.conv_point(self.conv_depth(F.adaptive_max_pool2d(x, size)))))


ATTENTION = (((3, 1), (1, 0)), ((1, 5), (0, 2)), ((3, 1), (1, 0)), ((1, 5), (0, 2)), ((3, 5), (1, 2)))


class ESResNeXtFBSP(nn.Module):
    """ESResNeXt with the fbsp front-end, from raw audio to the joint space (``fc``)."""

    def __init__(
        self,
        layers: Sequence[int] = (3, 4, 6, 3),
        groups: int = 32,
        width_per_group: int = 4,
        embed_dim: int = 1024,
        n_fft: int = 2048,
        win_length: int = 1654,
        hop_length: int = HOP,
    ) -> None:
        super().__init__()
        from torchvision.models.resnet import Bottleneck, ResNet

        self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
        self.register_buffer("window", blackman_harris(win_length))
        self.fbsp = LinearFBSP(n_fft // 2 + 1)
        resnet = ResNet(Bottleneck, list(layers), num_classes=embed_dim, groups=groups, width_per_group=width_per_group)
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"):
            self.add_module(name, getattr(resnet, name))
        channels = [64, 256, 512, 1024, 2048, 2048]
        for i, (kernel, padding) in enumerate(ATTENTION):
            self.add_module(f"att{i + 1}", Attention2d(channels[i], channels[i + 1], kernel, padding))

    def frames(self, x: Tensor) -> Tensor:
        """Overlapping windowed frames, the signal centred in zero padding, padded to n_fft."""
        n = x.shape[-1]
        count = 1 if n <= self.win_length else 1 + math.ceil((n - self.win_length) / self.hop_length)
        pad = (count - 1) * self.hop_length + self.win_length - n
        if pad > 0:
            x = F.pad(x, (pad // 2, pad - pad // 2))
        frames = x.unfold(-1, self.win_length, self.hop_length) * self.window
        extra = self.n_fft - self.win_length
        return F.pad(frames, (extra // 2, extra - extra // 2)) if extra > 0 else frames

    def log_power(self, waveforms: Tensor) -> Tensor:
        """Three frequency bands of 10 log10 power as image channels ``[B, 3, bins // 3, frames]``."""
        x = (waveforms * INT16_SCALE + INT16_SCALE) * 2.0 / (INT16_SCALE * 2 - 1) - 1.0
        with torch.no_grad():
            frames = self.frames(x)
        spec = self.fbsp(frames).transpose(-2, -3)  # [B, bins, frames, 2]
        channels = self.conv1.in_channels
        per_band = spec.shape[-3] // channels
        spec = spec[:, : channels * per_band].reshape(spec.shape[0], channels, per_band, *spec.shape[-2:])
        power = spec[..., 0] ** 2 + spec[..., 1] ** 2
        power = torch.where(power > 0.0, power, torch.full_like(power, LOG10_EPS))
        return 10.0 * torch.log10(power)

    def features(self, waveforms: Tensor) -> Tensor:
        """Pooled, gated ResNeXt features ``[B, 2048]`` (before ``fc``)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(self.log_power(waveforms)))))
        for i in range(1, 5):
            gate_input = x
            x = getattr(self, f"layer{i}")(x)
            x = x * getattr(self, f"att{i}")(gate_input, x.shape[-2:])
        pooled = self.avgpool(x)
        return (pooled * self.att5(x, pooled.shape[-2:])).flatten(1)

    @classmethod
    def from_state(cls, state: Mapping[str, Tensor]) -> ESResNeXtFBSP:
        layers = [len({k.split(".")[1] for k in state if k.startswith(f"layer{i}.")}) for i in range(1, 5)]
        width = state["layer1.0.conv2.weight"].shape[0]
        groups = width // state["layer1.0.conv2.weight"].shape[1]
        return cls(
            layers=layers,
            groups=groups,
            width_per_group=width // groups,
            embed_dim=state["fc.weight"].shape[0],
            n_fft=2 * (state["fbsp.m"].shape[0] - 1),
            win_length=state["window"].shape[0],
        )


def _empty_bias(key: str, value: Tensor) -> bool:
    """The original ``LinearFBSP(bias=False)`` registers ``Parameter(None)``: its state dicts,
    the released checkpoints included, hold ``audio.fbsp.bias`` with no elements."""
    return key == "audio.fbsp.bias" and value.numel() == 0


def clip_text_from_state(state: Mapping[str, Tensor]) -> OpenAIClipText:
    vocab, width = state["token_embedding.weight"].shape
    layers = len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")})
    heads = max(1, width // 64)  # CLIP's rule; at least one head for small test models
    return OpenAIClipText(
        vocab, width, layers, heads, state["text_projection"].shape[1], state["positional_embedding"].shape[0]
    )


class AudioClip(PromptedText, Backbone):
    name = "audioclip"
    sample_rate = SAMPLE_RATE
    clip_seconds = 5.0
    max_prompt_tokens = MAX_PROMPT_TOKENS
    official_recipe = {"resampler": "librosa", "n_samples": None}  # the whole clip, librosa.load(f, sr=44100)
    embed_dim = 1024

    def __init__(self, checkpoint: str | None = None, tokenizer_dir: str | None = None) -> None:
        super().__init__()
        files = self.required_files(checkpoint=checkpoint, tokenizer_dir=tokenizer_dir)
        require(self.name, zip(files, ("checkpoint", "tokenizer_dir")))
        ckpt = files[0].path
        state = {k: v for k, v in load_state(ckpt).items() if not k.startswith(SKIPPED) and not _empty_bias(k, v)}
        audio_state = strip_prefix(state, "audio.")
        text_state = {k: v for k, v in state.items() if not k.startswith("audio.") and k not in SCALES}
        with torch.device("meta"):  # every tensor comes from the checkpoint
            try:
                self.audio = ESResNeXtFBSP.from_state(audio_state)
                self.text = clip_text_from_state(text_state)
            except KeyError as err:
                raise CheckpointError(f"{ckpt}: no {err} (not an AudioCLIP checkpoint?)") from err
            for scale in SCALES:
                self.register_parameter(scale, nn.Parameter(torch.tensor(float(np.log(100.0))), requires_grad=False))
        load_strict(self, self.to_model_state(state), ckpt, assign=True)
        if self.audio.fc.out_features != self.text.text_projection.shape[1]:
            raise CheckpointError(
                f"{ckpt}: audio.fc gives {self.audio.fc.out_features}-d embeddings, text_projection "
                f"{self.text.text_projection.shape[1]}-d (the two towers must share one space)"
            )
        self.text.requires_grad_(False)
        self.text.text_projection.requires_grad_(True)
        self.tokenizer = local_tokenizer(files[1].path)
        self.text_tower = clip_tower(self.tokenizer, self.text.token_embedding, self.text, pad_id=0)  # CLIP pads with 0
        self.eval()

    @classmethod
    def required_files(cls, checkpoint: str | None = None, tokenizer_dir: str | None = None) -> list[RequiredFile]:
        return [
            RequiredFile(
                "AudioCLIP-Full-Training.pt or AudioCLIP-Partial-Training.pt",
                setting_path(checkpoint, "BENCH_AUDIOCLIP_CKPT"),
                "BENCH_AUDIOCLIP_CKPT",
                releases("audioclip"),
            ),
            RequiredFile(
                "CLIP tokenizer folder (openai/clip-vit-base-patch32)",
                setting_path(
                    tokenizer_dir, "BENCH_AUDIOCLIP_TOKENIZER", hf_cached("openai/clip-vit-base-patch32", "vocab.json")
                ),
                "BENCH_AUDIOCLIP_TOKENIZER",
            ),
        ]

    @staticmethod
    def to_model_state(official: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Official key names (text at the top level) -> this module's (text under ``text.``)."""
        return {k if k.startswith("audio.") or k in SCALES else f"text.{k}": v for k, v in official.items()}

    def official_state_dict(self) -> dict[str, Tensor]:
        """This model's weights under the official AudioCLIP names (without the image tower)."""
        return {k.removeprefix("text."): v for k, v in self.state_dict().items()}

    @property
    def device(self) -> torch.device:
        return self.text.text_projection.device

    def audio_features(self, waveforms: Tensor) -> Tensor:
        return self.audio.features(waveforms)

    def project_audio(self, features: Tensor) -> Tensor:
        return self.audio.fc(features)

    def project_text(self, features: Tensor) -> Tensor:
        return features @ self.text.text_projection

    def parameter_groups(self) -> Mapping[str, list[nn.Parameter]]:
        fc = {id(p) for p in self.audio.fc.parameters()}
        return {
            "audio_encoder": [p for p in self.audio.parameters() if id(p) not in fc],
            "heads": [*self.audio.fc.parameters(), self.text.text_projection],
        }
