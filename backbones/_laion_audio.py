"""LAION-CLAP's audio encoders (HTSAT and PANNs' CNN14), written with the official parameter names.

The ``laion_clap`` package cannot be imported offline (its ``__init__`` fetches tokenizers),
so the architectures are re-implemented here; module and parameter names follow
``laion_clap.clap_module`` exactly, so an official ``audio_branch.*`` state dict maps 1:1 and a
parity test against the official classes checks the numbers.

Only the embedding path is computed: the AudioSet tagging heads (``tscam_conv``/``head``/
``fc_audioset``) are kept as weights only, so checkpoints load strictly and fine-tuned models
save the same keys. Fusion models run LAION's feature fusion (aff_2d) on clips longer than
``clip_samples``, as ``get_audio_features(..., data_truncating="fusion")`` prepares them for the
official model (see :meth:`HTSAT_Swin_Transformer.fusion_mels`). Training-time randomness
inside the networks (dropout, stochastic depth) is reproduced; data augmentation (SpecAugment,
mixup, fusion's random chunk choice and its random "longer" clip in a batch of short ones) is
not: that belongs to a training recipe, not to the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio
from torch import Tensor, nn

SPEC_SIZE, PATCH = 256, 4  # HTSAT's fixed "image" size and patch size


@dataclass(frozen=True)
class AudioConfig:
    """Front-end and architecture of one audio encoder (``model`` is "HTSAT" or "PANN").

    ``width`` is HTSAT's patch-embedding width or CNN14's first block's channels; ``depths``,
    ``heads`` and ``window_size`` only concern HTSAT. ``fusion`` is LAION's aff_2d feature fusion,
    which acts on clips longer than ``clip_samples`` (LAION's ``audio_cfg`` name).
    """

    model: str
    sample_rate: int = 48_000
    window: int = 1024
    hop: int = 480
    mel_bins: int = 64
    fmin: float = 50.0
    fmax: float = 14_000.0
    clip_samples: int = 480_000
    classes: int = 527
    width: int = 96
    depths: tuple[int, ...] = (2, 2, 6, 2)
    heads: tuple[int, ...] = (4, 8, 16, 32)
    window_size: int = 8
    fusion: bool = False
    drop_path: float = field(default=0.1, compare=False)

    @property
    def features(self) -> int:
        """Width of the encoder's output embedding (the audio projection's input)."""
        if self.model == "HTSAT":
            return self.width * 2 ** (len(self.depths) - 1)
        return self.width * 32

    def architecture(self) -> tuple:
        """The fields a checkpoint fixes (the front-end is the backbone's, not the checkpoint's)."""
        if self.model == "HTSAT":
            return (self.model, self.width, self.depths, self.heads, self.window_size, self.classes, self.fusion)
        return (self.model, self.width, self.classes, self.fusion)


# The official configurations (laion_clap/clap_module/model_configs + create_htsat_model).
AUDIO_MODELS = {
    "HTSAT-tiny": AudioConfig("HTSAT"),
    "HTSAT-tiny-fusion": AudioConfig("HTSAT", fusion=True),
    "HTSAT-base": AudioConfig("HTSAT", width=128, depths=(2, 2, 12, 2)),
    "HTSAT-base-fusion": AudioConfig("HTSAT", width=128, depths=(2, 2, 12, 2), fusion=True),
    "PANN-14": AudioConfig("PANN", width=64),
}


def model_name(config: AudioConfig) -> str:
    """The official name of an architecture, or a description of a custom one."""
    for name, known in AUDIO_MODELS.items():
        if known.architecture() == config.architecture():
            return name
    if config.model == "HTSAT":
        depths = "-".join(map(str, config.depths))
        return f"custom HTSAT (width {config.width}, depths {depths}{', fusion' if config.fusion else ''})"
    return f"custom PANN CNN14 (width {config.width})"


# --- front-end -----------------------------------------------------------------------------

BLOCK_FRAMES = 4096  # spectrogram frames computed at once: a long clip's spectrogram is never held whole


class DFTFrames(nn.Module):
    """Hann-windowed DFT as two 1-D convolution kernels: torchlibrosa's ``stft`` layout.

    Official checkpoints store these kernels; they are kept so checkpoints load strictly,
    while :class:`Spectrogram` computes the same transform with an FFT (far faster).
    """

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        n_freq = n_fft // 2 + 1
        self.conv_real = nn.Conv1d(1, n_freq, n_fft, stride=hop, bias=False)
        self.conv_imag = nn.Conv1d(1, n_freq, n_fft, stride=hop, bias=False)
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
        angle = -2 * math.pi * torch.outer(torch.arange(n_freq), torch.arange(n_fft)).double() / n_fft
        with torch.no_grad():
            self.conv_real.weight.copy_((torch.cos(angle) * window).unsqueeze(1))
            self.conv_imag.weight.copy_((torch.sin(angle) * window).unsqueeze(1))


class Spectrogram(nn.Module):
    """Power spectrogram ``[B, 1, frames, n_fft/2+1]``, centred frames with reflect padding; with
    ``padded=True`` the signal comes already reflect-padded by ``n_fft/2`` on both sides (so a
    long clip can be transformed block by block)."""

    def __init__(self, n_fft: int, hop: int, padded: bool = False) -> None:
        super().__init__()
        self.n_fft, self.hop, self.padded = n_fft, hop, padded
        self.stft = DFTFrames(n_fft, hop)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, waveforms: Tensor) -> Tensor:
        spec = torch.stft(
            waveforms,
            self.n_fft,
            self.hop,
            window=self.window,
            center=not self.padded,
            pad_mode="reflect",
            return_complex=True,
        )
        return spec.abs().pow(2).transpose(1, 2)[:, None]

    def mismatch(self) -> float:
        """Largest difference between the stored kernels and a Hann DFT (0 for official checkpoints)."""
        reference = DFTFrames(self.n_fft, self.hop).to(self.stft.conv_real.weight.device)
        return max(
            (a.weight - b.weight).abs().max().item()
            for a, b in ((self.stft.conv_real, reference.conv_real), (self.stft.conv_imag, reference.conv_imag))
        )


class LogMel(nn.Module):
    """Slaney mel filterbank (librosa's default, stored as ``melW``) and 10*log10 power."""

    def __init__(self, sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> None:
        super().__init__()
        bank = torchaudio.functional.melscale_fbanks(
            n_fft // 2 + 1, fmin, fmax, n_mels, sample_rate, norm="slaney", mel_scale="slaney"
        )
        self.melW = nn.Parameter(bank)

    def forward(self, power: Tensor) -> Tensor:
        return 10.0 * torch.log10((power @ self.melW).clamp_min(1e-10))


class MelInput(nn.Module):
    """Log-mel input shared by both encoders, normalised per mel band by ``bn0``.

    Non-fusion models use the torchlibrosa filterbank stored in the checkpoint. Fusion models
    are fed, by the official data pipeline (``get_mel``), a torchaudio HTK-scale unnormalised
    filterbank instead: that is reproduced here, and the stored ``melW`` goes unused, as
    officially. The front-end is frozen and always computed in float32.
    """

    def __init__(self, config: AudioConfig) -> None:
        super().__init__()
        self.config = config
        self.spectrogram_extractor = Spectrogram(config.window, config.hop, padded=True)
        self.logmel_extractor = LogMel(config.sample_rate, config.window, config.mel_bins, config.fmin, config.fmax)
        self.bn0 = nn.BatchNorm2d(config.mel_bins)
        if config.fusion:
            htk = torchaudio.functional.melscale_fbanks(
                config.window // 2 + 1,
                config.fmin,
                config.fmax,
                config.mel_bins,
                config.sample_rate,
                norm=None,
                mel_scale="htk",
            )
            self.register_buffer("htk_melW", htk, persistent=False)
        for module in (self.spectrogram_extractor, self.logmel_extractor):
            module.requires_grad_(False)

    def log_mel(self, waveforms: Tensor) -> Tensor:
        """``[B, samples]`` -> ``[B, 1, frames, mel_bins]``, before ``bn0``; centred frames with
        reflect padding, ``BLOCK_FRAMES`` at a time (only the log-mel of a long clip is held whole)."""
        half, hop = self.config.window // 2, self.config.hop
        frames = 1 + waveforms.shape[-1] // hop
        with torch.autocast(waveforms.device.type, enabled=False):
            padded = F.pad(waveforms.float()[:, None], (half, half), mode="reflect")[:, 0]
            blocks = []
            for start in range(0, frames, BLOCK_FRAMES):
                end = min(start + BLOCK_FRAMES, frames)
                power = self.spectrogram_extractor(padded[:, start * hop : (end - 1) * hop + 2 * half])
                if self.config.fusion:
                    blocks.append(10.0 * torch.log10((power @ self.htk_melW).clamp_min(1e-10)))
                else:
                    blocks.append(self.logmel_extractor(power))
        return torch.cat(blocks, dim=2)

    def normalise(self, mel: Tensor) -> Tensor:
        """``bn0``: per mel band, on ``[B, C, frames, mel_bins]``."""
        return self.bn0(mel.transpose(1, 3)).transpose(1, 3)

    def embedding_parameters(self) -> list[nn.Parameter]:
        """Parameters that shape the embedding of a training clip (what fine-tuning may train)."""
        untrained = {id(p) for m in self.untrained_modules() for p in m.parameters()}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in untrained]

    def untrained_modules(self) -> list[nn.Module]:
        """Modules no training clip reaches: tagging heads, and the fusion branch (training
        clips are cut to ``clip_seconds``, so none is longer than ``clip_samples``)."""
        return []


# --- PANNs CNN14 ---------------------------------------------------------------------------


class ConvBlock(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(n_in, n_out, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(n_out, n_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(n_out)
        self.bn2 = nn.BatchNorm2d(n_out)

    def forward(self, x: Tensor, pool: int) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, pool)


class Cnn14(MelInput):
    """PANNs' CNN14: six conv blocks, then max+mean over time of the band-averaged maps."""

    def __init__(self, config: AudioConfig) -> None:
        super().__init__(config)
        widths = [1] + [config.width * 2**i for i in range(6)]
        for i in range(6):
            setattr(self, f"conv_block{i + 1}", ConvBlock(widths[i], widths[i + 1]))
        self.fc1 = nn.Linear(widths[-1], widths[-1])
        self.fc_audioset = nn.Linear(widths[-1], config.classes)  # AudioSet tagger head

    def untrained_modules(self) -> list[nn.Module]:
        return [self.fc_audioset]

    @property
    def out_features(self) -> int:
        return self.fc1.out_features

    def forward(self, waveforms: Tensor) -> Tensor:
        x = self.normalise(self.log_mel(waveforms))
        for i in range(6):
            x = getattr(self, f"conv_block{i + 1}")(x, pool=2 if i < 5 else 1)
            x = F.dropout(x, 0.2, self.training)
        x = x.mean(dim=3)
        x = x.amax(dim=2) + x.mean(dim=2)
        x = F.dropout(x, 0.5, self.training)
        return F.dropout(F.relu(self.fc1(x)), 0.5, self.training)


# --- HTSAT ---------------------------------------------------------------------------------


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


def _relative_position_index(window: int) -> Tensor:
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return rel[:, :, 0] * (2 * window - 1) + rel[:, :, 1]


class WindowAttention(nn.Module):
    """Multi-head self-attention within a window, with a learned relative-position bias."""

    def __init__(self, dim: int, window: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", _relative_position_index(window))
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        """x ``[B, nW, N, C]``; mask ``[nW, N, N]`` (0 / -100) or None."""
        *lead, n, dim = x.shape
        q, k, v = self.qkv(x).reshape(*lead, n, 3, self.heads, dim // self.heads).permute(3, 0, 1, 4, 2, 5)
        bias = self.relative_position_bias_table[self.relative_position_index.flatten()]
        bias = bias.reshape(n, n, self.heads).permute(2, 0, 1)
        if mask is not None:
            bias = bias + mask[:, None]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        return self.proj(out.transpose(-3, -2).reshape(*lead, n, dim))


class SwinTransformerBlock(nn.Module):
    """(Shifted-)window attention + MLP, pre-norm, with stochastic depth while training."""

    def __init__(self, dim: int, resolution: int, heads: int, window: int, shift: int, drop_path: float) -> None:
        super().__init__()
        if resolution <= window:  # a window as large as the map: no partition, no shift
            window, shift = resolution, 0
        self.resolution, self.window, self.shift, self.drop_path = resolution, window, shift, drop_path
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, 4 * dim)
        if shift:
            self.register_buffer("attn_mask", self._shift_mask())
        else:
            self.attn_mask = None

    def _shift_mask(self) -> Tensor:
        """-100 between positions that the cyclic shift brought together from different regions."""
        regions = torch.zeros(self.resolution, self.resolution)
        bounds = (slice(0, -self.window), slice(-self.window, -self.shift), slice(-self.shift, None))
        for i, (h, w) in enumerate((h, w) for h in bounds for w in bounds):
            regions[h, w] = i
        ids = self._windows(regions[None, :, :, None]).reshape(-1, self.window**2)
        diff = ids[:, None, :] - ids[:, :, None]
        return torch.where(diff != 0, -100.0, 0.0)

    def _windows(self, x: Tensor) -> Tensor:
        """``[B, H, W, C]`` -> ``[B, nW, window*window, C]`` (row-major windows)."""
        b, h, w, c = x.shape
        s = self.window
        x = x.reshape(b, h // s, s, w // s, s, c).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(b, (h // s) * (w // s), s * s, c)

    def _unwindow(self, x: Tensor) -> Tensor:
        b, _, _, c = x.shape
        s, n = self.window, self.resolution // self.window
        return x.reshape(b, n, n, s, s, c).permute(0, 1, 3, 2, 4, 5).reshape(b, n * s, n * s, c)

    def _drop(self, x: Tensor) -> Tensor:
        if not self.training or self.drop_path == 0.0:
            return x
        keep = 1.0 - self.drop_path
        return x * torch.empty(x.shape[0], 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep) / keep

    def forward(self, x: Tensor) -> Tensor:
        b, length, c = x.shape
        y = self.norm1(x).reshape(b, self.resolution, self.resolution, c)
        if self.shift:
            y = torch.roll(y, (-self.shift, -self.shift), dims=(1, 2))
        y = self._unwindow(self.attn(self._windows(y), self.attn_mask))
        if self.shift:
            y = torch.roll(y, (self.shift, self.shift), dims=(1, 2))
        x = x + self._drop(y.reshape(b, length, c))
        return x + self._drop(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """2x2 neighbourhoods concatenated and reduced: half the resolution, twice the width."""

    def __init__(self, resolution: int, dim: int) -> None:
        super().__init__()
        self.resolution = resolution
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        b, _, c = x.shape
        x = x.reshape(b, self.resolution, self.resolution, c)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x.reshape(b, -1, 4 * c)))


class BasicLayer(nn.Module):
    def __init__(
        self, dim: int, resolution: int, depth: int, heads: int, window: int, drop_path: list[float], downsample: bool
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinTransformerBlock(dim, resolution, heads, window, 0 if i % 2 == 0 else window // 2, drop_path[i])
            for i in range(depth)
        )
        self.downsample = PatchMerging(resolution, dim) if downsample else None

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x)
        return self.downsample(x) if self.downsample is not None else x


class AFF(nn.Module):
    """LAION's aff_2d: attentional feature fusion of the global patch map and the local chunks'.

    Channel attention from local (1x1 convolutions) and global (pooled) context weighs the two
    inputs: ``2 * x * w + 2 * residual * (1 - w)``.
    """

    def __init__(self, channels: int, r: int = 4) -> None:
        super().__init__()
        inner = channels // r
        self.local_att = nn.Sequential(
            nn.Conv2d(channels, inner, 1),
            nn.BatchNorm2d(inner),
            nn.ReLU(),
            nn.Conv2d(inner, channels, 1),
            nn.BatchNorm2d(channels),
        )
        self.global_att = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, inner, 1),
            nn.BatchNorm2d(inner),
            nn.ReLU(),
            nn.Conv2d(inner, channels, 1),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: Tensor, residual: Tensor) -> Tensor:
        both = x + residual
        if len(both) == 1:  # as officially: BatchNorm on the pooled map needs two samples in training
            both = torch.cat([both, both])
        weight = torch.sigmoid(self.local_att(both) + self.global_att(both))[: len(x)]
        return 2 * x * weight + 2 * residual * (1 - weight)


class PatchEmbed(nn.Module):
    def __init__(self, width: int, fusion: bool) -> None:
        super().__init__()
        self.proj = nn.Conv2d(1, width, PATCH, stride=PATCH)
        self.norm = nn.LayerNorm(width)
        if fusion:
            self.mel_conv2d = nn.Conv2d(1, width, (PATCH, PATCH * 3), stride=(PATCH, PATCH * 3))
            self.fusion_model = AFF(width)

    def forward(self, x: Tensor, local: Tensor | None = None) -> Tensor:
        """Patch tokens of the global image ``x`` ``[B, 1, 256, 256]``; with ``local``
        ``[B, 3, 256, 256]`` (three chunks of a long clip), fused in as LAION's aff_2d does."""
        x = self.proj(x)
        if local is not None:
            b, n = local.shape[:2]
            chunks = self.mel_conv2d(local.reshape(b * n, 1, *local.shape[2:]))
            chunks = chunks.unflatten(0, (b, n)).permute(0, 2, 3, 1, 4).flatten(3)  # the chunks side by side in time
            x = self.fusion_model(x, F.pad(chunks, (0, x.shape[-1] - chunks.shape[-1])))  # zeros to the global width
        return self.norm(x.flatten(2).transpose(1, 2))


class HTSAT_Swin_Transformer(MelInput):  # noqa: N801 - the official class name, for recognisability
    """HTS-AT: a Swin transformer over the log-mel "image" (1024 frames folded into 256x256).

    The clip embedding is the mean of the final tokens (the official ``embedding`` output).
    Fusion models fuse a clip longer than ``clip_samples`` from its whole log-mel (see
    :meth:`fusion_mels`); a batch holds clips of one length, so all of it is fused or none.
    """

    def __init__(self, config: AudioConfig) -> None:
        super().__init__(config)
        self.freq_ratio = SPEC_SIZE // config.mel_bins
        self.chunk_frames = config.clip_samples // config.hop + 1  # the frames of a clip_samples clip
        self.patch_embed = PatchEmbed(config.width, config.fusion)
        grid, n = SPEC_SIZE // PATCH, len(config.depths)
        rates = torch.linspace(0, config.drop_path, sum(config.depths)).tolist()
        self.layers = nn.ModuleList(
            BasicLayer(
                config.width * 2**i,
                grid // 2**i,
                config.depths[i],
                config.heads[i],
                config.window_size,
                rates[sum(config.depths[:i]) : sum(config.depths[: i + 1])],
                downsample=i < n - 1,
            )
            for i in range(n)
        )
        self.norm = nn.LayerNorm(config.features)
        bands = SPEC_SIZE // 2 ** (n - 1) // PATCH // self.freq_ratio
        self.tscam_conv = nn.Conv2d(config.features, config.classes, (bands, 3), padding=(0, 1))  # tagger head
        self.head = nn.Linear(config.classes, config.classes)
        self.apply(_init_htsat)

    def untrained_modules(self) -> list[nn.Module]:
        fusion = [self.patch_embed.mel_conv2d, self.patch_embed.fusion_model] if self.config.fusion else []
        return [self.tscam_conv, self.head, *fusion]

    def fold(self, mel: Tensor) -> Tensor:
        """``[B, C, frames, 64]`` -> ``[B, C, 256, 256]``: stretch to 1024 frames, stack 4 time chunks."""
        (b, c), (frames, bands) = mel.shape[:2], mel.shape[2:]
        target = SPEC_SIZE * self.freq_ratio
        if frames > target:
            raise ValueError(f"HTSAT takes at most {target} mel frames, got {frames} (clip too long)")
        if frames < target:
            mel = F.interpolate(mel, (target, bands), mode="bicubic", align_corners=True)
        x = mel.transpose(2, 3).reshape(b, c, bands, self.freq_ratio, target // self.freq_ratio)
        return x.transpose(2, 3).reshape(b, c, bands * self.freq_ratio, target // self.freq_ratio)

    def fusion_mels(self, mel: Tensor) -> tuple[Tensor, Tensor]:
        """A long clip's log-mel ``[B, 1, frames, 64]`` -> (global, local) of ``chunk_frames`` each.

        As LAION's ``get_audio_features(..., "fusion")``: the global mel is the whole one shrunk
        (torchvision's ``Resize``: bilinear, antialiased), the local ``[B, 3, ...]`` are chunks
        from the front, middle and back thirds of the possible starts. Officially each start is
        ``np.random.choice`` of its third; here it is the third's first start (an empty third:
        start 0, as officially), so the same file always gives the same embedding.
        """
        starts = [
            int(third[0]) if len(third) else 0
            for third in np.array_split(np.arange(mel.shape[2] - self.chunk_frames + 1), 3)
        ]
        local = torch.cat([mel[:, :, s : s + self.chunk_frames] for s in starts], dim=1)
        shrunk = F.interpolate(
            mel, (self.chunk_frames, mel.shape[3]), mode="bilinear", align_corners=False, antialias=True
        )
        return shrunk, local

    def forward(self, waveforms: Tensor) -> Tensor:
        mel, local = self.log_mel(waveforms), None
        if self.config.fusion and mel.shape[2] > self.chunk_frames:
            mel, local = self.fusion_mels(mel)
            local = self.fold(self.normalise(local))
        x = self.patch_embed(self.fold(self.normalise(mel)), local)
        for layer in self.layers:
            x = layer(x)
        return self.norm(x).mean(dim=1)


def _init_htsat(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def build_audio_encoder(config: AudioConfig) -> MelInput:
    return HTSAT_Swin_Transformer(config) if config.model == "HTSAT" else Cnn14(config)


def config_from_state(audio: dict[str, Tensor], front_end: AudioConfig) -> AudioConfig:
    """The architecture an ``audio_branch`` state dict holds, on the backbone's front-end.

    Raises KeyError when the keys are neither HTSAT's nor CNN14's.
    """
    if "patch_embed.proj.weight" in audio:
        n_layers = 1 + max(int(k.split(".")[1]) for k in audio if k.startswith("layers."))
        depths = tuple(
            len({k.split(".")[3] for k in audio if k.startswith(f"layers.{i}.blocks.")}) for i in range(n_layers)
        )
        heads = tuple(audio[f"layers.{i}.blocks.0.attn.relative_position_bias_table"].shape[1] for i in range(n_layers))
        table = audio["layers.0.blocks.0.attn.relative_position_bias_table"].shape[0]
        return replace(
            front_end,
            model="HTSAT",
            width=audio["patch_embed.proj.weight"].shape[0],
            depths=depths,
            heads=heads,
            window_size=(math.isqrt(table) + 1) // 2,
            classes=audio["head.weight"].shape[0],
            fusion="patch_embed.fusion_model.local_att.0.weight" in audio,
        )
    if "conv_block1.conv1.weight" in audio:
        return replace(
            front_end,
            model="PANN",
            width=audio["conv_block1.conv1.weight"].shape[0],
            classes=audio["fc_audioset.weight"].shape[0],
            fusion=False,
        )
    raise KeyError("neither HTSAT nor PANN CNN14 keys")
