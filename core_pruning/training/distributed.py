"""DDP support: the same code runs as one process or under ``torchrun`` (one process per GPU or CPU slot).

``torchrun`` sets ``WORLD_SIZE``/``RANK``/``LOCAL_RANK``; :func:`setup` then joins the process group
(NCCL on GPUs, Gloo on CPU) and picks this rank's device. Everything else in prunelab asks a
:class:`DistInfo` whether it is the main process (progress bars, checkpoints, outputs) and sums
statistics over ranks with :func:`all_reduce_sum`, which is a no-op in a single process.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from prunelab.device import resolve_device


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device: str | torch.device | None = "auto") -> tuple[DistInfo, torch.device]:
    """Join the ``torchrun`` process group if there is one; return this process's rank info and device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), resolve_device(device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = resolve_device(device, local_rank)
    if chosen.type == "cuda" and chosen.index is None:
        chosen = torch.device(f"cuda:{local_rank}")
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo")
        # a group left alive at interpreter exit can abort the process while its threads are torn down
        # ("terminate called without an active exception", exit -6): leave it explicitly
        atexit.register(_leave_process_group)
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank), chosen


def _leave_process_group() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def current() -> DistInfo:
    """Rank info of the running process group (single-process defaults when there is none)."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return DistInfo()


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _collective(tensor: torch.Tensor, op) -> torch.Tensor:
    """Run collective ``op`` on ``tensor`` in place, through the GPU when the backend is NCCL (GPU-only)."""
    if dist.get_backend() == "nccl" and tensor.device.type != "cuda":
        staged = tensor.to(torch.device("cuda", torch.cuda.current_device()))
        op(staged)
        tensor.copy_(staged.cpu())
    else:
        op(tensor)
    return tensor


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over ranks in place (and return it); unchanged in a single process."""
    if _active():
        _collective(tensor, lambda t: dist.all_reduce(t, op=dist.ReduceOp.SUM))
    return tensor


def broadcast_(tensor: torch.Tensor, src: int = 0) -> torch.Tensor:
    """Copy rank ``src``'s ``tensor`` to every rank in place, so random decisions agree across ranks."""
    if _active():
        _collective(tensor, lambda t: dist.broadcast(t, src))
    return tensor


def barrier() -> None:
    if _active():
        dist.barrier()
