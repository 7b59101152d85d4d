"""Validation of scalar user input, shared by the runtime modules."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch


def integer(name: str, value, minimum: int, error: type[Exception] = ValueError) -> int:
    """`value` as an int >= `minimum` (Python or numpy integers, not bool), else `error`."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise error(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def real_number(name: str, value) -> float:
    """`value` as a finite float; TypeError for non-real types (bool included), ValueError for
    NaN and infinity."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype.is_floating_point:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value
