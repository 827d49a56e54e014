"""wav2clip: Wav2CLIP's audio encoder distilled into CLIP's space, with CLIP's text tower.

Audio, as the ``wav2clip`` package defines it: log-power spectrogram (n_fft 512, hop 353,
16 kHz) -> ResNet-18 (one input channel, no classifier; widths read from the checkpoint) -> 512-512-512 MLP ``audio_transform``
into the CLIP ViT-B/32 embedding space. Weights: ``Wav2CLIP.pt`` (a flat state dict whose
``audio_encoder.*`` / ``audio_transform.*`` entries we read; the training-time
``image_transform.*`` / ``loss_fn*`` entries are skipped by name) from ``checkpoint=``,
``BENCH_WAV2CLIP_CKPT``, or the torch hub cache where ``wav2clip.get_model`` leaves it.
Text: ``CLIPTextModelWithProjection`` from ``text_dir=`` / ``BENCH_WAV2CLIP_TEXT`` / the
cached ``openai/clip-vit-base-patch32``.

Difference from the package: it z-scores the log spectrogram with the mean and std of the
whole batch, so a clip's embedding depends on its batch-mates; here each clip is normalised
by its own mean and std (the two agree for a batch of one, which is how the package embeds a
single file).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from bench.api import Backbone, CheckpointError, MissingFileError, RequiredFile
from bench.api.soft_prompts import PromptedText
from bench.backbones._weights import (
    CONFIG_BUFFERS,
    check_input_width,
    hf_cached,
    load_state,
    load_strict,
    local_tokenizer,
    require,
    setting_path,
    strip_prefix,
)
from bench.backbones.clip_text import MAX_PROMPT_TOKENS, clip_tower

SAMPLE_RATE = 16_000
N_FFT, HOP = 512, 353
TRAINING_ONLY = ("image_transform.", "loss_fn")


class ResNetAudio(nn.Module):
    """ResNet-18 (torchvision's blocks) on a one-channel log-power spectrogram, pooled, no classifier.

    ``width`` (64 in Wav2CLIP) and ``blocks`` are read from a checkpoint, so small test files
    build small networks with the same parameter names.
    """

    def __init__(self, width: int = 64, blocks: Sequence[int] = (2, 2, 2, 2)) -> None:
        super().__init__()
        import torchaudio
        from torchvision.models.resnet import BasicBlock

        self.spectrogram = torchaudio.transforms.Spectrogram(n_fft=N_FFT, hop_length=HOP)
        self.conv1 = nn.Conv2d(1, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        n_in = width
        for i, count in enumerate(blocks):
            planes, stride = width * 2**i, 1 if i == 0 else 2
            down = None
            if stride != 1 or n_in != planes:
                down = nn.Sequential(nn.Conv2d(n_in, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
            layer = [BasicBlock(n_in, planes, stride, down), *(BasicBlock(planes, planes) for _ in range(count - 1))]
            self.add_module(f"layer{i + 1}", nn.Sequential(*layer))
            n_in = planes
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.out_features = n_in

    def forward(self, waveforms: Tensor) -> Tensor:
        x = torch.log(self.spectrogram(waveforms.unsqueeze(1)) + 1e-7)
        dims = (1, 2, 3)
        x = (x - x.mean(dims, keepdim=True)) / (x.std(dims, keepdim=True) + 1e-9)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)

    @classmethod
    def from_state(cls, state: Mapping[str, Tensor]) -> ResNetAudio:
        blocks = [len({k.split(".")[1] for k in state if k.startswith(f"layer{i}.")}) for i in range(1, 5)]
        return cls(state["conv1.weight"].shape[0], blocks)


class MLP(nn.Module):
    """Wav2CLIP's ``MLPLayers``: linear, ReLU, dropout, linear (state keys ``sequential.0/3``)."""

    def __init__(self, n_in: int = 512, hidden: int = 512, n_out: int = 512, dropout: float = 0.1) -> None:
        super().__init__()
        self.sequential = nn.Sequential(
            nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_out)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.sequential(x)

    @classmethod
    def from_state(cls, state: Mapping[str, Tensor]) -> MLP:
        hidden, n_in = state["sequential.0.weight"].shape
        return cls(n_in, hidden, state["sequential.3.weight"].shape[0])


class Wav2Clip(PromptedText, Backbone):
    name = "wav2clip"
    sample_rate = SAMPLE_RATE
    clip_seconds = 5.0
    max_prompt_tokens = MAX_PROMPT_TOKENS
    official_recipe = {"resampler": "librosa", "n_samples": None}  # embed_audio(librosa.load(f, sr=16000))
    embed_dim = 512

    def __init__(self, checkpoint: str | None = None, text_dir: str | None = None) -> None:
        super().__init__()
        from transformers import CLIPTextModelWithProjection

        files = self.required_files(checkpoint=checkpoint, text_dir=text_dir)
        require(self.name, zip(files, ("checkpoint", "text_dir")))
        ckpt, folder = files[0].path, files[1].path
        state = load_state(ckpt)
        unknown = [k for k in state if not k.startswith(("audio_encoder.", "audio_transform.", *TRAINING_ONLY))]
        if unknown:
            raise CheckpointError(f"{ckpt}: unexpected keys for Wav2CLIP, e.g. {sorted(unknown)[:3]}")
        encoder_state, transform_state = strip_prefix(state, "audio_encoder."), strip_prefix(state, "audio_transform.")
        try:
            self.audio_encoder = ResNetAudio.from_state(encoder_state)
            self.audio_transform = MLP.from_state(transform_state)
        except KeyError as err:
            raise CheckpointError(f"{ckpt}: no {err} under audio_encoder/audio_transform (not Wav2CLIP.pt?)") from err
        check_input_width(
            ckpt, "audio_transform.sequential.0.weight", state, self.audio_encoder.out_features, "the ResNet"
        )
        load_strict(self.audio_encoder, encoder_state, f"{ckpt} (audio_encoder)")
        load_strict(self.audio_transform, transform_state, f"{ckpt} (audio_transform)")
        self.text_model = _clip_text_model(CLIPTextModelWithProjection, folder)
        joint = self.audio_transform.sequential[3].out_features
        if self.text_model.config.projection_dim != joint:
            raise CheckpointError(
                f"{folder}: CLIP projection is {self.text_model.config.projection_dim}-d, the audio side {joint}-d"
            )
        self.text_model.requires_grad_(False)
        self.text_model.text_projection.requires_grad_(True)
        self.tokenizer = local_tokenizer(folder)
        self.text_tower = clip_tower(
            self.tokenizer, self.text_model.text_model.embeddings.token_embedding, self._encode_text
        )
        self.eval()

    @classmethod
    def required_files(cls, checkpoint: str | None = None, text_dir: str | None = None) -> list[RequiredFile]:
        hub = Path(torch.hub.get_dir()) / "checkpoints" / "Wav2CLIP.pt"
        return [
            RequiredFile("Wav2CLIP.pt", setting_path(checkpoint, "BENCH_WAV2CLIP_CKPT", hub), "BENCH_WAV2CLIP_CKPT"),
            RequiredFile(
                "CLIP ViT-B/32 text model folder (openai/clip-vit-base-patch32)",
                setting_path(text_dir, "BENCH_WAV2CLIP_TEXT", hf_cached("openai/clip-vit-base-patch32")),
                "BENCH_WAV2CLIP_TEXT",
            ),
        ]

    @property
    def device(self) -> torch.device:
        return self.text_model.text_projection.weight.device

    def audio_features(self, waveforms: Tensor) -> Tensor:
        return self.audio_encoder(waveforms)

    def project_audio(self, features: Tensor) -> Tensor:
        return self.audio_transform(features)

    # --- text: transformers' CLIP text tower driven through its parts ----------------------
    def _encode_text(self, embeds: Tensor, _mask: Tensor) -> Tensor:
        from transformers.modeling_attn_mask_utils import _create_4d_causal_attention_mask

        tower = self.text_model.text_model
        hidden = tower.embeddings(inputs_embeds=embeds)
        causal = _create_4d_causal_attention_mask(embeds.shape[:2], hidden.dtype, device=hidden.device)
        hidden = tower.encoder(inputs_embeds=hidden, causal_attention_mask=causal).last_hidden_state
        return tower.final_layer_norm(hidden)

    def project_text(self, features: Tensor) -> Tensor:
        return self.text_model.text_projection(features)

    def parameter_groups(self) -> Mapping[str, list[nn.Parameter]]:
        return {
            "audio_encoder": list(self.audio_encoder.parameters()),
            "heads": [*self.audio_transform.parameters(), *self.text_model.text_projection.parameters()],
        }


def _clip_text_model(model_class: type, folder: Path) -> nn.Module:
    """A CLIP text tower from local files; a weight missing from them is an error, not random."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the full CLIP checkpoint's vision weights are expected extras
    try:
        model, info = model_class.from_pretrained(folder, local_files_only=True, output_loading_info=True)
    except OSError as err:
        raise MissingFileError(f"{folder}: no CLIP text model there ({err})") from err
    finally:
        hf_logging.set_verbosity(verbosity)
    missing = [k for k in info["missing_keys"] if not CONFIG_BUFFERS.search(k)]
    if missing or info["mismatched_keys"]:
        raise CheckpointError(f"{folder}: CLIP text weights incomplete (missing e.g. {missing[:3]})")
    return model
