"""Mixed precision where it is numerically safe: bf16 autocast of encoder forwards on CUDA.

``BENCH_PRECISION`` = ``auto`` (default: bf16 on a CUDA device that supports it, else fp32),
``fp32``, ``bf16`` or ``fp16``. fp16 is never chosen automatically: its range (65504)
overflows on inputs scaled to int16 amplitudes (AudioCLIP) and on squared magnitudes in
spectrogram front-ends; bf16 keeps fp32's range. Callers compute losses in fp32 (outputs are
cast back before any loss), and fp16 training goes through a gradient scaler.
"""

from __future__ import annotations

import contextlib

import torch

from bench.runtime.environment import environment

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_dtype(device: torch.device, precision: str | None = None) -> torch.dtype | None:
    """The autocast dtype for ``device`` (None: plain fp32)."""
    precision = precision or environment().precision
    if precision == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return None
    if precision not in PRECISIONS:
        raise ValueError(f"BENCH_PRECISION must be auto, {', '.join(PRECISIONS)}, not {precision!r}")
    return PRECISIONS[precision]


def name(dtype: torch.dtype | None) -> str:
    return next(key for key, value in PRECISIONS.items() if value == dtype)


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
