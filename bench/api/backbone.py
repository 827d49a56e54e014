"""The backbone contract: a CLAP-style dual encoder split at the projections::

    waveforms ─ audio_features ─▶ project_audio ─▶ joint space (embed_dim)
    texts     ─ text_features  ─▶ project_text  ─▶ joint space
    [context vectors] + texts ─ prompt_features ─▶ project_text

The split lets the core compute the frozen parts once: the text encoder is always frozen,
and when a backbone's audio encoder is not trained its features are computed once per clip.
A plugin is a class registered under the entry-point group ``bench.backbones``; `bench`
instantiates it with its ``--backbone-opt`` keywords.
"""

from __future__ import annotations

import abc
import hashlib
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from bench.api.errors import CheckpointError
from bench.api.frontend import FrontEnd, choose, paper


@dataclass(frozen=True)
class RequiredFile:
    """A local file a plugin needs, for `bench list` and for one-line 'put X at Y' errors.

    ``releases``: ``(name, size in bytes, sha256)`` of the official files it may be, so that
    `bench list` and `bench plugin check` can tell an official release from any other file
    (:func:`bench.plugins.releases.identify`).
    """

    what: str
    path: Path | None
    env_var: str | None = None
    releases: tuple[tuple[str, int, str], ...] = ()

    @property
    def found(self) -> bool:
        return self.path is not None and Path(self.path).exists()


class Backbone(nn.Module, abc.ABC):
    """A contrastive audio-text model.

    Identity (class attributes): ``name``, ``sample_rate`` (Hz of the waveforms it receives),
    ``clip_seconds`` (the clip length of its official front-end), ``pad_mode`` ("zero",
    "repeat" or "repeatpad", how it pads short clips; see bench.audio.io.fit_length),
    ``embed_dim`` (joint space).

    Waveforms arrive as a float32 tensor ``[batch, samples]``, mono, at ``sample_rate``, as
    the chosen front-end (:meth:`front_ends`, option ``front_end``) prepares them: all of one
    length (a front-end that keeps each clip's own length, or clips longer than its
    ``n_samples``, sends one call per length).
    Outputs are *not* normalised; the core normalises.
    """

    name: ClassVar[str]
    sample_rate: ClassVar[int]
    clip_seconds: ClassVar[float]
    embed_dim: ClassVar[int]
    pad_mode: ClassVar[Literal["zero", "repeat", "repeatpad"]] = "zero"
    official_recipe: ClassVar[Mapping[str, object]] = {}
    front_end_name: str = "official"

    # --- front-ends ------------------------------------------------------------------------
    @classmethod
    def front_ends(cls) -> dict[str, FrontEnd]:
        """Named recipes from file to waveform (:mod:`bench.api.frontend`, run by :mod:`bench.audio.frontend`): ``official``, ``paper``.

        ``official`` resamples with soxr and fits clips to ``clip_seconds`` by ``pad_mode``,
        except where ``official_recipe`` (:class:`FrontEnd` fields) says how the backbone's
        own package loads a file: ``resampler``, ``flatten``, ``quantise``, ``vad``, or
        ``n_samples=None`` to keep each clip's own length.
        """
        n_samples = int(round(cls.sample_rate * cls.clip_seconds))
        official = replace(FrontEnd("official", cls.sample_rate, n_samples, cls.pad_mode), **cls.official_recipe)
        return {"official": official, "paper": paper(cls.sample_rate)}

    @property
    def front_end(self) -> FrontEnd:
        return choose(self.front_ends(), self.front_end_name, self.name)

    def use_front_end(self, name: str) -> None:
        """Choose a front-end by name (the ``front_end`` option); an unknown name is an error."""
        choose(self.front_ends(), name, self.name)
        self.front_end_name = name

    # --- audio -----------------------------------------------------------------------------
    @abc.abstractmethod
    def audio_features(self, waveforms: Tensor) -> Tensor:
        """Audio encoder output before the projection, ``[B, F_audio]``."""

    @abc.abstractmethod
    def project_audio(self, features: Tensor) -> Tensor:
        """Audio projection into the joint space, ``[B, embed_dim]``."""

    def encode_audio(self, waveforms: Tensor) -> Tensor:
        return self.project_audio(self.audio_features(waveforms))

    def audio_frames(self, waveforms: Tensor) -> Tensor:
        """Optional: frame-level encoder output ``[B, T, F]`` (for methods such as SELM that
        read a sequence); a backbone without it leaves this as is."""
        raise NotImplementedError(f"{self.name} gives no frame-level features")

    @classmethod
    def has_frames(cls) -> bool:
        return cls.audio_frames is not Backbone.audio_frames

    # --- text ------------------------------------------------------------------------------
    @abc.abstractmethod
    def text_features(self, texts: Sequence[str]) -> Tensor:
        """Frozen text encoder output before the projection, ``[B, F_text]``."""

    @abc.abstractmethod
    def project_text(self, features: Tensor) -> Tensor:
        """Text projection into the joint space, ``[..., embed_dim]`` (any leading dims)."""

    def encode_text(self, texts: Sequence[str]) -> Tensor:
        return self.project_text(self.text_features(texts))

    # --- soft prompts (CoOp-style) ---------------------------------------------------------
    max_prompt_tokens: ClassVar[int | None] = None  # context vectors the text encoder holds (None: unknown)

    @property
    @abc.abstractmethod
    def context_width(self) -> int:
        """Width of one token embedding of the text encoder (size of one context vector)."""

    @abc.abstractmethod
    def prompt_features(self, context: Tensor, texts: Sequence[str]) -> Tensor:
        """Encode ``[context vectors] + tokens(text)`` for every context and every text.

        ``context`` is ``[S, N_p, context_width]`` (S prompts of N_p learnable vectors).
        The vectors go in through ``inputs_embeds`` right after the start token (or at the
        start where the encoder has none); attention mask and positions cover them.
        Returns ``[S, len(texts), F_text]``. The text encoder stays frozen, but gradients
        must flow into ``context``. With ``N_p == 0`` the result equals ``text_features``.
        """

    # --- training --------------------------------------------------------------------------
    @abc.abstractmethod
    def parameter_groups(self) -> Mapping[str, list[nn.Parameter]]:
        """Trainable parameters for the fine-tune stage.

        Keys: ``"audio_encoder"`` (trained at the low LR; may be empty when the encoder is
        kept frozen) and ``"heads"`` (projections and other trainables, high LR). The text
        encoder is never listed: it stays frozen.
        """

    init_temperature: ClassVar[float] = 0.07

    # --- weights ---------------------------------------------------------------------------
    @classmethod
    def options(cls) -> list[str] | None:
        """The ``--backbone-opt`` names it accepts (default: ``__init__``'s keywords; None: any),
        so a misspelt option is refused before any work starts."""
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    @classmethod
    def required_files(cls) -> list[RequiredFile]:
        """Local files this backbone needs before it can be built (none by default).

        A classmethod, so `bench list` can report found/missing without building the model.
        It may take the backbone's options that name files (``checkpoint=...``) as keyword
        arguments; the run folder's name then follows the files those options choose.
        """
        return []

    def trainable_state(self) -> dict[str, Tensor]:
        """What fine-tuning may change, which is all a fine-tuned checkpoint holds.

        That is the grouped parameters plus the persistent buffers of the modules that own
        them: a BatchNorm layer trained in ``train()`` mode also moves its running statistics,
        and a checkpoint (or a per-fold reset) without them would not be the trained model.
        """
        trained = {id(p) for group in self.parameter_groups().values() for p in group}
        state = {k: v.detach().clone() for k, v in self.named_parameters() if id(v) in trained}
        for prefix, module in self.named_modules():
            if any(id(p) in trained for p in module.parameters(recurse=False)):
                for name, buffer in module.named_buffers(recurse=False):
                    if buffer is not None and name not in module._non_persistent_buffers_set:
                        state[f"{prefix}.{name}" if prefix else name] = buffer.detach().clone()
        return state

    def load_trainable_state(self, state: Mapping[str, Tensor]) -> None:
        """Load a :meth:`trainable_state`; any missing or unexpected key is an error."""
        expected = set(self.trainable_state())
        missing, unexpected = expected - set(state), set(state) - expected
        if missing or unexpected:
            raise CheckpointError(
                f"{self.name}: checkpoint does not match the model "
                f"(missing: {sorted(missing)[:5]}, unexpected: {sorted(unexpected)[:5]})"
            )
        params = {**dict(self.named_buffers()), **dict(self.named_parameters())}
        with torch.no_grad():
            for key, value in state.items():
                if params[key].shape != value.shape:
                    raise CheckpointError(
                        f"{self.name}: {key} has shape {tuple(value.shape)} in the checkpoint, "
                        f"{tuple(params[key].shape)} in the model (another architecture?)"
                    )
                params[key].copy_(value)

    def weights_id(self, skip_heads: bool = False) -> str:
        """A short hash of the weights: what produced a result, for records and caches.

        ``skip_heads`` leaves out the ``heads`` group, which :meth:`audio_features` does not
        use (it is the output before the projection): the audio-feature cache key, so that
        fine-tuned or freshly initialised projections still find the encoder's features.
        """
        heads = {id(p) for p in self.parameter_groups()["heads"]} if skip_heads else set()
        skipped = {k for k, v in self.named_parameters() if id(v) in heads}
        digest = hashlib.sha256()
        for key, value in sorted(self.state_dict().items()):
            if key in skipped:
                continue
            digest.update(key.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]
