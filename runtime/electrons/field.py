"""Classical field tensors: validation and the layout `(batch, *cells, sublattice, component)`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class FieldLayout:
    """How a field arrived (batched or not, numpy or torch), so results go back the same way."""

    sites: tuple[int, ...]  # (*cells, sublattice)
    batched: bool
    numpy: bool

    def per_site(self, values: torch.Tensor):
        """`(batch, n_sites, *rest)` -> `([batch,] *cells, sublattice, *rest)`."""
        return self.per_config(values.reshape(values.shape[0], *self.sites, *values.shape[2:]))

    def per_config(self, values: torch.Tensor):
        """`(batch, *rest)` -> `([batch,] *rest)`, as numpy if the field was numpy."""
        if not self.batched:
            values = values[0]
        return values.cpu().numpy()[()] if self.numpy else values


def read_field(field, shape: tuple[int, ...], owner: str) -> tuple[torch.Tensor, FieldLayout]:
    """Check `field` against the per-configuration `shape` (*cells, sublattice, component) and
    return it as float64 `(batch, n_sites, component)` with its layout. `owner` names the model
    in error messages."""
    if isinstance(field, np.ndarray):
        if field.dtype.kind not in "fiu":
            raise TypeError(f"{owner}: field must hold real numbers, got numpy dtype {field.dtype}")
        tensor = torch.from_numpy(np.ascontiguousarray(field, dtype=np.float64))
    elif isinstance(field, torch.Tensor):
        if field.is_complex() or field.dtype == torch.bool:
            raise TypeError(f"{owner}: field must hold real numbers, got torch dtype {field.dtype}")
        tensor = field.detach()
    else:
        raise TypeError(
            f"{owner}: field must be a torch.Tensor or numpy.ndarray, got {type(field).__name__}"
        )

    batched = tensor.ndim == len(shape) + 1
    if tuple(tensor.shape[batched:]) != shape or (batched and tensor.shape[0] == 0):
        raise ValueError(
            f"{owner}: field must have shape {shape} or (batch, {', '.join(map(str, shape))}) "
            f"with batch >= 1, i.e. (*cells, sublattice, component); got {tuple(tensor.shape)}"
        )
    tensor = tensor.to(torch.float64)
    bad = ~torch.isfinite(tensor)
    if bad.any():
        where = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"{owner}: field contains {int(bad.sum())} NaN or infinite value(s), first at index "
            f"{where}; pass a finite configuration"
        )
    if not batched:
        tensor = tensor[None]
    return tensor.reshape(tensor.shape[0], -1, shape[-1]), FieldLayout(
        shape[:-1], batched, isinstance(field, np.ndarray)
    )
