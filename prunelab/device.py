"""Device and CPU-thread choice, the same for every prunelab command and training run."""

from __future__ import annotations

import torch

from prunelab.errors import InputError


def resolve_device(device: str | torch.device | None = "auto", local_rank: int = 0) -> torch.device:
    """``"auto"``/``None``: this process's GPU when CUDA is there, else CPU; otherwise the named, available device.

    ``local_rank`` picks the GPU of one process under ``torchrun`` (one process per GPU).
    """
    if device in (None, "auto"):
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"unknown device {device!r}") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but CUDA is not available on this machine")
    return resolved


def set_threads(threads: int) -> None:
    """Bound the CPU threads torch uses (machines are shared); 0 leaves torch's default."""
    if threads < 0:
        raise InputError(f"threads must be >= 0, got {threads}")
    if threads:
        torch.set_num_threads(threads)
