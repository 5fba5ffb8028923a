"""Which float type and how many threads the model computes with, by measurement.

bfloat16 is a speed choice that depends on the CPU, not a free win:

- on a CPU with native bf16 dot products (avx512_bf16 or AMX), SmolLM2-135M's
  prefill of a 600-token prompt is about 4× faster in bf16 than in float32;
- on one without (AVX2 only), torch emulates bf16 and the same prefill is about
  4× slower (11.4 s against 2.9 s, measured on an AVX2-only EPYC; see the
  README's speed section).

So `auto` picks bf16 only where the CPU has it, and float32 whenever the
weights are tuned: a MeZO update moves a weight by about 1e-6 of its size,
far below bf16's resolution (8 bits of mantissa, ~4e-3), so a tuned version
held in bf16 would decide exactly as the base model does.

Threads: measured on the 2-core machine (SmolLM2-135M, bfloat16, quiet):
reading a 330-token prompt takes 478 ms with two threads and 702 ms with one;
one decoding step ~70 ms either way (it is bound by memory, not arithmetic).
While the model decides, the browser and the embedder wait, so the default
keeps torch's own choice (0: one thread per core); `--threads 1` is for a
machine whose other core is busy with something else.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from webagent.errors import ModelError

AUTO = "auto"
DTYPES = (AUTO, "float32", "bfloat16")
DEFAULT_THREADS = 0  # torch's own choice; see the module docstring
_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@cache
def cpu_has_bf16() -> bool:
    """Whether the CPU computes bf16 dot products natively (Linux; elsewhere assume not)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return any(flag in flags for flag in _BF16_FLAGS)


def resolve_dtype(requested: str, *, tuned: bool = False) -> str:
    """The dtype to load: `requested` unless it is `auto` (see the module docstring)."""
    if requested not in DTYPES:
        raise ModelError(f"unknown dtype {requested!r}; choose one of {', '.join(DTYPES)}")
    if requested != AUTO:
        return requested
    return "bfloat16" if cpu_has_bf16() and not tuned else "float32"


def set_threads(threads: int) -> int:
    """Use `threads` torch threads (0: leave torch's default); the number now in use."""
    import torch

    if threads < 0:
        raise ModelError(f"threads must be 0 (torch's default) or more, not {threads}")
    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()
