"""Lattice tiles with halos, for temporal blocking of the sparse recursions of `kpm`.

A step of a Chebyshev recursion, x_{n+1} = 2 A x_n - x_{n-1}, changes the value on a site only
through its neighbours under the hopping A. So `depth` steps computed on a tile together with
every site within `depth` hops of it (its halo), with the hoppings that leave that set cut,
give the exact values on the tile: the errors the cut makes start at the halo's rim and move
in by one hop per step. Running `depth` steps per tile keeps the tile's vectors in the cache
for `depth` sparse products, where a product over the whole lattice streams every vector from
memory once per step when the lattice is larger than the cache (docs/performance.md).

The sites are renumbered so that each tile is a contiguous range (`order`); a tile is a block
of `extent` cells along every lattice vector (the cluster's cells split as evenly as that
allows).

    tiling = Tiling(model.size, model.orbitals, hopping, extent=100, depth=8)
    tiling.order                    # tiled position -> site
    for domain in tiling.domains:   # core sites first, then the halo
        domain.states, domain.hopping, domain.core
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch


@dataclass(frozen=True)
class Domain:
    """One tile and its halo, in the tiled numbering: `core` is the tile's range of states
    (contiguous), `states` the domain's states (the core's first, then the halo's) and
    `hopping` the hopping among them (torch CSR, the hoppings that leave the domain cut)."""

    core: slice
    states: torch.Tensor
    hopping: torch.Tensor
    orbitals: int

    @property
    def core_states(self) -> int:
        return self.core.stop - self.core.start

    @property
    def core_sites(self) -> slice:
        return slice(self.core.start // self.orbitals, self.core.stop // self.orbitals)

    @property
    def sites(self) -> torch.Tensor:
        """The domain's sites (tiled numbering), core first."""
        return self.states[::self.orbitals] // self.orbitals


class Tiling:
    """Tiles of `extent` cells per lattice direction with halos of `depth` hops over the
    hopping graph of `hopping` (torch CSR, n_states x n_states, basis (site, orbital), sites in
    C order of the cells of `size`, then sublattice). One tile when `extent` covers the
    cluster: then the numbering is the identity and the domain has no halo (`whole`)."""

    def __init__(self, size: tuple[int, ...], orbitals: int, hopping: torch.Tensor,
                 extent: int, depth: int):
        if extent < 1 or depth < 1:
            raise ValueError(f"extent and depth must be >= 1, got {extent}, {depth}")
        self.depth, self.orbitals = depth, orbitals
        n_states = hopping.shape[0]
        n_cells = math.prod(size)
        n_sites = n_states // orbitals
        tiles_per_axis = [math.ceil(s / extent) for s in size]
        cells = np.indices(size).reshape(len(size), -1)
        blocks = [c * t // s for c, t, s in zip(cells, tiles_per_axis, size)]
        tile_of_cell = np.ravel_multi_index(blocks, tiles_per_axis)
        tile_of_site = np.repeat(tile_of_cell, n_sites // n_cells)
        self.whole = math.prod(tiles_per_axis) == 1
        self.order = torch.as_tensor(np.argsort(tile_of_site, kind="stable"))
        self.state_order = (self.order[:, None] * orbitals + torch.arange(orbitals)).reshape(-1)
        if self.whole:
            self.domains = [Domain(slice(0, n_states), torch.arange(n_states), hopping,
                                   orbitals)]
            return
        csr = sp.csr_matrix((hopping.values().numpy(), hopping.col_indices().numpy(),
                             hopping.crow_indices().numpy()), shape=hopping.shape)
        index = self.state_order.numpy()
        csr = csr[index][:, index].tocsr()
        boundaries = np.searchsorted(tile_of_site[self.order.numpy()],
                                     np.arange(math.prod(tiles_per_axis) + 1))
        graph = _site_graph(csr, orbitals)
        self.domains = [self._domain(csr, graph, int(a), int(b), hopping.dtype)
                        for a, b in itertools.pairwise(boundaries)]

    def _domain(self, csr, graph, first: int, stop: int, dtype: torch.dtype) -> Domain:
        """The domain of the tile of sites first..stop-1: the tile, then its halo."""
        d = self.orbitals
        inside = np.zeros(graph.shape[0], dtype=bool)
        inside[first:stop] = True
        for _ in range(self.depth):
            grown = inside | (graph @ inside)
            if grown.sum() == inside.sum():  # the halo holds the whole (connected) cluster
                break
            inside = grown
        inside[first:stop] = False
        sites = np.concatenate([np.arange(first, stop), np.flatnonzero(inside)])
        states = (sites[:, None] * d + np.arange(d)).reshape(-1)
        local = csr[states][:, states].tocsr()
        local.sort_indices()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
            matrix = torch.sparse_csr_tensor(
                torch.as_tensor(local.indptr, dtype=torch.int64),
                torch.as_tensor(local.indices, dtype=torch.int64),
                torch.as_tensor(local.data).to(dtype), size=local.shape,
                check_invariants=False)
        return Domain(slice(first * d, stop * d), torch.as_tensor(states), matrix, d)

    @property
    def halo_fraction(self) -> float:
        """Extra states the halos add: sum of domain sizes / states - 1."""
        total = sum(len(domain.states) for domain in self.domains)
        return total / self.state_order.numel() - 1.0

    def run(self, carried: list[torch.Tensor], scratch: int, iterations: list[int], step
            ) -> list[torch.Tensor]:
        """Runs a recursion over `iterations` (their labels, in order): `step(domain_index,
        label, vectors)` advances a domain's vectors (the carried ones, then `scratch` work
        vectors) by one iteration, one hop of dependence, and returns them in their new
        roles. `carried` are the full vectors (tiled numbering) before the first iteration;
        returns them after the last. With halos, `depth` iterations run per domain on copies
        of its states (in work vectors of the largest domain's size), whose core rows are
        then written back."""
        if self.whole:
            vectors = list(carried) + [torch.empty_like(carried[0]) for _ in range(scratch)]
            for label in iterations:
                vectors = step(0, label, vectors)
            return vectors[:len(carried)]
        written = [torch.empty_like(x) for x in carried]
        shape = carried[0].shape[1:]
        largest = max(len(d.states) for d in self.domains)
        pool = [torch.empty(largest, *shape, dtype=carried[0].dtype)
                for _ in range(len(carried) + scratch)]
        for start in range(0, len(iterations), self.depth):
            for k, domain in enumerate(self.domains):
                vectors = [x[:len(domain.states)] for x in pool]
                for source, target in zip(carried, vectors):
                    torch.index_select(source, 0, domain.states, out=target)
                for label in iterations[start:start + self.depth]:
                    vectors = step(k, label, vectors)
                for target, source in zip(written, vectors):
                    target[domain.core].copy_(source[:domain.core_states])
            carried, written = written, carried
        return carried


def _site_graph(csr: sp.csr_matrix, orbitals: int) -> sp.csr_matrix:
    """The sites joined by a hopping (any orbital pair), as a boolean CSR matrix."""
    coo = csr.tocoo()
    n = csr.shape[0] // orbitals
    ones = np.ones(coo.nnz, dtype=bool)
    return sp.csr_matrix((ones, (coo.row // orbitals, coo.col // orbitals)), shape=(n, n))
