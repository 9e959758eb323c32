"""Calibration data: accept what users have (a tensor, a DataLoader, a list of batches) and iterate batches."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from prunelab.errors import InputError


def as_batches(calib_data: Any, max_batches: int | None = None) -> list[tuple[Any, Any]]:
    """Normalise ``calib_data`` to a list of ``(inputs, targets_or_None)``.

    Accepted: a tensor (one batch), a ``(inputs, targets)`` tuple of tensors, or any iterable of batches
    where a batch is a tensor or a sequence whose first item is the input and second (optional) the target.
    """
    if calib_data is None:
        return []
    if isinstance(calib_data, torch.Tensor):
        return [(calib_data, None)]
    if (isinstance(calib_data, tuple) and len(calib_data) == 2 and all(isinstance(t, torch.Tensor) for t in calib_data)
            and calib_data[0].shape[:1] == calib_data[1].shape[:1] and calib_data[1].dim() <= 1):
        return [(calib_data[0], calib_data[1])]
    if not isinstance(calib_data, Iterable):
        raise InputError(f"calibration data must be a tensor or iterable of batches, not {type(calib_data).__name__}")
    batches: list[tuple[Any, Any]] = []
    for batch in calib_data:
        if isinstance(batch, torch.Tensor):
            batches.append((batch, None))
        elif isinstance(batch, (tuple, list)) and batch:
            batches.append((batch[0], batch[1] if len(batch) > 1 else None))
        elif isinstance(batch, dict):
            batches.append((batch, None))
        else:
            raise InputError(f"cannot read a calibration batch of type {type(batch).__name__}")
        if max_batches is not None and len(batches) >= max_batches:
            break
    if not batches:
        raise InputError("calibration data is empty")
    return batches
