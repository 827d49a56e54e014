"""Intra-op threads for stages made of many sequential tensor operations on CPU.

The heads-only fine-tune and the classifier take thousands of sequential steps of products
far too small to split between cores. Splitting them anyway makes every operation wait at a
barrier for its other threads; on a machine shared with other work, where those threads
wait for a core, each step then takes a scheduler time slice instead of microseconds
(measured in ``benchmarks/stages.py``: tens of times slower). They run on :func:`one_thread`.

ACPT's steps (a text encoder forward and backward over every prompt) are large enough for
several cores to pay on an idle machine, yet on a busy one they ran twice as fast on one
thread (``benchmarks/stages.py``): :class:`MeasuredThreads` times a step each way and keeps
the faster. On one thread the result is also bitwise repeatable; on several, reductions
split between threads differ run to run in the last bits (measured: 7e-9 in the contexts).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

import torch


@contextmanager
def one_thread(device: torch.device) -> Iterator[None]:
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class MeasuredThreads:
    """Equal steps on CPU: the second at the configured thread count, the third on one thread
    (the first warms caches and is not compared), every later one on the faster of the two.

    Use ``with MeasuredThreads(device) as threads:`` around the loop and ``with threads.step():``
    around each step; leaving restores the configured count.
    """

    def __init__(self, device: torch.device) -> None:
        self.configured = torch.get_num_threads()
        self.active = device.type == "cpu" and self.configured > 1
        self.steps, self.seconds = 0, {}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_) -> None:
        torch.set_num_threads(self.configured)

    @contextmanager
    def step(self) -> Iterator[None]:
        index, self.steps = self.steps, self.steps + 1
        if not self.active or index not in (1, 2):
            yield
            return
        torch.set_num_threads(self.configured if index == 1 else 1)
        started = time.perf_counter()
        yield
        self.seconds[torch.get_num_threads()] = time.perf_counter() - started
        if index == 2:
            torch.set_num_threads(min(self.seconds, key=self.seconds.get))
