"""Soft prompts (CoOp-style ``inputs_embeds``) for any text encoder: one factory, public for plugins.

A :class:`TextTower` is the whole text side of a backbone: tokenise -> token embeddings ->
splice the learnable context vectors at ``insert_at`` (1 = right after ``[CLS]``/``<s>``/
``<|startoftext|>``, 0 = at the start for encoders without a start token) -> encode ->
pool. Each of S contexts is combined with each of T texts, so one encoder call covers all
S x T prompts, and with no context it is the plain text embedding. A backbone declares its
tokeniser, embedding table, encoder call and pooling (:data:`POOLINGS`) and mixes in
:class:`PromptedText` for ``text_features``, ``prompt_features`` and ``context_width``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# How each family pools the encoder's hidden states into one vector per text.
POOLINGS = {
    "first": "the first position ([CLS]; BERT as msclap uses it)",
    "pooler": "the model's own pooler on the first position (RoBERTa's pooler_output, LAION-CLAP)",
    "mean": "mean over all positions, padding included (T5 in CompA-CLAP)",
    "masked-mean": "mean over the attended positions (sentence-transformers, MiniLM)",
    "last": "the last token that is not padding, counted as ids != pad_id (GPT-2 in msclap)",
    "end": "the first end token, the sequence kept at its fixed length (CLIP)",
}


@dataclass(eq=False)
class TextTower:
    """A frozen text encoder with soft prompts.

    ``tokenize(texts, prompt_length)`` returns ids and attention mask ``[T, L]`` (``prompt_length`` context
    vectors will be spliced in: a family with a fixed total length makes room for them);
    ``embeddings`` is the token embedding table; ``encode(inputs_embeds, mask)`` returns the
    hidden states; ``pooler`` is the module of the ``pooler`` pooling; ``pad_id`` that of
    ``last``, ``end_id`` that of ``end``; ``normalize`` L2-normalises the pooled vector.
    """

    tokenize: Callable[[Sequence[str], int], tuple[Tensor, Tensor]]
    embeddings: nn.Embedding
    encode: Callable[[Tensor, Tensor], Tensor]
    pooling: str
    insert_at: int = 1
    pooler: nn.Module | None = None
    pad_id: int | None = None
    end_id: int | None = None
    normalize: bool = False

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {sorted(POOLINGS)}, not {self.pooling!r}")
        self._last_tokens: tuple[tuple, tuple[Tensor, Tensor]] | None = None

    def _tokens(self, texts: Sequence[str], prompt_length: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """``tokenize`` on ``device``, the last answer kept: ACPT asks for the same class words every iteration."""
        key = (tuple(texts), prompt_length, device)
        if self._last_tokens is None or self._last_tokens[0] != key:
            self._last_tokens = key, tuple(t.to(device) for t in self.tokenize(texts, prompt_length))
        return self._last_tokens[1]

    @property
    def width(self) -> int:
        return self.embeddings.embedding_dim

    def features(self, context: Tensor, texts: Sequence[str]) -> Tensor:
        """``[S, T, F]`` for contexts ``[S, N_p, width]``: every context with every text."""
        device = self.embeddings.weight.device
        prompt_length = context.shape[1]
        ids, mask = self._tokens(texts, prompt_length, device)
        tokens, context = self.embeddings(ids), context.to(device)
        if self.pooling == "end":
            end = (ids == self.end_id).int().argmax(dim=-1)
            embeds, end = splice_context_fixed_length(tokens, end, context, self.insert_at)
            mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=device)
        else:
            embeds, mask = splice_context(tokens, mask, context, self.insert_at)
        hidden = self.encode(embeds, mask)
        rows = torch.arange(hidden.shape[0], device=device)
        if self.pooling == "end":
            pooled = hidden[rows, end]
        elif self.pooling == "last":
            pooled = hidden[rows, ((ids != self.pad_id).sum(-1) - 1 + prompt_length).repeat(context.shape[0])]
        elif self.pooling == "first":
            pooled = hidden[:, 0]
        elif self.pooling == "pooler":
            pooled = self.pooler(hidden)
        elif self.pooling == "mean":
            pooled = hidden.mean(dim=1)
        else:
            pooled = mean_pool(hidden, mask)
        if self.normalize:
            pooled = F.normalize(pooled, dim=-1)
        return pooled.reshape(context.shape[0], len(texts), -1)

    def text(self, texts: Sequence[str]) -> Tensor:
        """Plain text embeddings ``[T, F]`` (no context)."""
        return self.features(self.embeddings.weight.new_zeros(1, 0, self.width), texts)[0]


def hf_tokens(tokenizer, texts: Sequence[str], **settings) -> tuple[Tensor, Tensor]:
    """Ids and attention mask of a Hugging Face tokenizer (``settings``: its padding and truncation)."""
    batch = tokenizer(list(texts), return_tensors="pt", **settings)
    return batch["input_ids"], batch["attention_mask"]


@dataclass(eq=False)
class HFEncoder:
    """The encode step of a Hugging Face text model: its hidden states from ``inputs_embeds``."""

    model: nn.Module

    def __call__(self, embeds: Tensor, mask: Tensor) -> Tensor:
        return self.model(inputs_embeds=embeds, attention_mask=mask).last_hidden_state


class PromptedText:
    """Backbone mixin: the text methods of the contract from ``self.text_tower`` (a :class:`TextTower`)."""

    text_tower: TextTower

    def text_features(self, texts: Sequence[str]) -> Tensor:
        return self.text_tower.text(texts)

    def prompt_features(self, context: Tensor, texts: Sequence[str]) -> Tensor:
        return self.text_tower.features(context, texts)

    @property
    def context_width(self) -> int:
        return self.text_tower.width


def splice_context(
    token_embeddings: Tensor, attention_mask: Tensor, context: Tensor, insert_at: int = 1
) -> tuple[Tensor, Tensor]:
    """Insert context vectors into every sequence.

    token_embeddings ``[T, L, W]`` and attention_mask ``[T, L]`` describe T tokenised texts;
    context is ``[S, N_p, W]``. Returns embeddings ``[S*T, L+N_p, W]`` and the matching mask,
    ordered context-major (row ``s*T + t`` is context s with text t).
    """
    n_texts, _, width = token_embeddings.shape
    n_contexts, prompt_length, ctx_width = context.shape
    if ctx_width != width:
        raise ValueError(f"context vectors have width {ctx_width}, the text encoder expects {width}")
    tokens = token_embeddings.unsqueeze(0).expand(n_contexts, -1, -1, -1)
    ctx = context.to(token_embeddings.dtype).unsqueeze(1).expand(-1, n_texts, -1, -1)
    embeds = torch.cat([tokens[:, :, :insert_at], ctx, tokens[:, :, insert_at:]], dim=2)
    mask = attention_mask.unsqueeze(0).expand(n_contexts, -1, -1)
    ones = mask.new_ones(n_contexts, n_texts, prompt_length)
    mask = torch.cat([mask[:, :, :insert_at], ones, mask[:, :, insert_at:]], dim=2)
    return embeds.reshape(n_contexts * n_texts, -1, width), mask.reshape(n_contexts * n_texts, -1)


def mean_pool(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """Mean over the positions the mask keeps (sentence-transformers pooling)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)


def splice_context_fixed_length(
    token_embeddings: Tensor, end_index: Tensor, context: Tensor, insert_at: int = 1
) -> tuple[Tensor, Tensor]:
    """CLIP-style splice: context after the start token, the sequence length kept.

    CLIP text towers have exactly as many position embeddings as tokens (77) and pool at the
    end token, so the sequence is cut back to its length (dropping padding) and the end-token
    index ``end_index`` ``[T]`` moves by N_p. Returns embeddings ``[S*T, L, W]`` and end
    indices ``[S*T]``, context-major like :func:`splice_context`.
    """
    n_contexts, prompt_length, _ = context.shape
    length = token_embeddings.shape[1]
    if int(end_index.max()) + prompt_length >= length:
        raise ValueError(f"a text is too long for {prompt_length} context vectors within {length} tokens")
    mask = torch.ones(token_embeddings.shape[:2], dtype=torch.long, device=token_embeddings.device)
    embeds, _ = splice_context(token_embeddings, mask, context, insert_at)
    return embeds[:, :length], (end_index + prompt_length).repeat(n_contexts)
