"""Observables of phase ordering on a periodic lattice: structure factor and domain size.

    S, k = structure_factor(field)        # S(k) on the cells' reciprocal grid
    L = domain_size(S, k)                 # characteristic length of the ordered domains

S(k) = (1/N) sum_{sublattice, component} |sum_r (Phi_r - <Phi>) exp(-i k.r)|^2 over the Bravais
cells r (a multi-sublattice field is treated as components of its cell). The ordering
wavevector Q is the peak of S; the domain size is the inverse first moment of S about Q,
L = 2 pi sum_k S(k) / sum_k |k - Q| S(k), with k - Q taken into the first Brillouin zone of the
cell grid (for a checkerboard charge-density wave Q = (pi, pi)).
"""

from __future__ import annotations

import math

import torch


def structure_factor(field: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(S (*cells), k (*cells, dim)) of one configuration (*cells, sublattice, component)."""
    cells = field.shape[:-2]
    dims = tuple(range(len(cells)))
    centred = field - field.mean(dims, keepdim=True)
    amplitude = torch.fft.fftn(centred, dim=dims)
    s = amplitude.abs().square().sum((-2, -1)) / math.prod(cells)
    axes = [2 * math.pi * torch.fft.fftfreq(n, dtype=torch.float64) for n in cells]
    k = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)
    return s, k


def ordering_wavevector(s: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """The k of the largest S(k)."""
    return k.reshape(-1, k.shape[-1])[int(s.argmax())]


def _distance(k: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    d = torch.remainder(k - q + math.pi, 2 * math.pi) - math.pi
    return d.norm(dim=-1)


def domain_size(s: torch.Tensor, k: torch.Tensor) -> float:
    """L = 2 pi sum S / sum |k - Q| S (module docstring); inf for a perfectly ordered field."""
    moment = float((_distance(k, ordering_wavevector(s, k)) * s).sum())
    return 2 * math.pi * float(s.sum()) / moment if moment > 0 else math.inf


def radial_profile(s: torch.Tensor, k: torch.Tensor, bins: int = 40):
    """(|k - Q| bin centres, mean S in each bin) for plots of S about the peak."""
    distance = _distance(k, ordering_wavevector(s, k)).reshape(-1)
    edges = torch.linspace(0, float(distance.max()) + 1e-12, bins + 1, dtype=torch.float64)
    which = torch.bucketize(distance, edges[1:-1])
    total = torch.zeros(bins, dtype=torch.float64).index_add_(0, which, s.reshape(-1))
    count = torch.zeros(bins, dtype=torch.float64).index_add_(
        0, which, torch.ones_like(distance))
    centres = 0.5 * (edges[1:] + edges[:-1])
    keep = count > 0
    return centres[keep], total[keep] / count[keep]
