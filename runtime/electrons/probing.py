"""Probe vectors for stochastic and deterministic trace estimates of f(H) on a lattice.

A distance-d colouring gives two sites the same colour only if they are more than d hops
apart on the nearest-neighbour bond graph of the periodic cluster. A probe vector of colour k
and orbital a is the sum of the unit vectors |i, a> over the sites i of colour k, so
sum_p <p|X|p> = Tr X + sum of the elements X_{ia, ja} between distinct sites of one colour:
exact for any X whose elements vanish beyond d hops (a polynomial of H of degree <= d).

    colours = distance_colouring(bonds, n_sites, distance=4)     # (n_sites,) int64
    vectors = colour_vectors(colours, orbitals=2)                 # (n_sites * 2, n_colours * 2)
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp

from runtime.lattices import Bonds

_ROWS = 4096  # sites whose d-hop neighbourhoods are formed at once (bounded memory)


def adjacency(bonds: Bonds, n_sites: int) -> sp.csr_matrix:
    """The symmetric 0/1 nearest-neighbour graph of the cluster."""
    ones = np.ones(2 * len(bonds), dtype=np.int8)
    rows = np.concatenate([bonds.source, bonds.target])
    cols = np.concatenate([bonds.target, bonds.source])
    graph = sp.csr_matrix((ones, (rows, cols)), shape=(n_sites, n_sites))
    graph.data[:] = 1
    return graph


def neighbourhoods(graph: sp.csr_matrix, rows: np.ndarray, distance: int) -> sp.csr_matrix:
    """0/1 matrix (len(rows), n_sites): the sites within `distance` hops of each site of
    `rows` (the site itself included)."""
    n = graph.shape[0]
    reach = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (np.arange(len(rows)), rows)),
                          shape=(len(rows), n))
    for _ in range(distance):
        reach = reach + reach @ graph
        reach.data[:] = 1
    return reach.tocsr()


def distance_colouring(bonds: Bonds, n_sites: int, distance: int,
                       size: tuple[int, ...] | None = None) -> np.ndarray:
    """A colouring such that sites of one colour are more than `distance` hops apart: the
    colour of every site, 0 .. n_colours - 1. With the cluster's `size` (cells per lattice
    vector) a translation-invariant linear colouring (k . cell mod m, per sublattice) is tried
    as well, and the one with fewer colours is returned; otherwise greedy first fit."""
    graph = adjacency(bonds, n_sites)
    greedy = _greedy(graph, n_sites, distance)
    if size is not None:
        linear = _linear(graph, n_sites, distance, tuple(size), int(greedy.max()) + 1)
        if linear is not None:
            return linear
    return greedy


def _linear(graph, n_sites, distance, size, limit):
    """colour = sublattice * m + (k . cell mod m) with the smallest m < `limit` for which
    no two distinct sites within `distance` hops share a colour (checked on the balls of one
    site per sublattice: the cluster is translation invariant), or None."""
    n_cells = int(np.prod(size))
    sublattices = n_sites // n_cells
    if sublattices * n_cells != n_sites:
        return None
    cells = np.indices(size).reshape(len(size), -1).T  # C order, like the site index
    cell_of = np.repeat(cells, sublattices, axis=0)
    sub_of = np.tile(np.arange(sublattices), n_cells)
    reach = neighbourhoods(graph, np.arange(sublattices), distance).tocoo()
    same = (sub_of[reach.col] == reach.row) & (reach.col != reach.row)
    delta = cell_of[reach.col[same]]  # cell offsets from cell 0, wrapped into [0, size)
    for m in range(2, limit // sublattices + 1):
        if m * sublattices >= limit:
            break
        steps = [[k for k in range(m) if (n * k) % m == 0] for n in size]  # periodic
        for k in itertools.product(*steps):
            if not any(k):
                continue
            if np.all((delta @ np.array(k)) % m != 0):
                return sub_of * m + (cell_of @ np.array(k)) % m
    return None


def _greedy(graph, n_sites, distance):
    colours = np.full(n_sites, -1, dtype=np.int64)
    taken = np.zeros(n_sites + 1, dtype=bool)
    for start in range(0, n_sites, _ROWS):
        rows = np.arange(start, min(start + _ROWS, n_sites))
        reach = neighbourhoods(graph, rows, distance)
        indptr, indices = reach.indptr, reach.indices
        for k, site in enumerate(rows):
            used = colours[indices[indptr[k]:indptr[k + 1]]]
            used = used[used >= 0]
            taken[used] = True
            colour = int(np.argmin(taken))
            taken[used] = False
            colours[site] = colour
    return colours


def check_colouring(bonds: Bonds, n_sites: int, colours: np.ndarray, distance: int) -> bool:
    """True if no two distinct sites within `distance` hops share a colour."""
    graph = adjacency(bonds, n_sites)
    for start in range(0, n_sites, _ROWS):
        rows = np.arange(start, min(start + _ROWS, n_sites))
        reach = neighbourhoods(graph, rows, distance).tocoo()
        sites = rows[reach.row]
        clash = (reach.col != sites) & (colours[reach.col] == colours[sites])
        if clash.any():
            return False
    return True


def colour_vectors(colours: np.ndarray, orbitals: int, phases: np.ndarray | None = None
                   ) -> np.ndarray:
    """Probe vectors (n_sites * orbitals, n_colours * orbitals): column k * orbitals + a is
    the sum of |i, a> over the sites i of colour k, each weighted by `phases[i, a]` (modulus
    1, e.g. from `random_vectors`; default 1). Random phases leave the exact part
    sum_i X_{ia, ia} unchanged and turn the aliasing of same-colour sites into zero-mean noise,
    so a trace estimate errs by O(sqrt(N)) instead of O(N) small terms."""
    n_sites, n_colours = len(colours), int(colours.max()) + 1
    dtype = np.complex128 if phases is not None and np.iscomplexobj(phases) else np.float64
    vectors = np.zeros((n_sites, orbitals, n_colours, orbitals), dtype=dtype)
    sites = np.arange(n_sites)
    for a in range(orbitals):
        vectors[sites, a, colours, a] = 1.0 if phases is None else phases.reshape(
            n_sites, orbitals)[:, a]
    return vectors.reshape(n_sites * orbitals, n_colours * orbitals)


def random_vectors(n_states: int, count: int, *, seed: int, complex_: bool) -> np.ndarray:
    """`count` random-phase vectors (n_states, count): entries of modulus 1, +-1 for real
    Hamiltonians and exp(i theta) for complex ones, so E[v v^dag] = identity."""
    generator = np.random.default_rng(seed)
    if complex_:
        return np.exp(2j * np.pi * generator.random((n_states, count)))
    return generator.choice(np.array([-1.0, 1.0]), size=(n_states, count))
