"""Observables of phase ordering on a periodic lattice: structure factor, order parameter and
domain size, from the real positions of every site (all sublattices).

    sf = StructureFactor.of(field, lattice)   # field (*cells, sublattice, component)
    sf.partial                 # S_ab(k), sublattice-resolved, on the cluster's k grid
    sf.mode                    # S(k) of the dominant sublattice pattern (its form factor)
    sf.total(G)                # S(k + G) = (1/N) |sum_i dPhi_i exp(-i (k+G).r_i)|^2
    sf.wavevector, sf.amplitude(), sf.domain_size()

With A_{a,c}(k) = sum_R dPhi_{R,a,c} exp(-i k.(R + tau_a)) over the Bravais cells R of
sublattice a (position tau_a in the cell), N sites and n sublattices:

    S_ab(k) = (1/N) sum_c A_{a,c}(k) A_{b,c}(k)^*                      (Hermitian in a, b)
    S(k + G) = sum_ab S_ab(k) exp(-i G.(tau_a - tau_b))                (site positions)
    mode(k) = n * largest eigenvalue of S_ab(k) = max over unit form factors v of
              (n/N) |sum_i dPhi_i v_{a(i)} exp(-i k.r_i)|^2

k runs over the grid m_j / size_j of the reciprocal vectors b_j (b_i.a_j = 2 pi delta_ij), so
order between sublattices inside the cell (the honeycomb A/B charge-density wave, the kagome
q = 0 state) is a peak of mode(k) at k = 0 with the form factor (1, -1) / sqrt 2 (or the three
120-degree spins), while the total S(k) of the same state is zero at k = 0 and its weight sits
at the Bragg points k + G. The ordering wavevector Q is the peak of mode(k); for one
sublattice mode = S and, on the square lattice, a checkerboard has Q = (pi, pi).

The order parameter is the amplitude of the ordered part of the field, the square root of the
Bragg weight at +-Q (summed over sublattices, so over every Bragg point Q + G):

    m^2 = (n / N) sum_{q in {Q, -Q}} tr S_ab(q)      (-Q counted once if it is Q modulo b_j)

It is 1 for every perfect order of unit-length fields (the +-1 checkerboard or A/B CDW, the
120-degree spins of the triangular or kagome lattice, a spiral) and of order sqrt(n/N) for a
random field. `dPhi` is the field minus its mean over all sites (`centre=True`: a uniform
part is no order, e.g. the density fixed by the filling) or the field itself (`centre=False`:
a uniform magnetisation or orbital polarisation is ferro order, at k = 0).

The domain size is the inverse first moment of the structure factor about its peaks +-Q,
L = 2 pi sum_k mode(k) / sum_k |k -+ Q| mode(k), |k -+ Q| the shorter distance to Q or -Q
(a spiral or 120-degree state has both peaks) modulo the reciprocal lattice; `StructureFactor.domain_size` counts the peak itself at the grid
resolution dk (the smallest nonzero |k| of the grid), so that L <= 2 pi / dk, the linear size
of the cluster, reached by a perfectly ordered cluster (a single domain) instead of the infinity
(or the 1e6 of rounding noise) of the bare moment.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from runtime.lattices import Lattice


def _geometry(lattice, cells: tuple[int, ...], sublattices: int):
    """(Cartesian basis tau (n, dim), reciprocal vectors b (rows, dim, dim)) as float64
    tensors; without a lattice: unit vectors and every sublattice at the cell origin."""
    dim = len(cells)
    if lattice is None:
        return (torch.zeros(sublattices, dim, dtype=torch.float64),
                2 * math.pi * torch.eye(dim, dtype=torch.float64))
    lattice = Lattice.of(lattice)
    if lattice.dimension != dim or lattice.sublattices != sublattices:
        raise ValueError(f"a field of {dim} cell axes and {sublattices} sublattices is not on "
                         f"the {lattice.name} lattice ({lattice.dimension} dimensions, "
                         f"{lattice.sublattices} sublattices)")
    vectors = np.asarray(lattice.vectors, dtype=np.float64)
    return (torch.as_tensor(np.asarray(lattice.basis) @ vectors),
            torch.as_tensor(2 * math.pi * np.linalg.inv(vectors).T))


@dataclass(frozen=True)
class StructureFactor:
    """The sublattice-resolved structure factor of one configuration (module docstring)."""

    k: torch.Tensor           # (*cells, dim) Cartesian wavevectors of the cluster grid
    partial: torch.Tensor     # (*cells, n, n) complex S_ab(k)
    basis: torch.Tensor       # (n, dim) Cartesian positions tau_a in the cell
    reciprocal: torch.Tensor  # (dim, dim) rows b_j
    sites: int

    @classmethod
    def of(cls, field: torch.Tensor, lattice=None, *, centre: bool = True) -> StructureFactor:
        """Of a field (*cells, sublattice, component) on `lattice` (a runtime Lattice or a
        preset name; None: a square grid with every sublattice at the cell origin)."""
        field = field.detach().to(torch.float64).cpu()
        cells, n = tuple(field.shape[:-2]), field.shape[-2]
        basis, reciprocal = _geometry(lattice, cells, n)
        dims = tuple(range(len(cells)))
        if centre:
            field = field - field.mean((*dims, -2), keepdim=True)
        fractional = torch.stack(torch.meshgrid(
            *(torch.fft.fftfreq(m, dtype=torch.float64) for m in cells), indexing="ij"), -1)
        k = fractional @ reciprocal
        phase = torch.exp(-1j * (k @ basis.T))  # (*cells, n): exp(-i k.tau_a)
        amplitude = torch.fft.fftn(field, dim=dims) * phase[..., None]
        sites = math.prod(cells) * n
        partial = torch.einsum("...ac,...bc->...ab", amplitude, amplitude.conj()) / sites
        return cls(k, partial, basis, reciprocal, sites)

    @property
    def sublattices(self) -> int:
        return self.basis.shape[0]

    @property
    def trace(self) -> torch.Tensor:
        """sum_a S_aa(k): the structure factor averaged over the Bragg points k + G."""
        return torch.diagonal(self.partial, dim1=-2, dim2=-1).real.sum(-1)

    @property
    def mode(self) -> torch.Tensor:
        """n * largest eigenvalue of S_ab(k): S(k) of the dominant sublattice pattern."""
        if self.sublattices == 1:
            return self.partial[..., 0, 0].real
        return self.sublattices * torch.linalg.eigvalsh(self.partial)[..., -1]

    def total(self, G=None) -> torch.Tensor:
        """S(k + G) from the site positions; G in units of the reciprocal vectors (integers)."""
        if G is None:
            shift = torch.zeros(self.basis.shape[1], dtype=torch.float64)
        else:
            shift = torch.as_tensor(G, dtype=torch.float64) @ self.reciprocal
        phase = torch.exp(-1j * (self.basis @ shift))
        return torch.einsum("...ab,a,b->...", self.partial, phase, phase.conj()).real

    @property
    def index(self) -> tuple[int, ...]:
        """Grid index of the ordering wavevector Q (the peak of `mode`)."""
        return tuple(int(i) for i in np.unravel_index(int(self.mode.argmax()),
                                                      tuple(self.mode.shape)))

    @property
    def wavevector(self) -> torch.Tensor:
        """Q, Cartesian."""
        return self.k[self.index]

    @property
    def form_factor(self) -> torch.Tensor:
        """The sublattice pattern v_a (unit, complex) of the peak: (1, -1)/sqrt 2 for A/B."""
        return torch.linalg.eigh(self.partial[self.index])[1][:, -1]

    @property
    def peak(self) -> float:
        """mode(Q), the height of the peak."""
        return float(self.mode[self.index])

    def amplitude(self) -> float:
        """The order parameter m (module docstring): sqrt of the Bragg weight at +-Q."""
        index = self.index
        cells = self.k.shape[:-1]
        minus = tuple((-i) % n for i, n in zip(index, cells))
        weight = float(self.trace[index]) + (float(self.trace[minus]) if minus != index else 0)
        return math.sqrt(max(0.0, self.sublattices * weight / self.sites))

    @property
    def resolution(self) -> float:
        """The smallest nonzero |k| of the grid (0 for a single cell)."""
        norms = self.k.reshape(-1, self.k.shape[-1]).norm(dim=-1)
        nonzero = norms[norms > 1e-12]
        return float(nonzero.min()) if len(nonzero) else 0.0

    def domain_size(self) -> float:
        """L <= 2 pi / resolution, finite for perfect order (module docstring)."""
        return domain_size(self.mode, self.k, reciprocal=self.reciprocal,
                           resolution=self.resolution)

    def radial_profile(self, bins: int = 40):
        return radial_profile(self.mode, self.k, bins, reciprocal=self.reciprocal)


def structure_factor(field: torch.Tensor, lattice=None, *,
                     centre: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(mode S (*cells), k (*cells, dim)) of one configuration (*cells, sublattice,
    component); `StructureFactor.of` keeps the sublattice-resolved S_ab(k) as well."""
    sf = StructureFactor.of(field, lattice, centre=centre)
    return sf.mode, sf.k


def ordering_wavevector(s: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """The k of the largest S(k)."""
    return k.reshape(-1, k.shape[-1])[int(s.argmax())]


def _distance(k: torch.Tensor, q: torch.Tensor, reciprocal=None) -> torch.Tensor:
    """|k - q| modulo the reciprocal lattice (rows of `reciprocal`; default 2 pi times the
    identity), the shortest image."""
    if reciprocal is None:
        reciprocal = 2 * math.pi * torch.eye(k.shape[-1], dtype=torch.float64)
    fractional = (k - q) @ torch.linalg.inv(reciprocal)
    fractional = fractional - torch.round(fractional)
    images = torch.tensor(list(itertools.product((-1, 0, 1), repeat=k.shape[-1])),
                          dtype=torch.float64)
    shifted = (fractional[..., None, :] + images) @ reciprocal
    return shifted.norm(dim=-1).min(dim=-1).values


def domain_size(s: torch.Tensor, k: torch.Tensor, *, reciprocal=None,
                resolution: float | None = None) -> float:
    """L = 2 pi sum S / sum |k -+ Q| S (module docstring); with `resolution` the peak counts at
    that distance, so L stays at most 2 pi / resolution; without it, inf for a perfectly
    ordered field."""
    q = ordering_wavevector(s, k)
    distance = torch.minimum(_distance(k, q, reciprocal), _distance(k, -q, reciprocal))
    if resolution:
        distance = torch.where(distance < 1e-9, resolution, distance)
    moment = float((distance.reshape(s.shape) * s).sum())
    return 2 * math.pi * float(s.sum()) / moment if moment > 0 else math.inf


def radial_profile(s: torch.Tensor, k: torch.Tensor, bins: int = 40, *, reciprocal=None):
    """(|k - Q| bin centres, mean S in each bin) for plots of S about the peak."""
    distance = _distance(k, ordering_wavevector(s, k), reciprocal).reshape(-1)
    edges = torch.linspace(0, float(distance.max()) + 1e-12, bins + 1, dtype=torch.float64)
    which = torch.bucketize(distance, edges[1:-1])
    total = torch.zeros(bins, dtype=torch.float64).index_add_(0, which, s.reshape(-1))
    count = torch.zeros(bins, dtype=torch.float64).index_add_(
        0, which, torch.ones_like(distance))
    centres = 0.5 * (edges[1:] + edges[:-1])
    keep = count > 0
    return centres[keep], total[keep] / count[keep]
