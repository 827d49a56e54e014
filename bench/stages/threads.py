"""One intra-op thread for stages made of many small tensor operations on CPU.

The heads-only fine-tune and the classifier take thousands of sequential steps of products
far too small to split between cores. Splitting them anyway makes every operation wait at a
barrier for its other threads; on a machine shared with other work, where those threads
wait for a core, each step then takes a scheduler time slice instead of microseconds
(measured in ``benchmarks/stages.py``: tens of times slower).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
