"""Site-group operations acting on whole periodic field configurations, and the symmetry
error of a force field.

    actions = lattice_actions("square", "scalar", cells=(30, 30))   # one per group element
    moved = transform(field, *actions[g])                            # the configuration g·Φ
    equivariance_error(model.forces, fields, actions)                # F(gΦ) against g·F(Φ)

An element g of the site group (about site 0 of the first cell) maps the periodic lattice onto
itself; it moves the field as (g·Φ)(g r) = M(g) Φ(r), with M(g) the field's own representation
(identity for a scalar; the E matrices for the Jahn–Teller doublet; spins carry the internal
SO(3), untouched by lattice operations). A force field built on an invariant descriptor obeys
F(g·Φ) = g·F(Φ) exactly; a network on the raw neighborhood does not, and `equivariance_error`
measures by how much.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache

import numpy as np
import torch

from grouptheory import Field, Lattice

FIELD_REPRESENTATIONS = {"scalar": None, "jahn_teller": Field.jahn_teller, "spin": None}


@cache
def _lattice(name: str) -> Lattice:
    return Lattice.preset(name)


def lattice_actions(lattice: str, field: str, cells) -> list[tuple[np.ndarray, torch.Tensor]]:
    """For each site-group element: (permutation of the flattened (cells, sublattice) sites,
    new[perm[i]] = old[i]; field matrix M(g) or None)."""
    if field not in FIELD_REPRESENTATIONS:
        raise ValueError(f"unknown field {field!r}; known: {', '.join(FIELD_REPRESENTATIONS)}")
    lattice = _lattice(lattice)
    group = lattice.site_group()
    basis = [[Fraction(int(x.p), int(x.q)) for x in f] for f in lattice.basis]
    dim, subs = lattice.dimension, lattice.sublattices
    representation = FIELD_REPRESENTATIONS[field]
    matrices = None if representation is None else [
        torch.tensor(np.array(m.evalf(), dtype=float)) for m in representation().matrices(group)]
    grid = list(np.ndindex(*cells))
    index = {(c, b): n for n, (c, b) in enumerate((c, b) for c in grid for b in range(subs))}
    actions = []
    for g, element in enumerate(group.elements):
        m = [[int(x) for x in row] for row in lattice.fractional(element).tolist()]
        perm = np.empty(len(index), dtype=np.int64)
        for (c, b), n in index.items():
            f = [ci + bi - oi for ci, bi, oi in zip(c, basis[b], basis[0])]
            image = [basis[0][j] + sum(f[i] * m[i][j] for i in range(dim)) for j in range(dim)]
            for b2, f2 in enumerate(basis):
                shift = [x - y for x, y in zip(image, f2)]
                if all(s.denominator == 1 for s in shift):
                    perm[n] = index[tuple(int(s) % n_ for s, n_ in zip(shift, cells)), b2]
                    break
        actions.append((perm, None if matrices is None else matrices[g]))
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
