"""wav2clip: Wav2CLIP's audio encoder distilled into CLIP's space, with CLIP's text tower.

Audio, as the ``wav2clip`` package defines it: log-power spectrogram (n_fft 512, hop 353,
16 kHz) -> ResNet-18 (one input channel, no classifier) -> 512-512-512 MLP ``audio_transform``
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

from bench.backbones._weights import hf_cached, load_state, load_strict, local_tokenizer, require, setting_path, strip_prefix
from bench.backbones.clip_text import ClipTextPrompts
from bench.contracts import Backbone, CheckpointError, RequiredFile

SAMPLE_RATE = 16_000
N_FFT, HOP = 512, 353
TRAINING_ONLY = ("image_transform.", "loss_fn")


class ResNet18Audio(nn.Module):
    """torchvision's ResNet-18 on a one-channel log-power spectrogram, pooled, no classifier."""

    def __init__(self) -> None:
        super().__init__()
        import torchaudio
        from torchvision.models.resnet import BasicBlock, ResNet

        self.spectrogram = torchaudio.transforms.Spectrogram(n_fft=N_FFT, hop_length=HOP)
        resnet = ResNet(BasicBlock, [2, 2, 2, 2])
        resnet.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool"):
            self.add_module(name, getattr(resnet, name))

    def forward(self, waveforms: Tensor) -> Tensor:
        x = torch.log(self.spectrogram(waveforms.unsqueeze(1)) + 1e-7)
        dims = (1, 2, 3)
        x = (x - x.mean(dims, keepdim=True)) / (x.std(dims, keepdim=True) + 1e-9)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)


class MLP(nn.Module):
    """Wav2CLIP's ``MLPLayers``: linear, ReLU, dropout, linear (state keys ``sequential.0/3``)."""

    def __init__(self, width: int = 512, dropout: float = 0.1) -> None:
        super().__init__()
        self.sequential = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout), nn.Linear(width, width))

    def forward(self, x: Tensor) -> Tensor:
        return self.sequential(x)


class Wav2Clip(ClipTextPrompts, Backbone):
    name = "wav2clip"
    sample_rate = SAMPLE_RATE
    clip_seconds = 5.0
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
        self.audio_encoder = ResNet18Audio()
        self.audio_transform = MLP()
        load_strict(self.audio_encoder, strip_prefix(state, "audio_encoder."), f"{ckpt} (audio_encoder)")
        load_strict(self.audio_transform, strip_prefix(state, "audio_transform."), f"{ckpt} (audio_transform)")
        self.text_model = _clip_text_model(CLIPTextModelWithProjection, folder)
        if self.text_model.config.projection_dim != self.embed_dim:
            raise CheckpointError(f"{folder}: CLIP projection is {self.text_model.config.projection_dim}-d, Wav2CLIP's space is 512-d")
        self.text_model.requires_grad_(False)
        self.text_model.text_projection.requires_grad_(True)
        self.tokenizer = local_tokenizer(folder)
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
    def _token_embeddings(self, ids: Tensor) -> Tensor:
        return self.text_model.text_model.embeddings.token_embedding(ids)

    def _pooled(self, embeds: Tensor, end: Tensor) -> Tensor:
        from transformers.modeling_attn_mask_utils import _create_4d_causal_attention_mask

        tower = self.text_model.text_model
        hidden = tower.embeddings(inputs_embeds=embeds)
        causal = _create_4d_causal_attention_mask(embeds.shape[:2], hidden.dtype, device=hidden.device)
        hidden = tower.encoder(inputs_embeds=hidden, causal_attention_mask=causal).last_hidden_state
        hidden = tower.final_layer_norm(hidden)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), end]

    def text_features(self, texts: Sequence[str]) -> Tensor:
        ids, end = self._clip_tokens(texts, self.device)
        return self._pooled(self._token_embeddings(ids), end)

    def project_text(self, features: Tensor) -> Tensor:
        return self.text_model.text_projection(features)

    @property
    def context_width(self) -> int:
        return self.text_model.config.hidden_size

    def prompt_features(self, context: Tensor, texts: Sequence[str]) -> Tensor:
        return self._clip_prompt_features(context, texts, self.device)

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
        raise FileNotFoundError(f"{folder}: no CLIP text model there ({err})") from err
    finally:
        hf_logging.set_verbosity(verbosity)
    missing = [k for k in info["missing_keys"] if not k.endswith("position_ids")]
    if missing or info["mismatched_keys"]:
        raise CheckpointError(f"{folder}: CLIP text weights incomplete (missing e.g. {missing[:3]})")
    return model
