"""Site-group operations acting on whole periodic field configurations, and the symmetry
error of a force field.

    actions = lattice_actions(descriptor, cells=(30, 30))             # one per group element
    moved = transform(field, *actions[g])                             # the configuration g·Φ
    equivariance_error(model.forces, fields, actions)                 # F(gΦ) against g·F(Φ)

An element g of the site group (about site 0 of the first cell) maps the periodic lattice onto
itself; it moves the field as (g·Φ)(g r) = M(g) Φ(r), with M(g) the field's own representation
(identity for a scalar; the E matrices for the Jahn–Teller doublet; spins carry the internal
SO(3), untouched by lattice operations). The actions come from the descriptor's spec
(`grouptheory.descriptors.actions`), so no group theory runs here. A force field built on an
invariant descriptor obeys F(g·Φ) = g·F(Φ) exactly; a network on the raw neighborhood does
not, and `equivariance_error` measures by how much.
"""

from __future__ import annotations

import numpy as np
import torch


def lattice_actions(descriptor, cells) -> list[tuple[np.ndarray, torch.Tensor | None]]:
    """For each site-group element of `descriptor` (its spec's site-group actions): (permutation
    of the flattened (cells, sublattice) sites, new[perm[i]] = old[i]; field matrix M(g) or
    None)."""
    symmetry = descriptor.spec["symmetry"]
    cells = tuple(int(n) for n in cells)
    grid = np.indices(cells).reshape(len(cells), -1).T  # every cell, in C order
    subs = len(symmetry[0]["sublattices"])
    actions = []
    for element in symmetry:
        m = np.array(element["matrix"], dtype=np.int64)
        perm = np.empty(len(grid) * subs, dtype=np.int64)
        for b, (image, shift) in enumerate(element["sublattices"]):
            moved = (grid @ m + np.array(shift, dtype=np.int64)) % cells
            perm[b::subs] = np.ravel_multi_index(tuple(moved.T), cells) * subs + image
        matrix = element["field"]
        actions.append((perm, None if matrix is None else torch.tensor(matrix, dtype=torch.float64)))
    return actions


def move_sites(values: torch.Tensor, perm) -> torch.Tensor:
    """Per-site values (batch, *cells, sublattice, k) carried to the image sites."""
    shape = values.shape
    flat = values.reshape(shape[0], -1, shape[-1])
    moved = torch.empty_like(flat)
    moved[:, torch.as_tensor(perm)] = flat
    return moved.reshape(shape)


def transform(field: torch.Tensor, perm, matrix) -> torch.Tensor:
    """The configuration g·Φ of a (batch, *cells, sublattice, component) field."""
    if matrix is not None:
        field = field @ matrix.to(field.dtype).T
    return move_sites(field, perm)


def equivariance_error(forces, fields: torch.Tensor, actions) -> dict:
    """How far `forces` (a callable field -> forces) is from F(g·Φ) = g·F(Φ): for every
    configuration and group element, the RMS of F(g·Φ) − g·F(Φ) relative to the RMS of F(Φ).
    Returns the mean and the largest relative error over (configuration, element) pairs."""
    errors = []
    for field in fields.split(1):
        base = forces(field)
        scale = base.square().mean().sqrt().clamp_min(torch.finfo(base.dtype).tiny)
        for perm, matrix in actions[1:]:  # element 0 is the identity
            difference = forces(transform(field, perm, matrix)) - transform(base, perm, matrix)
            errors.append(float(difference.square().mean().sqrt() / scale))
    return {"mean": float(np.mean(errors)), "max": float(np.max(errors)),
            "operations": len(actions) - 1, "configurations": len(fields)}
