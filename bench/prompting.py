"""Soft-prompt plumbing for text encoders (CoOp-style ``inputs_embeds``), public for plugin authors.

Every text encoder here takes token embeddings instead of token ids; the learnable context
vectors are spliced into that sequence at ``insert_at`` (1 = right after ``[CLS]``/``<s>``,
0 = at the start for encoders without a start token). Each of S contexts is combined with
each of T texts, so one encoder call covers all S x T prompts.
"""

from __future__ import annotations

import torch
from torch import Tensor


def splice_context(
    token_embeddings: Tensor, attention_mask: Tensor, context: Tensor, insert_at: int = 1
) -> tuple[Tensor, Tensor]:
    """Insert context vectors into every sequence.

    token_embeddings ``[T, L, W]`` and attention_mask ``[T, L]`` describe T tokenised texts;
    context is ``[S, N_p, W]``. Returns embeddings ``[S*T, L+N_p, W]`` and the matching mask,
    ordered context-major (row ``s*T + t`` is context s with text t).
    """
    n_texts, _, width = token_embeddings.shape
    n_ctx, n_tokens, ctx_width = context.shape
    if ctx_width != width:
        raise ValueError(f"context vectors have width {ctx_width}, the text encoder expects {width}")
    tokens = token_embeddings.unsqueeze(0).expand(n_ctx, -1, -1, -1)
    ctx = context.to(token_embeddings.dtype).unsqueeze(1).expand(-1, n_texts, -1, -1)
    embeds = torch.cat([tokens[:, :, :insert_at], ctx, tokens[:, :, insert_at:]], dim=2)
    mask = attention_mask.unsqueeze(0).expand(n_ctx, -1, -1)
    ones = mask.new_ones(n_ctx, n_texts, n_tokens)
    mask = torch.cat([mask[:, :, :insert_at], ones, mask[:, :, insert_at:]], dim=2)
    return embeds.reshape(n_ctx * n_texts, -1, width), mask.reshape(n_ctx * n_texts, -1)


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
    n_ctx, n_tokens, _ = context.shape
    length = token_embeddings.shape[1]
    if int(end_index.max()) + n_tokens >= length:
        raise ValueError(f"a text is too long for {n_tokens} context vectors within {length} tokens")
    mask = torch.ones(token_embeddings.shape[:2], dtype=torch.long, device=token_embeddings.device)
    embeds, _ = splice_context(token_embeddings, mask, context, insert_at)
    return embeds[:, :length], (end_index + n_tokens).repeat(n_ctx)
