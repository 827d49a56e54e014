"""CLIP text towers with soft prompts, in the two weight layouts this project loads.

OpenAI's layout (``token_embedding``, ``transformer.resblocks.N``, ``ln_final``,
``text_projection``), as AudioCLIP's checkpoint stores it, is written here; the Hugging Face
layout (``CLIPTextModelWithProjection``), which Wav2CLIP's text side uses, is driven through
its parts. Both are causal transformers over exactly 77 positions pooled at the end token,
so soft prompts go after the start token, the length is kept and the end index moves
(:func:`splice_context_fixed_length`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from bench.prompting import splice_context_fixed_length

CONTEXT_LENGTH = 77


def end_positions(ids: Tensor, end_id: int) -> Tensor:
    """Index of each row's first end token (CLIP pools there; padding may repeat the token)."""
    return (ids == end_id).int().argmax(dim=-1)


def causal_mask(length: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    return torch.full((length, length), float("-inf"), device=device, dtype=dtype).triu_(1)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, 4 * width))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(4 * width, width))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class QuickGELU(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads) for _ in range(layers))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        for block in self.resblocks:
            x = block(x, mask)
        return x


class OpenAIClipText(nn.Module):
    """CLIP's text encoder in OpenAI's parameter layout (sequence-first attention, QuickGELU)."""

    def __init__(self, vocab: int, width: int, layers: int, heads: int, embed_dim: int, length: int = CONTEXT_LENGTH) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.positional_embedding = nn.Parameter(torch.empty(length, width))
        self.transformer = Transformer(width, layers, heads)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, embed_dim))
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=width**-0.5)

    def pooled(self, embeds: Tensor, end: Tensor) -> Tensor:
        """Final-norm hidden state at ``end`` for token embeddings ``[B, 77, W]`` (no projection)."""
        x = embeds + self.positional_embedding
        mask = causal_mask(x.shape[1], x.device, x.dtype)
        x = self.transformer(x.permute(1, 0, 2), mask).permute(1, 0, 2)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0], device=x.device), end]


class ClipTextPrompts:
    """``text_features`` and ``prompt_features`` of a CLIP text tower (mixin for backbones).

    The host sets ``tokenizer`` and ``device`` and implements ``_token_embeddings(ids)`` and
    ``_pooled(embeds, end)``; ids are padded with ``pad_id`` to 77 tokens as CLIP does.
    """

    tokenizer: object
    device: torch.device
    pad_id: int | None = None
    max_prompt_tokens = CONTEXT_LENGTH - 3  # start, one word and end still fit

    def _clip_tokens(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        tok = self.tokenizer
        rows = tok(list(texts), truncation=True, max_length=CONTEXT_LENGTH)["input_ids"]
        pad = tok.pad_token_id if self.pad_id is None else self.pad_id
        ids = torch.full((len(rows), CONTEXT_LENGTH), pad, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        ids = ids.to(self.device)
        return ids, end_positions(ids, tok.eos_token_id)

    def text_features(self, texts: Sequence[str]) -> Tensor:
        ids, end = self._clip_tokens(texts)
        return self._pooled(self._token_embeddings(ids), end)

    def prompt_features(self, context: Tensor, texts: Sequence[str]) -> Tensor:
        ids, end = self._clip_tokens(texts)
        embeds, end = splice_context_fixed_length(self._token_embeddings(ids), end, context, insert_at=1)
        return self._pooled(embeds, end).reshape(context.shape[0], len(texts), -1)
