"""Training precision: fp32, or bf16 autocast where the hardware multiplies bf16 natively.

Under ``bf16`` the forward pass of a training batch runs in
``torch.autocast(dtype=torch.bfloat16)``: matrix products take bf16 inputs
and accumulate in fp32, while the weights, their gradients and the
optimiser's state stay fp32 (autocast casts copies, never the parameters).
The loss is computed in fp32 from the logits.

``auto`` resolves, once, when a run starts, and the run records what it
resolved to, so a resumed run keeps it on any machine:

- CUDA with compute capability 8.0 or higher (Ampere on): bf16;
- a CPU with AVX512-BF16 or AMX: bf16 for the kinds whose CPU kernels gain
  from it (a task says so with ``bf16_on_cpu``: measured, see
  benchmarks/RESULTS.md; oneDNN's fused LSTM does, the per-step RNN and GRU
  kernels do not), fp32 for the others;
- anything else: fp32.

Validation, evaluation and traces always run in fp32.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from rnnlens.errors import RnnlensError

PRECISIONS = ("auto", "fp32", "bf16")


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bf16 in hardware (CPU: AVX512-BF16 or AMX tiles; CUDA: sm_80 or newer)."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type == "cpu":
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch >= 2.3; absent: not native
        return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)
    return False


def resolve_precision(requested: str, device: torch.device, bf16_on_cpu: bool = False) -> str:
    """``fp32`` or ``bf16`` for a run that asked for ``requested`` on ``device``.

    ``bf16_on_cpu`` says whether the kind's CPU kernels are faster in bf16;
    ``auto`` takes bf16 only where that holds (or on a capable GPU).
    """
    if requested not in PRECISIONS:
        raise RnnlensError(f"precision {requested!r} is not one of {', '.join(PRECISIONS)}")
    if requested != "auto":
        return requested
    if not native_bf16(device):
        return "fp32"
    return "bf16" if device.type != "cpu" or bf16_on_cpu else "fp32"


def autocast(precision: str, device: torch.device) -> AbstractContextManager:
    """The context a training forward pass runs in: bf16 autocast, or nothing for fp32."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()
