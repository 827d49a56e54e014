"""The LAION-CLAP model family (laion-clap, clep-dg, compa-clap) as one configurable backbone.

A LAION-format model is ``audio_branch`` (HTSAT or CNN14, see ``_laion_audio``) +
``text_branch`` (a Hugging Face text encoder) + two MLP projections into a 512-d joint space
(plus ``audio_transform``/``text_transform`` and two logit scales, used only by LAION's own
training loss and kept so checkpoints load strictly). The family members differ in front-end,
clip length, text encoder and where their weights come from; each is a small subclass.

Nothing here touches the network: weights come from a local checkpoint, the text encoder's
config and tokenizer from a local folder (a setting, an environment variable, or the standard
Hugging Face cache). The audio architecture is read from the checkpoint's shapes, so a
checkpoint of another architecture is named, never half-loaded.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor, nn

from bench.api import Backbone, CheckpointError, FrontEnd, RequiredFile
from bench.api.soft_prompts import HFEncoder, PromptedText, TextTower, hf_tokens
from bench.backbones._laion_audio import AudioConfig, build_audio_encoder, config_from_state, model_name
from bench.backbones._weights import hf_cached, load_state, load_strict, local_tokenizer, require, setting_path

CONTEXT_LENGTH = 77  # LAION tokenises every text to exactly 77 tokens (padding="max_length")
FRONT_END_KEYS = ("audio_branch.spectrogram_extractor.", "audio_branch.logmel_extractor.")
HEAD_KEYS = ("audio_projection.", "text_projection.", "audio_transform.", "text_transform.", "logit_scale_")


@dataclass(frozen=True)
class TextModel:
    """One kind of text encoder: how it is built, pooled, and where soft prompts go."""

    kind: str
    hub_id: str
    env_var: str
    files: str
    insert_at: int  # 1: after <s> (RoBERTa); 0: at the start (T5 has no start token)
    pooling: str  # RoBERTa: its pooler (LAION); T5: mean over all positions, padding included (CompA)

    def cached_dir(self) -> Path | None:
        return hf_cached(self.hub_id)

    def build(self, config) -> nn.Module:
        from transformers import RobertaModel, T5EncoderModel

        return RobertaModel(config, add_pooling_layer=True) if self.kind == "roberta" else T5EncoderModel(config)


ROBERTA = TextModel("roberta", "roberta-base", "BENCH_ROBERTA_DIR", "config.json, vocab.json, merges.txt", 1, "pooler")
FLAN_T5 = TextModel("t5", "google/flan-t5-large", "BENCH_FLAN_T5_DIR", "config.json, tokenizer.json", 0, "mean")


def official_download(filename: str) -> Path | None:
    """Where ``laion_clap.CLAP_Module.load_ckpt`` leaves a downloaded checkpoint (found without importing it)."""
    spec = importlib.util.find_spec("laion_clap")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / filename


def describe_foreign(state: Mapping[str, Tensor]) -> str:
    """Name the model family a non-LAION state dict belongs to, as far as its keys tell."""
    roots = sorted({k.split(".")[0] for k in state})
    if "caption_encoder" in roots:
        return "it looks like an MS-CLAP checkpoint"
    if "audio" in roots and "visual" in roots:
        return "it looks like an AudioCLIP checkpoint"
    if "conv_block1" in roots:
        return "it looks like a PANNs AudioSet checkpoint"
    return f"its top-level keys are {roots[:6]}"


def text_kind(state: Mapping[str, Tensor]) -> str:
    keys = [k for k in state if k.startswith("text_branch.")]
    if any(k.startswith("text_branch.encoder.block.") for k in keys):
        return "t5"
    if any(k.startswith("text_branch.encoder.layer.") for k in keys):
        return "roberta"
    if any(k.startswith("text_branch.resblocks.") for k in keys):
        return "CLIP-transformer"
    return "none"


def _mlp(n_in: int, n_out: int) -> nn.Sequential:
    """LAION's projection: Linear -> ReLU -> Linear (keys ``0.*`` and ``2.*``)."""
    return nn.Sequential(nn.Linear(n_in, n_out), nn.ReLU(), nn.Linear(n_out, n_out))


class MLPLayers(nn.Module):
    """LAION's ``audio_transform``/``text_transform`` (training-loss only; keys ``sequential.0/3``)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.sequential = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Dropout(0.1), nn.Linear(width, width))


class LaionFamily(PromptedText, Backbone):
    """A LAION-format CLAP model. Subclasses set the front-end, text tower and weight sources.

    Construction settings are keyword arguments (strings accepted, as the CLI passes them):
    ``checkpoint`` (LAION-format file), ``audio_model`` (optional check, e.g. ``HTSAT-tiny``;
    the architecture itself is read from the checkpoint) and ``text_dir`` (the text encoder's
    config and tokenizer). ``required_files()`` lists them, resolved from environment variables.
    """

    embed_dim = 512
    text: ClassVar[TextModel] = ROBERTA
    mel_config: ClassVar[AudioConfig]  # the log-mel set-up; the architecture comes from the checkpoint
    checkpoint_env: ClassVar[str]
    checkpoint_what: ClassVar[str]

    max_prompt_tokens = CONTEXT_LENGTH - 3  # <s>, one word and </s> still fit

    @classmethod
    def options(cls) -> list[str]:
        return list(inspect.signature(cls.initial_state).parameters)[1:]

    def __init__(self, **settings) -> None:
        super().__init__()
        known = inspect.signature(self.initial_state).parameters
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise TypeError(f"{self.name}: unknown setting(s) {unknown}; known: {sorted(known)}")
        state, audio, text_dir, fresh, source = self.initial_state(**settings)
        self.source = source
        self._build(audio, text_dir)
        self._load(state, fresh, source)
        self.eval()

    # --- where the weights come from -------------------------------------------------------
    @classmethod
    def default_checkpoint(cls) -> Path | None:
        return None

    @classmethod
    def required_files(cls, checkpoint: str | None = None, text_dir: str | None = None) -> list[RequiredFile]:
        return [file for file, _ in cls.laion_files(checkpoint, text_dir)]

    @classmethod
    def laion_files(cls, checkpoint=None, text_dir=None) -> list[tuple[RequiredFile, str]]:
        """The checkpoint and the text encoder folder (settings, env vars or defaults), with their setting names."""
        text = setting_path(text_dir, cls.text.env_var, cls.text.cached_dir())
        checkpoint = setting_path(checkpoint, cls.checkpoint_env, cls.default_checkpoint())
        return [
            (RequiredFile(cls.checkpoint_what, checkpoint, cls.checkpoint_env), "checkpoint"),
            (
                RequiredFile(
                    f"{cls.text.hub_id} folder with {cls.text.files}",
                    text / "config.json" if text else None,
                    cls.text.env_var,
                ),
                "text_dir",
            ),
        ]

    def initial_state(self, checkpoint=None, audio_model=None, text_dir=None):
        """The LAION route: (state, audio config, text folder, keys allowed to be absent, source)."""
        files = self.laion_files(checkpoint, text_dir)
        require(self.name, files)
        path, text = files[0][0].path, files[1][0].path.parent
        state = load_state(path)
        return state, self.audio_architecture(state, audio_model, path), text, (), path

    def audio_architecture(self, state: Mapping[str, Tensor], audio_model: str | None, source: Path) -> AudioConfig:
        """The audio encoder the checkpoint holds; an error naming it if this backbone can't use it."""
        audio = {k[len("audio_branch.") :]: v for k, v in state.items() if k.startswith("audio_branch.")}
        if not audio:
            raise CheckpointError(
                f"{source}: not a LAION-CLAP checkpoint (no audio_branch.*; {describe_foreign(state)})"
            )
        try:
            config = config_from_state(audio, self.mel_config)
        except KeyError:
            raise CheckpointError(
                f"{source}: unknown LAION audio encoder (neither HTSAT nor PANN CNN14 keys)"
            ) from None
        found = model_name(config)
        wanted = str(audio_model) if audio_model else None
        if wanted and wanted != found:
            raise CheckpointError(f"{source} holds a {found} audio encoder, not {wanted} (drop audio_model= or fix it)")
        problem = self.unusable(config)
        if problem:
            raise CheckpointError(f"{source} holds a {found} audio encoder: {problem}")
        kind = text_kind(state)
        if kind != self.text.kind:
            raise CheckpointError(
                f"{source} holds a {kind} text encoder; {self.name} uses {self.text.hub_id} ({self.text.kind})"
            )
        return config

    def unusable(self, config: AudioConfig) -> str | None:
        """Why this backbone cannot use an audio architecture (None: it can)."""
        return None

    # --- building and loading --------------------------------------------------------------
    def _build(self, audio: AudioConfig, text_dir: Path) -> None:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(text_dir, local_files_only=True)
        self.tokenizer = local_tokenizer(text_dir)
        self.audio_config = audio
        self.audio_branch = build_audio_encoder(audio)
        self.text_branch = self.text.build(config).requires_grad_(False)
        self.audio_projection = _mlp(audio.features, self.embed_dim)
        self.text_projection = _mlp(config.hidden_size, self.embed_dim)
        self.audio_transform = MLPLayers(self.embed_dim).requires_grad_(False)
        self.text_transform = MLPLayers(self.embed_dim).requires_grad_(False)
        self.logit_scale_a = nn.Parameter(torch.tensor(1 / 0.07).log(), requires_grad=False)
        self.logit_scale_t = nn.Parameter(torch.tensor(1 / 0.07).log(), requires_grad=False)
        self.text_tower = TextTower(
            self._tokens,
            self.text_branch.get_input_embeddings(),
            HFEncoder(self.text_branch),
            self.text.pooling,
            self.text.insert_at,
            pooler=getattr(self.text_branch, "pooler", None),
        )

    def _load(self, state: Mapping[str, Tensor], fresh: tuple[str, ...], source: Path) -> None:
        """Strict load, except that keys under ``fresh`` keep their initialisation."""
        kept = {k: v for k, v in self.state_dict().items() if k.startswith(fresh)} if fresh else {}
        load_strict(self, {**state, **kept}, source)
        if self.audio_branch.spectrogram_extractor.mismatch() > 1e-3:
            raise CheckpointError(f"{source}: its STFT kernels are not a Hann-windowed DFT (another front-end?)")

    def train(self, mode: bool = True) -> LaionFamily:
        """The frozen text encoder stays in eval mode (no dropout) even while fine-tuning."""
        super().train(mode)
        self.text_branch.eval()
        return self

    @property
    def device(self) -> torch.device:
        return self.logit_scale_a.device

    # --- audio -----------------------------------------------------------------------------
    @property
    def front_end(self) -> FrontEnd:
        """A fusion model's official front-end keeps clips over ``clip_seconds`` whole: LAION's
        file path gives its encoder their whole log-mel, to fuse (short clips are padded as always)."""
        chosen = super().front_end
        return replace(chosen, keep_longer=True) if self.audio_config.fusion and chosen.name == "official" else chosen

    def audio_features(self, waveforms: Tensor) -> Tensor:
        return self.audio_branch(waveforms.to(self.device))

    def project_audio(self, features: Tensor) -> Tensor:
        return self.audio_projection(features)

    # --- text ------------------------------------------------------------------------------
    def _tokens(self, texts: Sequence[str], prompt_length: int) -> tuple[Tensor, Tensor]:
        """77 tokens as LAION tokenises (max-length padding, truncated); context vectors take
        the place of trailing padding, so every prompt stays 77 long (RoBERTa numbers positions
        itself from ``inputs_embeds``; T5 uses relative positions)."""
        if prompt_length > CONTEXT_LENGTH - 3:
            raise ValueError(f"{self.name}: at most {CONTEXT_LENGTH - 3} context vectors fit in 77 tokens")
        return hf_tokens(
            self.tokenizer, texts, padding="max_length", truncation=True, max_length=CONTEXT_LENGTH - prompt_length
        )

    def project_text(self, features: Tensor) -> Tensor:
        return self.text_projection(features)

    # --- training --------------------------------------------------------------------------
    def parameter_groups(self) -> Mapping[str, list[nn.Parameter]]:
        return {
            "audio_encoder": self.audio_branch.embedding_parameters(),
            "heads": [*self.audio_projection.parameters(), *self.text_projection.parameters()],
        }
