"""ms-clap: Microsoft CLAP, 2023 (HTSAT-tiny + GPT-2) and 2022 (CNN14 + BERT), as msclap defines them.

Weights: ``CLAP_weights_2023.pth`` / ``CLAP_weights_2022.pth`` (state dict under ``model``),
from ``checkpoint=`` or ``BENCH_MSCLAP_2023_CKPT`` / ``BENCH_MSCLAP_2022_CKPT``, else the
Hugging Face cache of ``microsoft/msclap``. The text model's config and tokenizer come from
``text_dir=`` (``BENCH_MSCLAP_*_TEXT``, else the cached ``gpt2`` / ``bert-base-uncased``);
its weights are in the CLAP file. Sizes (CNN14 widths, HTSAT depths and heads) are read from
the checkpoint's shapes, so small random-weight files in the same format build small models.

What is reproduced as msclap does it:
- front-ends: STFT + log-mel with the checkpoint's own filter bank (the STFT by FFT, the
  stored torchlibrosa kernels checked to be the Hann DFT it equals). The 2023
  HTSAT computes its mel bank for 32 kHz (msclap's HTSAT config) although it is fed 44.1 kHz,
  so its bands sit ~1.38x higher than their nominal frequencies: reproduced, not fixed,
  because the weights were trained that way;
- the HTSAT network itself is msclap's class (loaded without ``msclap/__init__``, which
  silences every warning of the process and imports the hub client), run on its usual path
  (the whole clip as one 1024-frame image); CNN14 is the LAION family's implementation;
- text: BERT [CLS] of 100-token max-length padding; GPT-2 with `` <|endoftext|>`` appended,
  ``!`` (id 0) added as the special padding token (so a ``!`` in the text is id 0 too) to 77
  tokens, pooled at the count of non-zero ids; like msclap, nothing is truncated.

Front-ends (``front_end=``): ``official`` is ``CLAPWrapper.load_audio_into_tensor``: torchaudio's
sinc resampler, channels laid end to end (msclap flattens stereo), repeat-padded to 5 s / 7 s,
longer clips cut from the start where the wrapper crops at random; ``paper`` is soxr, the mean
of the channels, 5 s zero-padded.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.api import Backbone, CheckpointError, RequiredFile
from bench.api.soft_prompts import HFEncoder, PromptedText, TextTower, hf_tokens
from bench.backbones._weights import (
    check_input_width,
    hf_cached,
    hf_cached_file,
    load_state,
    load_strict,
    local_text_model,
    local_tokenizer,
    require,
    setting_path,
    strip_prefix,
)

SAMPLE_RATE = 44_100
WINDOW, HOP, N_MELS, FMIN = 1024, 320, 64, 50
GPT2_PAD_ID = 0  # msclap pads GPT-2 with "!", which is token 0


def msclap_models() -> ModuleType:
    """``msclap.models`` imported under a private name, skipping ``msclap/__init__``."""
    name = "bench.backbones._msclap_models"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec("msclap")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("ms-clap needs the msclap package (pip install msclap)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    module_spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    return module


class Projection(nn.Module):
    """msclap's projection head: linear, then a GELU residual branch, then layer norm."""

    def __init__(self, d_in: int, d_out: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.linear1 = nn.Linear(d_in, d_out, bias=False)
        self.linear2 = nn.Linear(d_out, d_out, bias=False)
        self.layer_norm = nn.LayerNorm(d_out)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        embed = self.linear1(x)
        return self.layer_norm(embed + self.drop(self.linear2(F.gelu(embed))))


def cnn14_from_state(state: Mapping[str, Tensor]) -> nn.Module:
    """PANNs' CNN14 (the LAION family's implementation) with msclap 2022's 44.1 kHz front-end."""
    from bench.backbones._laion_audio import AudioConfig, Cnn14

    config = AudioConfig(
        "PANN",
        sample_rate=SAMPLE_RATE,
        window=WINDOW,
        hop=HOP,
        mel_bins=N_MELS,
        fmin=FMIN,
        fmax=14_000,
        classes=state["fc_audioset.weight"].shape[0],
        width=state["conv_block1.conv1.weight"].shape[0],
    )
    return Cnn14(config)


class Htsat(nn.Module):
    """msclap's HTSAT (a Swin transformer on the mel image), returning its latent output."""

    def __init__(self, **sizes) -> None:
        super().__init__()
        from bench.backbones._laion_audio import Spectrogram

        models = msclap_models()
        self.htsat = models.htsat.HTSAT_Swin_Transformer(config=models.config, **sizes)
        config = models.config  # the same STFT, by FFT instead of 1024-tap convolutions
        self.htsat.spectrogram_extractor = Spectrogram(config.window_size, config.hop_size)

    def forward(self, waveforms: Tensor) -> Tensor:
        return self.htsat(waveforms)["latent_output"]

    @property
    def out_features(self) -> int:
        return self.htsat.num_features

    @property
    def spectrogram_extractor(self) -> nn.Module:
        return self.htsat.spectrogram_extractor

    def embedding_parameters(self) -> list[nn.Parameter]:
        """Parameters that shape the latent output (the AudioSet tagging head does not)."""
        unused = {id(p) for m in (self.htsat.tscam_conv, self.htsat.head) for p in m.parameters()}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in unused]

    @classmethod
    def from_state(cls, state: Mapping[str, Tensor]) -> Htsat:
        depths, heads, window = [], [], None
        layer = 0
        while f"htsat.layers.{layer}.blocks.0.norm1.weight" in state:
            depths.append(
                sum(1 for k in state if k.startswith(f"htsat.layers.{layer}.blocks.") and k.endswith(".norm1.weight"))
            )
            table = state[f"htsat.layers.{layer}.blocks.0.attn.relative_position_bias_table"]
            heads.append(table.shape[1])
            window = (int(round(table.shape[0] ** 0.5)) + 1) // 2
            layer += 1
        if not depths:
            raise CheckpointError("no HTSAT layers under audio_encoder.base.htsat.layers.*")
        return cls(
            embed_dim=state["htsat.patch_embed.proj.weight"].shape[0],
            depths=depths,
            num_heads=heads,
            window_size=window,
            num_classes=state["htsat.head.weight"].shape[0],
        )


class Branch(nn.Module):
    """An encoder and its projection, named as in msclap's state dict (``base``/``projection``)."""

    def __init__(self, base: nn.Module, projection: Projection) -> None:
        super().__init__()
        self.base = base
        self.projection = projection


class MsClap(PromptedText, Backbone):
    """Shared by both versions; subclasses set the encoders and text conventions."""

    sample_rate = SAMPLE_RATE
    embed_dim = 1024
    pad_mode = "repeat"
    official_recipe = {"resampler": "torchaudio", "flatten": True}  # CLAPWrapper.read_audio
    version: ClassVar[str]
    text_repo: ClassVar[str]
    text_len: ClassVar[int]
    text_pooling: ClassVar[str]  # GPT-2: its last token, contexts first; BERT: [CLS], contexts after it
    build_audio: ClassVar[Callable[[Mapping[str, Tensor]], nn.Module]]

    def __init__(self, checkpoint: str | None = None, text_dir: str | None = None) -> None:
        super().__init__()
        files = self.required_files(checkpoint=checkpoint, text_dir=text_dir)
        require(self.name, zip(files, ("checkpoint", "text_dir")))
        ckpt, folder = files[0].path, files[1].path
        state = load_state(ckpt, key="model")
        audio_base = strip_prefix(state, "audio_encoder.base.")
        try:
            audio = type(self).build_audio(audio_base)
        except KeyError as err:
            raise CheckpointError(
                f"{ckpt}: no {err} under audio_encoder.base (not an {self.name} checkpoint?)"
            ) from err
        text = local_text_model(folder)
        joint = state.get("audio_encoder.projection.linear1.weight")
        if joint is None:
            raise CheckpointError(f"{ckpt}: no audio_encoder.projection (not an {self.name} checkpoint?)")
        check_input_width(
            ckpt, "audio_encoder.projection.linear1.weight", state, audio.out_features, "the audio encoder"
        )
        self.audio_encoder = Branch(audio, Projection(joint.shape[1], joint.shape[0]))
        self.caption_encoder = Branch(text, Projection(text.config.hidden_size, joint.shape[0]))
        self.logit_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))
        load_strict(self, state, ckpt)
        if audio.spectrogram_extractor.mismatch() > 1e-3:
            raise CheckpointError(f"{ckpt}: the STFT kernels are not the Hann DFT msclap's front-end uses")
        self.caption_encoder.base.requires_grad_(False)
        self.tokenizer = local_tokenizer(folder)
        self.text_tower = TextTower(
            self._tokens,
            text.get_input_embeddings(),
            HFEncoder(text),
            self.text_pooling,  # BERT's token types stay 0
            insert_at=0 if self.text_pooling == "last" else 1,
            pad_id=GPT2_PAD_ID,
        )
        self.eval()

    @classmethod
    def required_files(cls, checkpoint: str | None = None, text_dir: str | None = None) -> list[RequiredFile]:
        tag = f"BENCH_MSCLAP_{cls.version}"
        filename = f"CLAP_weights_{cls.version}.pth"
        return [
            RequiredFile(
                filename,
                setting_path(checkpoint, f"{tag}_CKPT", hf_cached_file("microsoft/msclap", filename)),
                f"{tag}_CKPT",
            ),
            RequiredFile(
                f"{cls.text_repo} config and tokenizer folder",
                setting_path(text_dir, f"{tag}_TEXT", hf_cached(cls.text_repo)),
                f"{tag}_TEXT",
            ),
        ]

    @property
    def device(self) -> torch.device:
        return self.logit_scale.device

    # --- audio -----------------------------------------------------------------------------
    def audio_features(self, waveforms: Tensor) -> Tensor:
        return self.audio_encoder.base(waveforms)

    def project_audio(self, features: Tensor) -> Tensor:
        return self.audio_encoder.projection(features)

    # --- text ------------------------------------------------------------------------------
    def _tokens(self, texts: Sequence[str], prompt_length: int = 0) -> tuple[Tensor, Tensor]:
        """As msclap's ``preprocess_text``: GPT-2 texts end in `` <|endoftext|>``; padded to
        ``text_len`` and never truncated (a longer text keeps all its tokens; the batch is
        padded to its longest). Context vectors lengthen the sequence."""
        texts = [f"{text} <|endoftext|>" for text in texts] if self.text_pooling == "last" else list(texts)
        longest = max((len(ids) for ids in self.tokenizer(texts)["input_ids"]), default=0)
        return hf_tokens(self.tokenizer, texts, padding="max_length", max_length=max(self.text_len, longest))

    def project_text(self, features: Tensor) -> Tensor:
        return self.caption_encoder.projection(features)

    def parameter_groups(self) -> Mapping[str, list[nn.Parameter]]:
        return {
            "audio_encoder": self.audio_encoder.base.embedding_parameters(),
            "heads": [*self.audio_encoder.projection.parameters(), *self.caption_encoder.projection.parameters()],
        }


class MsClap2023(MsClap):
    """HTSAT-tiny + GPT-2, 7 s clips; the text is pooled at its last token."""

    name = "ms-clap"
    clip_seconds = 7.0
    version = "2023"
    text_repo = "gpt2"
    text_len = 77
    max_prompt_tokens = 1024 - text_len  # GPT-2 positions
    text_pooling = "last"
    build_audio = Htsat.from_state

    def __init__(self, checkpoint: str | None = None, text_dir: str | None = None) -> None:
        super().__init__(checkpoint=checkpoint, text_dir=text_dir)
        self.tokenizer.add_special_tokens({"pad_token": "!"})  # as msclap: "!" becomes special, so "!!" is two pads
        if self.tokenizer.pad_token_id != GPT2_PAD_ID:
            raise CheckpointError(f"ms-clap: the GPT-2 tokenizer maps '!' to {self.tokenizer.pad_token_id}, not 0")


class MsClap2022(MsClap):
    """CNN14 + BERT, 5 s clips; the text is the [CLS] output."""

    name = "ms-clap-2022"
    clip_seconds = 5.0
    version = "2022"
    text_repo = "bert-base-uncased"
    text_len = 100
    max_prompt_tokens = 512 - text_len  # BERT positions
    text_pooling = "first"
    build_audio = staticmethod(cnn14_from_state)
