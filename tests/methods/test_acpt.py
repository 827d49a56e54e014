"""ACPT's loop (tokens kept between iterations, thread count measured) learns what the plain loop learns."""

import torch
import torch.nn.functional as F

from bench.config.settings import ACPTSettings
from bench.methods.clep_dg.acpt import prompt_embeddings, train_contexts
from bench.plugins import registry
from bench.training.losses import acpt_losses

WORDS = ["angry", "happy", "sad"]
SOUNDSCAPES = 4


def plain_loop(backbone, descriptions, labels, soundscapes, settings, seed):
    """The loop before the speed work: every iteration tokenises afresh, on the configured threads."""
    generator = torch.Generator().manual_seed(seed)
    init = torch.randn(SOUNDSCAPES, settings.prompt_length, backbone.context_width, generator=generator)
    contexts = torch.nn.Parameter(init * settings.init_std)
    optimizer = torch.optim.SGD([contexts], lr=settings.lr, momentum=settings.momentum)
    for _ in range(settings.iterations):
        backbone.text_tower._last_tokens = None
        own = prompt_embeddings(backbone, contexts, WORDS)[soundscapes]
        similarity = torch.einsum("md,mcd->mc", descriptions, own)
        loss = sum(acpt_losses(similarity, labels, settings.temperature, settings.reduction))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return contexts.detach()


def test_acpt_contexts_equal_the_plain_loop_on_one_thread_or_two():
    torch.manual_seed(0)
    backbone = registry.backbone("mini-clap").eval()
    generator = torch.Generator().manual_seed(1)
    descriptions = F.normalize(torch.randn(12, backbone.embed_dim, generator=generator), dim=-1)
    labels = torch.arange(12) % len(WORDS)
    soundscapes = torch.arange(12) % SOUNDSCAPES
    settings = ACPTSettings(prompt_length=2, iterations=5, lr=0.5)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        expected = plain_loop(backbone, descriptions, labels, soundscapes, settings, seed=3)
        for count in (1, 2):
            torch.set_num_threads(count)
            contexts = train_contexts(backbone, WORDS, descriptions, labels, soundscapes, SOUNDSCAPES, settings, 3)
            assert torch.get_num_threads() == count  # the measured choice does not outlive the stage
            assert (contexts.learned - expected).abs().max() < 1e-6
            assert contexts.loss[-1] < contexts.loss[0] and len(contexts.l_cls) == len(contexts.l_rank) == 5
    finally:
        torch.set_num_threads(threads)
