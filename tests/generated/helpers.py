"""Lattice symmetry operations acting on whole periodic field configurations."""

from functools import lru_cache
from fractions import Fraction

import numpy as np
import torch

from grouptheory import Field, Lattice


@lru_cache(maxsize=None)
def lattice_of(name: str) -> Lattice:
    return Lattice.preset(name)


def site_maps(descriptor, cells):
    """For each site-group element g (about site 0): (index permutation of the flattened
    (cells, sublattice) sites: new[perm[i]] = old[i], field matrix M(g) or None)."""
    lattice = lattice_of(descriptor.lattice)
    group = lattice.site_group()
    basis = [[Fraction(int(x.p), int(x.q)) for x in f] for f in lattice.basis]
    dim, subs = lattice.dimension, lattice.sublattices
    field = {"scalar": None, "jahn_teller": Field.jahn_teller(), "spin": None}[
        descriptor.field]
    mats = None if field is None else [np.array(m.evalf(), dtype=float)
                                       for m in field.matrices(group)]
    grid = list(np.ndindex(*cells))
    index = {(c, b): n for n, (c, b) in enumerate((c, b) for c in grid for b in range(subs))}
    out = []
    for g, element in enumerate(group.elements):
        m = [[int(x) for x in row] for row in lattice.fractional(element).tolist()]
        perm = np.empty(len(index), dtype=np.int64)
        for (c, b), n in index.items():
            f = [ci + bi - oi for ci, bi, oi in zip(c, basis[b], basis[0])]
            image = [basis[0][j] + sum(f[i] * m[i][j] for i in range(dim)) for j in range(dim)]
            for b2, f2 in enumerate(basis):
                shift = [x - y for x, y in zip(image, f2)]
                if all(s.denominator == 1 for s in shift):
                    cell = tuple(int(s) % n_ for s, n_ in zip(shift, cells))
                    perm[n] = index[cell, b2]
                    break
        out.append((perm, None if mats is None else torch.tensor(mats[g])))
    return out


def apply(field, perm, matrix):
    """The configuration g·Φ: (g·Φ)(g r) = M(g) Φ(r), on a (batch, *cells, sub, comp) field."""
    shape = field.shape
    flat = field.reshape(shape[0], -1, shape[-1])
    if matrix is not None:
        flat = flat @ matrix.to(flat.dtype).T
    moved = torch.empty_like(flat)
    moved[:, torch.as_tensor(perm)] = flat
    return moved.reshape(shape)


def permute_sites(values, perm):
    """Per-site values (batch, *cells, sub, F) moved to the image sites."""
    shape = values.shape
    flat = values.reshape(shape[0], -1, shape[-1])
    moved = torch.empty_like(flat)
    moved[:, torch.as_tensor(perm)] = flat
    return moved.reshape(shape)
