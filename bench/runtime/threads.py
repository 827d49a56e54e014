"""Intra-op threads for stages made of many sequential tensor operations on CPU.

The heads-only fine-tune and the classifier take thousands of sequential steps of products
far too small to split between cores. Splitting them anyway makes every operation wait at a
barrier for its other threads; on a machine shared with other work, where those threads
wait for a core, each step then takes a scheduler time slice instead of microseconds
(measured in ``benchmarks/stages.py``: tens of times slower). They run on :func:`one_thread`.

ACPT's steps (a text encoder forward and backward over every prompt) are large enough for
several cores to pay on an idle machine, but reductions split between threads sum in another
order, so the contexts' last bits depend on the thread count (measured: 7e-9). No number may
depend on how busy the machine was, so the count is a setting (``acpt.threads``, default 1:
bitwise the same contexts on every machine), recorded with the run, and :func:`threads`
applies it; nothing is chosen by timing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def threads(count: int, device: torch.device) -> Iterator[None]:
    """``count`` intra-op threads on CPU for the block (capped by the configured count); the
    configured count again after it. Other devices are left alone."""
    if device.type != "cpu":
        yield
        return
    configured = torch.get_num_threads()
    torch.set_num_threads(max(1, min(count, configured)))
    try:
        yield
    finally:
        torch.set_num_threads(configured)


def one_thread(device: torch.device):
    return threads(1, device)
